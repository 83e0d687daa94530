"""What the end-to-end tests share: Debian's chromium driven by Playwright, and a hook that lets fixtures know how the
test they serve ended (the browser fixtures take a screenshot when it failed). The complete run of the graph the
pipeline tests check and the dashboard test reads (`pipeline_run`) is in tests/conftest.py: other folders share it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support import PHASE_REPORTS, require_service

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
