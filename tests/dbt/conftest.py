"""The small simulated company (1,000 accounts, two years of history), loaded and fully modelled once per test
session: the suites that check the models' figures against the simulator's truth share it (about 2 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.pipeline import ingest
from sandbox.server.app import running_server
from tests.support import SANDBOX_TODAY, UNTHROTTLED_FAULTS, Company, copy_sandbox, dbt, point_at_sandbox

SMALL_TODAY = SANDBOX_TODAY  # the small company is the session's pristine one (tests/conftest.py)


@pytest.fixture(scope="session")
def small_company(pristine_small_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Company:
    root = tmp_path_factory.mktemp("small_company")
    sandbox = copy_sandbox(pristine_small_sandbox, root / "sandbox")
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
