"""The same project on Postgres: dlt loads the sandbox into a Postgres database and `dbt build` (models, seeds,
data tests, unit tests, contracts) runs green there, with the same MRR as the simulation's truth, and the marts'
contract constraints (not null, keys, checks) are the database's own there too, night after night."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from ingestion.pipeline import ingest
from tests.dbt.test_mart_constraints import (
    NOT_NULL_MART_COLUMNS,
    by_table,
    constrained_columns,
    constraint_counts,
    declared_constraints,
)
from tests.support import dbt, postgres_available, require_service

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Primary keys, unique keys and checks of the marts' tables (not-null constraints are columns' own).
PG_KEYS_AND_CHECKS = """
    select tables.relname,
        case constraints.contype when 'p' then 'primary_key' when 'u' then 'unique' else 'check' end,
        count(*)
    from pg_constraint as constraints
    inner join pg_class as tables on constraints.conrelid = tables.oid
    inner join pg_namespace as schemas on tables.relnamespace = schemas.oid
    where schemas.nspname = 'marts' and constraints.contype in ('p', 'u', 'c')
    group by 1, 2
"""


@pytest.fixture()
def postgres_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of this test's own on the local server, dropped afterwards."""
    require_service(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"csops_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    for key, value in {
        "CSOPS_TARGET": "postgres",
        "CSOPS_PG_HOST": "127.0.0.1",
        "CSOPS_PG_PORT": "5432",
        "CSOPS_PG_USER": "postgres",
        "CSOPS_PG_DATABASE": name,
        "CSOPS_PG_SCHEMA": "csops",
    }.items():
        monkeypatch.setenv(key, value)
    try:
        yield name
    finally:
        admin.cursor().execute(f"drop database if exists {name} with (force)")
        admin.close()


def test_dbt_build_is_green_on_postgres_with_the_true_mrr(
    postgres_database: str, warehouse: Path, sandbox_env, sandbox_dir: Path, tmp_path: Path
) -> None:
    reports = ingest(warehouse=warehouse)
    assert {r.source for r in reports} == {"hubspot", "stripe", "usage", "surveys"}
    result = dbt(["build", "--target", "postgres"], tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "ERROR=0" in result.stdout and "PASS=" in result.stdout

    truth = {}
    import pyarrow.parquet as pq

    for row in pq.read_table(sandbox_dir / "truth" / "mrr_monthly.parquet").to_pylist():
        truth[(row["account_id"], row["month"])] = (row["mrr_usd"], row["movement_type"])
    with psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=postgres_database) as con:
        cursor = con.cursor()
        cursor.execute("select account_id, month, ending_mrr_usd, movement_type from marts.mrr_movements")
        built = {(a, m): (mrr, kind) for a, m, mrr, kind in cursor.fetchall()}
        cursor.execute(NOT_NULL_MART_COLUMNS)
        not_null = by_table(cursor.fetchall())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    declared = constrained_columns(manifest)
    assert any(declared.values())
    assert {model: not_null.get(model, set()) for model in declared} == declared

    # The next night rebuilds the marts beside last night's tables: the keys' index names must not collide.
    again = dbt(["run", "--target", "postgres", "--select", "marts"], tmp_path)
    assert again.returncode == 0, again.stdout[-4000:]
    with psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=postgres_database) as con:
        cursor = con.cursor()
        cursor.execute(PG_KEYS_AND_CHECKS)
        enforced: dict[str, dict[str, int]] = {}
        for table, kind, count in cursor.fetchall():
            enforced.setdefault(table, {})[kind] = count
    expected = constraint_counts(declared_constraints(manifest))
    assert expected["customer_360"]["primary_key"] == 1
    assert {model: enforced.get(model, {}) for model in expected} == expected
    assert built.keys() == truth.keys()
    assert all(abs(built[k][0] - truth[k][0]) < 0.005 and built[k][1] == truth[k][1] for k in truth)
