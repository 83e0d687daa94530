"""The marts' not_null constraints (DECISIONLOG "Constraints instead of not_null tests"): the database refuses a null
where a contracted mart declares a column not null, so those columns carry no not_null test (one dbt node and one
Dagster check fewer each, every night). A model that would write a null fails naming the column, and the table BI
reads keeps last night's rows."""

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


def test_a_null_in_a_constrained_column_fails_the_model_and_keeps_last_nights_table(
    small_company: Company, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = shutil.copyfile(small_company.warehouse, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        before = sorted(con.execute("select * from marts.customer_360").fetchall())
        con.execute("insert into intermediate.int_accounts (account_id) values (null)")  # an account without its key
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(warehouse))

    result = dbt(["run", "--select", "customer_360"], tmp_path)

    assert result.returncode == 1, result.stdout[-3000:]
    assert "NOT NULL constraint failed" in result.stdout and "customer_360" in result.stdout
    assert "account_id" in result.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert sorted(con.execute("select * from marts.customer_360").fetchall()) == before
        leftovers = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name like 'customer_360_%'"
        ).fetchall()
    assert leftovers == []
