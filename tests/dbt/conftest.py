"""The small simulated company (1,000 accounts, two years of history), loaded and fully modelled once per test
session: the suites that check the models' figures against the simulator's truth share it (about 2 minutes)."""

from __future__ import annotations

from datetime import date

import pytest

from ingestion.pipeline import ingest
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server
from tests.support import UNTHROTTLED_FAULTS, Company, dbt, point_at_sandbox

SMALL_TODAY = date(2026, 11, 1)


@pytest.fixture(scope="session")
def small_company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    root = tmp_path_factory.mktemp("small_company")
    sandbox = root / "sandbox"
    generate(sandbox, 42, resolve_scale("small"), SMALL_TODAY)
    warehouse = root / "warehouse.duckdb"
    patch = pytest.MonkeyPatch()
    patch.setenv("CSOPS_WAREHOUSE", str(warehouse))
    patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(root / "dlt"))
    try:
        with running_server(sandbox, faults=UNTHROTTLED_FAULTS) as url:
            point_at_sandbox(patch, sandbox, url, throttled=False)  # these tests are about the models
            ingest(warehouse=warehouse)
        result = dbt(["build"], root)
        assert result.returncode == 0, result.stdout[-3000:]
    finally:
        patch.undo()
    return Company(sandbox, warehouse, SMALL_TODAY)
