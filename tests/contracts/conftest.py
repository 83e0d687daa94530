"""One recorded session of the real product against a sandbox of its own: a full load of every HTTP source
(ingestion.pipeline; HubSpot reads its lists), an incremental HubSpot run (its search) and one CRM push
(activation), every exchange captured at the client (recorder.py). The contract tests validate what was recorded
against the vendors' official SDK models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from activation import SyncConfig, run_sync
from ingestion.pipeline import run_source
from sandbox.connect import environment
from sandbox.server.app import running_server
from tests.activation.activation_support import accounts_for, sandbox_companies, write_marts
from tests.contracts.recorder import Exchange, recording
from tests.support import CLIENT_THROTTLES, UNTHROTTLED_FAULTS, copy_sandbox

HTTP_SOURCES = ("hubspot", "stripe", "surveys")


@pytest.fixture(scope="session")
def recorded(pristine_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Exchange]]:
    """Every exchange of a full load of the HTTP sources, an incremental HubSpot load and a first CRM push against a
    fresh tiny sandbox (a copy of the session's pristine one)."""
    work = tmp_path_factory.mktemp("contracts")
    sandbox = copy_sandbox(pristine_sandbox, work / "sandbox")
    with running_server(sandbox, faults=UNTHROTTLED_FAULTS) as url, pytest.MonkeyPatch.context() as patch:
        env = environment(sandbox, url)
        for key, value in env.items():
            patch.setenv(key, value)
        for key in CLIENT_THROTTLES:
            patch.setenv(key, "0")
        patch.setenv("CSOPS_WAREHOUSE", str(work / "warehouse.duckdb"))
        patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(work / "dlt_pipelines"))
        marts = write_marts(work / "serving.duckdb", accounts_for(sandbox_companies(sandbox)[:60]))
        config = SyncConfig.from_env({**env, "CSOPS_DBT_TARGET_DIR": str(work / "no-dbt")}).with_(
            max_tasks_per_csm=None, spread_reviews=False, ambiguous_write_pause_seconds=0
        )
        with recording(url) as exchanges:
            for name in HTTP_SOURCES:
                report = run_source(name, work / "warehouse.duckdb")
                assert report.loaded > 0, report
            run_source("hubspot", work / "warehouse.duckdb")  # incremental: the search endpoint
            sync = run_sync(marts, config=config, log=lambda _line: None)
            assert sync.ok, sync.summary_lines()
        yield exchanges
