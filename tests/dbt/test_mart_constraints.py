"""The marts' contract constraints (DECISIONLOG "Constraints instead of tests on the marts"): the database refuses a
row where a contracted mart declares a column not null, a key (primary key, unique) or a check, so the marts carry
no test that says the same (one dbt node and one Dagster check fewer each, every night). A model that would write a
breaking row fails naming the constraint, and the table BI reads keeps last night's rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.support import Company, dbt


def is_not_null(column: dict) -> bool:
    return any(constraint["type"] == "not_null" for constraint in column["constraints"])


def constrained_columns(manifest: dict) -> dict[str, set[str]]:
    """Model name -> the columns its contract declares not null (models declaring none left out)."""
    declared = {
        node["name"]: {name for name, column in node["columns"].items() if is_not_null(column)}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["contract"]["enforced"]
    }
    return {model: columns for model, columns in declared.items() if columns}


# The marts' columns the database itself holds not null (information_schema: DuckDB and Postgres alike).
NOT_NULL_MART_COLUMNS = (
    "select table_name, column_name from information_schema.columns where table_schema = 'marts' and is_nullable = 'NO'"
)


def by_table(rows: list[tuple]) -> dict[str, set[str]]:
    """(table, column) rows -> table -> columns."""
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables


@pytest.fixture(scope="module")
def manifest(small_company: Company) -> dict:
    return json.loads((small_company.warehouse.parent / "target" / "manifest.json").read_text())


def test_the_marts_columns_declared_not_null_are_not_null_in_the_warehouse(
    small_company: Company, manifest: dict
) -> None:
    declared = constrained_columns(manifest)
    assert len(declared) >= 15, declared  # the BI-facing marts, customer_360 and at_risk_accounts among them
    assert {"account_id"} <= declared["customer_360"]
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        enforced = by_table(con.execute(NOT_NULL_MART_COLUMNS).fetchall())
    assert {model: enforced.get(model, set()) for model in declared} == declared


def declared_constraints(manifest: dict) -> dict[str, dict[str, list]]:
    """Model name -> constraint type -> what each says: key columns (primary_key, unique) or check expressions,
    column-level and model-level alike, for the contracted models."""
    declared: dict[str, dict[str, list]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not node["config"]["contract"]["enforced"]:
            continue
        found: dict[str, list] = {}
        for name, column in node["columns"].items():
            for constraint in column["constraints"]:
                said = [name] if constraint["type"] in ("primary_key", "unique") else constraint.get("expression")
                found.setdefault(constraint["type"], []).append(said)
        for constraint in node["constraints"]:
            said = (
                constraint["columns"] if constraint["type"] in ("primary_key", "unique") else constraint["expression"]
            )
            found.setdefault(constraint["type"], []).append(said)
        declared[node["name"]] = found
    return declared


def constraint_counts(declared: dict[str, dict[str, list]]) -> dict[str, dict[str, int]]:
    """Model -> primary_key / unique / check -> how many (the models declaring none left out)."""
    counts = {
        model: {kind: len(found[kind]) for kind in ("primary_key", "unique", "check") if found.get(kind)}
        for model, found in declared.items()
    }
    return {model: kinds for model, kinds in counts.items() if kinds}


def test_the_marts_keys_and_checks_are_constraints_in_the_warehouse(small_company: Company, manifest: dict) -> None:
    declared = declared_constraints(manifest)
    assert declared["customer_360"]["primary_key"] == [["account_id"]]
    assert declared["mrr_movements"]["primary_key"] == [["account_id", "month"]]
    assert "arr_at_stake_usd >= 0" in declared["at_risk_accounts"]["check"]
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name, constraint_type, constraint_column_names from duckdb_constraints() "
            "where schema_name = 'marts' and constraint_type in ('PRIMARY KEY', 'UNIQUE', 'CHECK')"
        ).fetchall()
    in_warehouse: dict[str, dict[str, list]] = {}
    for table, kind, columns in rows:
        in_warehouse.setdefault(table, {}).setdefault(kind.lower().replace(" ", "_"), []).append(sorted(columns))
    for model, constraints in declared.items():
        keys = {
            kind: sorted(sorted(columns) for columns in constraints.get(kind, [])) for kind in ("primary_key", "unique")
        }
        enforced = in_warehouse.get(model, {})
        assert {kind: sorted(enforced.get(kind, [])) for kind in keys} == keys, model
        assert len(enforced.get("check", [])) == len(constraints.get("check", [])), model
    assert sum(len(c.get("check", [])) for c in declared.values()) >= 25  # accepted values and invariants


# Tests a contract constraint says the same as, where the model is a table (rebuilt whole each night).
CONSTRAINT_TESTS = {"not_null", "unique", "unique_combination", "accepted_values", "expression_is_true"}


def test_no_test_on_a_contracted_table_mart_says_what_a_constraint_can(manifest: dict) -> None:
    """Incremental marts keep their windowed tests (dbt adds no constraint to a table that exists), and a test that
    only warns, or filters its rows, stays a test: no constraint can say that."""
    tables = {
        node["unique_id"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"]["contract"]["enforced"]
        and node["config"]["materialized"] == "table"
    }
    assert len(tables) >= 15
    could_be_constraints = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") in tables
        and (node.get("test_metadata") or {}).get("name") in CONSTRAINT_TESTS
        and node["config"]["severity"].lower() == "error"
        and not node["config"].get("where")
    ]
    assert could_be_constraints == []


def test_no_not_null_test_repeats_a_constraint(manifest: dict) -> None:
    """A constraint and a test on the same column would cost the test's node every night for nothing."""
    declared = constrained_columns(manifest)
    repeated = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") == "not_null"
        and node["column_name"] in declared.get((node.get("attached_node") or "").split(".")[-1], set())
    ]
    assert repeated == []


# Rows that break customer_360's contract, written into the model it reads, and what the failure must name.
BREAKING_ROWS = {
    "null key": (
        "insert into intermediate.int_accounts (account_id) values (null)",
        ["NOT NULL constraint failed", "account_id"],
    ),
    "repeated key": (
        "insert into intermediate.int_accounts select * from intermediate.int_accounts order by account_id limit 1",
        ["PRIMARY KEY or UNIQUE constraint violation: duplicate key"],
    ),
    "value outside the accepted ones": (
        "update intermediate.int_accounts set segment = 'galactic' "
        "where account_id = (select min(account_id) from intermediate.int_accounts)",
        ["CHECK constraint failed", "segment"],
    ),
}


@pytest.mark.parametrize("breaking", sorted(BREAKING_ROWS))
def test_a_row_breaking_a_constraint_fails_the_model_and_keeps_last_nights_table(
    breaking: str, small_company: Company, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statement, named = BREAKING_ROWS[breaking]
    warehouse = shutil.copyfile(small_company.warehouse, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        before = sorted(con.execute("select * from marts.customer_360").fetchall())
        con.execute(statement)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(warehouse))

    result = dbt(["run", "--select", "customer_360"], tmp_path)

    assert result.returncode == 1, result.stdout[-3000:]
    assert "customer_360" in result.stdout
    for words in named:
        assert words in result.stdout, result.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert sorted(con.execute("select * from marts.customer_360").fetchall()) == before
        leftovers = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name like 'customer_360_%'"
        ).fetchall()
    assert leftovers == []
