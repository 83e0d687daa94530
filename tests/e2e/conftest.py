"""What the end-to-end tests share: one complete run of the graph on a tiny sandbox (the pipeline tests check it, the
dashboard test reads its serving copy), Debian's chromium driven by Playwright, and a hook that lets fixtures know
how the test they serve ended (the browser fixtures take a screenshot when it failed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from sandbox.connect import environment
from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from tests.support import PHASE_REPORTS, copy_sandbox, require_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def pipeline_run(pristine_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One fresh sandbox, one server, one complete run (once per session); the tests read what it produced.

    The environment pointing the product at this sandbox is set for the run only, so later tests never inherit it;
    the server keeps serving until the session ends (tests read the CRM's writes through it)."""
    root = tmp_path_factory.mktemp("e2e")
    sandbox_dir = copy_sandbox(pristine_sandbox, root / "sandbox")
    warehouse = root / "warehouse.duckdb"
    with running_server(sandbox_dir) as base_url:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CSOPS_WAREHOUSE", str(warehouse))
            patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(root / "dlt"))
            patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
            patch.delenv("CSOPS_SERVING_WAREHOUSE", raising=False)
            for key, value in environment(sandbox_dir, base_url).items():
                patch.setenv(key, value)
            from orchestration.run import instance_for, run_graph

            instance = instance_for(root / "dagster_home")
            outcome = run_graph(instance=instance)
        yield {
            "outcome": outcome,
            "instance": instance,
            "warehouse": warehouse,
            "serving": warehouse.with_name("serving.duckdb"),
            "sandbox": sandbox_dir,
            "url": base_url,
            "manifest": Manifest.read(sandbox_dir),
        }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium (no browser download), headless; skipped with the reason when missing, failed in CI."""
    require_service(shutil.which("chromium") is not None or CHROMIUM.exists(), "Chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
