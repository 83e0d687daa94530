"""The incremental models give the same answer as a full rebuild: after days pass (with late events arriving for
days already processed), a nightly incremental build equals rebuilding everything from scratch. The first night is
the session's complete run of the graph (`pipeline_run`), copied."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.pipeline import ingest
from sandbox.generator.world import advance
from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from tests.support import UNTHROTTLED_FAULTS, copy_pipeline_run, dbt, point_at_sandbox

pytestmark = pytest.mark.slow
INCREMENTAL_TABLES = ("intermediate.int_usage__account_daily", "intermediate.int_usage__feature_days")


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


def test_a_nightly_incremental_build_equals_a_full_rebuild(
    pipeline_run: dict, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first night: the session's complete run of the graph (every load, then dbt build), copied with the
    # warehouse, dlt's state and the sandbox into this test's dirs.
    night = copy_pipeline_run(pipeline_run, tmp_path)
    assert pipeline_run["outcome"].success and night["warehouse"] == warehouse
    sandbox = night["sandbox"]
    first_day = Manifest.read(sandbox).today
    advance(sandbox, 5)
    with running_server(sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, sandbox, url, throttled=False)  # the as-of date moved on
        ingest(warehouse=warehouse)
    incremental = dbt(["build"], tmp_path / "incremental")
    assert incremental.returncode == 0, incremental.stdout[-3000:]

    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copyfile(warehouse, rebuilt)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(rebuilt))
    full = dbt(["build", "--full-refresh"], tmp_path / "full")
    assert full.returncode == 0, full.stdout[-3000:]

    for table in INCREMENTAL_TABLES:
        columns = "account_id, activity_date, events" + (", event_name" if "feature" in table else "")
        assert rows(warehouse, f"select {columns} from {table}") == rows(rebuilt, f"select {columns} from {table}")
    new_days = f"health_date >= date '{first_day.isoformat()}'"  # earlier days stay as they were scored
    health = (
        "select account_id, health_date, health_score, health_status, health_change_30d, top_driver_1 "
        f"from marts.customer_health_daily where {new_days}"
    )
    nightly = rows(warehouse, health)
    assert nightly and nightly == rows(rebuilt, health)
    assert max(row[1] for row in nightly) == first_day + timedelta(days=4)  # scored up to the new yesterday
