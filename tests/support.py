"""Helpers the tests share (conftest files define only fixtures and hooks): the session sandbox's seed and today,
pointing the product at a sandbox, running dbt as a user would, and skipping (or, in CI, failing) when a service is
missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sandbox.connect import environment
from sandbox.manifest import Manifest

SANDBOX_TODAY = date(2026, 11, 1)
SANDBOX_SEED = 42
IN_CI = os.environ.get("CI", "").lower() == "true"

# The vendors' standing rate limits (server side) and our client-side throttles, switched off where a test is
# about something else and would only wait on them; the session sandbox and the end-to-end run keep them on.
UNTHROTTLED_FAULTS = ["hubspot:window:off", "hubspot:search_window:off", "typeform:window:off"]
CLIENT_THROTTLES = (
    "SOURCES__HUBSPOT__SEARCH_REQUESTS_PER_SECOND",
    "SOURCES__HUBSPOT__REQUESTS_PER_SECOND",
    "SOURCES__SURVEYS__TYPEFORM_REQUESTS_PER_SECOND",
)
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


def point_at_sandbox(patch: pytest.MonkeyPatch, sandbox: Path, base_url: str, throttled: bool = True) -> None:
    """Set the environment the product reads so every source and the CRM push use this sandbox."""
    for key, value in environment(sandbox, base_url).items():
        patch.setenv(key, value)
    if not throttled:
        for key in CLIENT_THROTTLES:
            patch.setenv(key, "0")


def dbt(args: list[str], work: Path) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project, as a separate process, with its artifacts under `work`."""
    env = {**os.environ, "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs")}
    executable = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(executable), *args, "--profiles-dir", "."],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_sandbox(source: Path, destination: Path) -> Path:
    """A generated sandbox copied to `destination` (files, times kept), for a test or fixture that serves it, writes
    to its CRM or advances it: what `generate` with the same arguments would have written, without its cost."""
    shutil.copytree(source, destination)
    return destination


def require_service(available: bool, what: str) -> None:
    """Skip with a visible reason when a service is missing — except in CI, where a missing service fails."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is not available")
    pytest.skip(f"{what} is not available on this machine")


def postgres_available() -> bool:
    return (
        shutil.which("pg_isready") is not None
        and subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode == 0
    )


# Set by tests/e2e/conftest.py's report hook: how each phase of a test ended.
PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def has_failed(node: pytest.Item) -> bool:
    """True when the test's setup or body failed (call this from a fixture's teardown)."""
    reports = node.stash.get(PHASE_REPORTS, {})
    return any(report.failed for report in reports.values())


@dataclass(frozen=True)
class Company:
    """A generated sandbox and the warehouse built from it."""

    sandbox: Path
    warehouse: Path
    today: date

    @property
    def truth(self) -> Path:
        return self.sandbox / "truth"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TYPEFORM_CLIENT = Path(__file__).resolve().parent / "sandbox" / "typeform_client"


def install_typeform_client(work: Path) -> Path:
    """Typeform's official JS client (@typeform/api-client, the version the committed npm lock pins) installed with
    `npm ci` into `work`, next to our script that drives it; skipped when node/npm are missing, except under CI."""
    if not (shutil.which("node") and shutil.which("npm")):
        require_service(False, "node and npm (Typeform's official JS client)")
    for name in ("package.json", "package-lock.json", "list_responses.cjs"):
        shutil.copy2(TYPEFORM_CLIENT / name, work / name)
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return work


STRIPE_EVENT_DAYS = 30  # Stripe keeps events 30 days


def stripe_deleted_unseen(sandbox: Path, table: str) -> int:
    """Rows of a Stripe world table that Stripe no longer serves anywhere, so no load can hold them: coupons deleted
    (gone from the API), customers deleted longer ago than the events Stripe keeps (not listed, no event left)."""
    if table not in ("stripe_customers", "stripe_coupons"):
        return 0
    deleted_at = pq.read_table(sandbox / "world" / f"{table}.parquet", columns=["deleted_at"]).column("deleted_at")
    today = Manifest.read(sandbox).today
    since = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=STRIPE_EVENT_DAYS)
    limit = since.timestamp() if table == "stripe_customers" else float("inf")
    return sum(1 for at in deleted_at.to_pylist() if at is not None and at < limit)
