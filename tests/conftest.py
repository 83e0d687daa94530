"""Shared fixtures: real things only — a generated sandbox company, its HTTP server on a free loopback port, a
temporary warehouse, the environment the product reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sandbox.connect import environment
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server

SANDBOX_TODAY = date(2026, 11, 1)
SANDBOX_SEED = 42
IN_CI = os.environ.get("CI", "").lower() == "true"

# Keep tools quiet and offline, whatever the developer's shell has.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Retries in tests: quick backoff, so fault-injection tests stay fast but still exercise the retry path.
os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")
os.environ.setdefault("RUNTIME__REQUEST_MAX_RETRY_DELAY", "2")


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


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated company, generated once per test session (about 2 s)."""
    directory = tmp_path_factory.mktemp("sandbox")
    generate(directory, SANDBOX_SEED, resolve_scale("tiny"), SANDBOX_TODAY)
    return directory


@pytest.fixture(scope="session")
def sandbox_url(sandbox_dir: Path) -> Iterator[str]:
    with running_server(sandbox_dir) as base_url:
        yield base_url


@pytest.fixture()
def fresh_sandbox(tmp_path: Path) -> Path:
    """A sandbox of the test's own, for tests that write to the CRM or advance time."""
    directory = tmp_path / "sandbox"
    generate(directory, SANDBOX_SEED, resolve_scale("tiny"), SANDBOX_TODAY)
    return directory


@pytest.fixture()
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary warehouse (and dlt working dir), set as CSOPS_WAREHOUSE for the product code."""
    path = tmp_path / "warehouse" / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(path))
    monkeypatch.setenv("CSOPS_DLT_PIPELINES_DIR", str(tmp_path / "warehouse" / "dlt_pipelines"))
    return path


@pytest.fixture()
def sandbox_env(sandbox_dir: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment that points every source at the session sandbox."""
    env = environment(sandbox_dir, sandbox_url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
