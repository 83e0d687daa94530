"""The same project on Postgres: dlt loads the sandbox into a Postgres database and `dbt build` (models, seeds,
data tests, unit tests, contracts) runs green there, with the same MRR as the simulation's truth, and the marts'
not_null constraints are the database's own there too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from ingestion.pipeline import ingest
from tests.dbt.test_mart_constraints import NOT_NULL_MART_COLUMNS, by_table, constrained_columns
from tests.support import dbt, postgres_available, require_service

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


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
    declared = constrained_columns(json.loads((tmp_path / "target" / "manifest.json").read_text()))
    assert any(declared.values())
    assert {model: not_null.get(model, set()) for model in declared} == declared
    assert built.keys() == truth.keys()
    assert all(abs(built[k][0] - truth[k][0]) < 0.005 and built[k][1] == truth[k][1] for k in truth)
