"""Lets fixtures know how the test they serve ended (the browser fixture takes a screenshot when it failed; see
tests.support.has_failed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import PHASE_REPORTS


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report
