"""One warehouse, one environment: a warehouse loaded from one company refuses, before loading anything, to load
another company's data into it; the same company served elsewhere still loads; `csops status` says what each
source reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from csops.report import status_lines
from ingestion.env_file import SANDBOX_MARKER, load_env_file
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


REAL_LOOKING_ENV = """\
SOURCES__HUBSPOT__BASE_URL=https://api.hubapi.com
SOURCES__HUBSPOT__HUBSPOT__BASE_URL=https://api.hubapi.com
SOURCES__HUBSPOT__ACCESS_TOKEN=pat-na1-00000000-real-looking
CSOPS_HUBSPOT__SOURCES__HUBSPOT__ACCESS_TOKEN=pat-na1-00000000-real-looking
SOURCES__SURVEYS__TYPEFORM_BASE_URL=https://api.typeform.com
"""


def test_a_sandbox_run_reads_the_sandbox_whatever_dotenv_says(fresh_sandbox: Path, tmp_path: Path) -> None:
    """`.env` holds production endpoints, some in dlt's more specific spellings; `csops run --sandbox` (and the
    Dagster code server it starts, which reads .env again) must still read only the sandbox."""
    work = tmp_path / "project"
    work.mkdir()
    (work / ".env").write_text(REAL_LOOKING_ENV)
    env = {k: v for k, v in os.environ.items() if not (k.startswith(("SOURCES__", "ACTIVATION__", "CSOPS_")))} | {
        "CSOPS_WAREHOUSE": str(work / "warehouse.duckdb"),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "RUNTIME__REQUEST_MAX_ATTEMPTS": "1",
    }
    csops = Path(sys.executable).with_name("csops")
    done = subprocess.run(
        [str(csops), "run", "--sandbox", str(fresh_sandbox), "--select", "dlt/hubspot/*"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    status = subprocess.run(
        [str(csops), "status"], cwd=work, env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    portal = Manifest.read(fresh_sandbox).hubspot_portal_id
    assert re.search(rf"hubspot reads http://127\.0\.0\.1:\d+/hubspot \(HubSpot portal {portal}\)", status), status
    assert "hubapi.com" not in status


def test_on_the_sandbox_dotenv_never_supplies_a_source_endpoint_or_key(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(REAL_LOOKING_ENV + "CSOPS_TIMEZONE=Europe/Paris\n")
    production: dict[str, str] = {}
    load_env_file(dotenv, production)
    assert production["SOURCES__HUBSPOT__HUBSPOT__BASE_URL"] == "https://api.hubapi.com"
    sandbox = {SANDBOX_MARKER: str(tmp_path)}
    load_env_file(dotenv, sandbox)
    assert sandbox == {SANDBOX_MARKER: str(tmp_path), "CSOPS_TIMEZONE": "Europe/Paris"}
