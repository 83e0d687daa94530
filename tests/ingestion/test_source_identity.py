"""One warehouse, one environment: a warehouse loaded from one company refuses, before loading anything, to load
another company's data into it; the same company served elsewhere still loads; `csops status` says what each
source reads."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from csops.report import status_lines
from ingestion.identity import SourceIdentityError, check_identity
from ingestion.pipeline import ingest, make_pipeline, run_source, target
from ingestion.registry import SOURCE_NAMES
from sandbox.generator.world import generate
from sandbox.manifest import Manifest, resolve_scale
from sandbox.server.app import running_server
from tests.support import SANDBOX_SEED, SANDBOX_TODAY, UNTHROTTLED_FAULTS, point_at_sandbox


def raw_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema like 'raw\\_%' "
            "escape '\\' order by 1, 2"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from {s}."{t}"').fetchone()[0] for s, t in tables}


def test_a_warehouse_loaded_from_one_company_refuses_another_and_keeps_its_rows(
    fresh_sandbox: Path, tmp_path: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other_company"
    generate(other, SANDBOX_SEED + 1, resolve_scale("tiny"), SANDBOX_TODAY)
    first, second = Manifest.read(fresh_sandbox), Manifest.read(other)
    assert first.hubspot_portal_id != second.hubspot_portal_id
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)
        ingest(warehouse=warehouse)
    before = raw_counts(warehouse)
    assert before["raw_hubspot.companies"] > 0

    with running_server(other, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, other, url, throttled=False)
        with pytest.raises(SourceIdentityError) as refused:
            ingest(warehouse=warehouse)
        message = str(refused.value)
        assert message.startswith("hubspot:")
        assert f"HubSpot portal {first.hubspot_portal_id}" in message
        assert f"HubSpot portal {second.hubspot_portal_id}" in message
        assert f"CSOPS_WAREHOUSE={warehouse.with_name('other.duckdb')} csops run" in message
        # Every source checks on its own (a run of one source, or Dagster materializing one asset).
        for name in SOURCE_NAMES:
            with pytest.raises(SourceIdentityError, match=f"^{name}: "):
                run_source(name, warehouse)
    assert raw_counts(warehouse) == before


def test_the_same_company_on_another_address_still_loads_and_status_shows_the_endpoints(
    fresh_sandbox: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = Manifest.read(fresh_sandbox)
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)
        run_source("hubspot", warehouse)
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as moved:  # a restart takes a new port
        point_at_sandbox(monkeypatch, fresh_sandbox, moved, throttled=False)
        run_source("hubspot", warehouse)
        started = time.perf_counter()
        check_identity("hubspot", make_pipeline("hubspot", warehouse), warehouse, target())
        print(f"identity check (HubSpot, one request + one warehouse round trip): {time.perf_counter() - started:.3f}s")
    assert url != moved
    lines = "\n".join(status_lines(warehouse))
    assert f"hubspot reads {moved}/hubspot (HubSpot portal {manifest.hubspot_portal_id})" in lines
