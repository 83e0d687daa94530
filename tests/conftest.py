"""Shared fixtures: real things only — a generated sandbox company, its HTTP server on a free loopback port, a
temporary warehouse, the environment the product reads, and one complete run of the graph.

The expensive ones are built once per session and shared by every folder that needs the same world; a test that
changes what it was given works on a copy (`copy_sandbox` in tests/support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.connect import environment
from sandbox.generator.world import generate
from sandbox.manifest import Manifest, resolve_scale
from sandbox.server.app import running_server
from tests.support import SANDBOX_SEED, SANDBOX_TODAY, copy_sandbox

# Keep tools quiet and offline, whatever the developer's shell has.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Retries in tests: quick backoff, so fault-injection tests stay fast but still exercise the retry path.
os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")
os.environ.setdefault("RUNTIME__REQUEST_MAX_RETRY_DELAY", "2")


@pytest.fixture(scope="session")
def pristine_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulated company (SANDBOX_SEED, SANDBOX_TODAY), generated once per session and never served nor
    written: every fixture that needs this company gets a copy (`copy_sandbox`). Generation is deterministic, so a
    copy is byte for byte what a new generation would write, at a fraction of its cost."""
    directory = tmp_path_factory.mktemp("pristine") / "sandbox"
    generate(directory, SANDBOX_SEED, resolve_scale("tiny"), SANDBOX_TODAY)
    return directory


@pytest.fixture(scope="session")
def pristine_small_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small simulated company (1,000 accounts, two years; SANDBOX_SEED, SANDBOX_TODAY), generated once per
    session for the tests that read it (the generator's signal test) and the one that loads and models it
    (`small_company`, which serves a copy). Never served nor written."""
    directory = tmp_path_factory.mktemp("pristine_small") / "sandbox"
    generate(directory, SANDBOX_SEED, resolve_scale("small"), SANDBOX_TODAY)
    return directory


@pytest.fixture(scope="session")
def sandbox_dir(pristine_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny simulated company (a copy of the pristine one), served by `sandbox_url`."""
    return copy_sandbox(pristine_sandbox, tmp_path_factory.mktemp("sandbox") / "sandbox")


@pytest.fixture(scope="session")
def sandbox_url(sandbox_dir: Path) -> Iterator[str]:
    with running_server(sandbox_dir) as base_url:
        yield base_url


@pytest.fixture()
def fresh_sandbox(pristine_sandbox: Path, tmp_path: Path) -> Path:
    """A sandbox of the test's own, for tests that write to the CRM or advance time (a copy of the pristine one)."""
    return copy_sandbox(pristine_sandbox, tmp_path / "sandbox")


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


@pytest.fixture(scope="session")
def pipeline_run(pristine_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One fresh sandbox, one server (the vendors' default rate limits on), one complete run of the graph (once per
    session, whichever folder asks first): the end-to-end tests check what it produced, the dashboard test reads its
    serving copy, the Stripe versions test compares its own load with this one's. Read only: a copy could not go on
    loading (the warehouse remembers where each source's data came from and refuses another address).

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
