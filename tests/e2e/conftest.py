"""Lets fixtures know how the test they serve ended (the browser fixture takes a screenshot when it failed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def has_failed(node: pytest.Item) -> bool:
    """True when the test's setup or body failed (call this from a fixture's teardown)."""
    reports = node.stash.get(PHASE_REPORTS, {})
    return any(report.failed for report in reports.values())
