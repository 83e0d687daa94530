"""The incremental models give the same answer as a full rebuild: after days pass (with late events arriving for
days already processed), a nightly incremental build equals rebuilding everything from scratch."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from ingestion.pipeline import ingest
from sandbox.generator.world import advance
from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from tests.support import UNTHROTTLED_FAULTS, dbt, point_at_sandbox

pytestmark = pytest.mark.slow
INCREMENTAL_TABLES = ("intermediate.int_usage__account_daily", "intermediate.int_usage__feature_days")


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


def test_a_nightly_incremental_build_equals_a_full_rebuild(
    fresh_sandbox: Path, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)
        ingest(warehouse=warehouse)
        assert dbt(["build"], tmp_path / "first").returncode == 0
        first_day = Manifest.read(fresh_sandbox).today
        advance(fresh_sandbox, 5)
        requests.post(f"{url}/_admin/reload", timeout=30).raise_for_status()
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)  # the as-of date moved on
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
    copies = "select occurred_on, message_id, copies, received_at, load_id from staging.stg_usage__first_copies"
    found = rows(warehouse, copies)
    assert any(row[1] for row in found) and found == rows(rebuilt, copies)  # the copies, found night by night
    new_days = f"health_date >= date '{first_day.isoformat()}'"  # earlier days stay as they were scored
    health = (
        "select account_id, health_date, health_score, health_status, health_change_30d, top_driver_1 "
        f"from marts.customer_health_daily where {new_days}"
    )
    nightly = rows(warehouse, health)
    assert nightly and nightly == rows(rebuilt, health)
    assert max(row[1] for row in nightly) == first_day + timedelta(days=4)  # scored up to the new yesterday
