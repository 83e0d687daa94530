"""Fixtures for the activation tests: a generated sandbox world (once per session), a private copy of it served on
a free loopback port per test (its CRM writes start empty), marts built over its companies, and the sync's
configuration pointing at it exactly as a user's environment would (sandbox.connect)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
from activation_support import Sandbox, accounts_for, sandbox_companies, write_marts

from activation import SyncConfig
from sandbox.connect import environment
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("activation-world")
    generate(out, 7, resolve_scale("tiny", accounts=300, events=3_000), TODAY)
    return out


@pytest.fixture(scope="session")
def companies(world: Path) -> list[tuple[str, str, str | None]]:
    return sandbox_companies(world)


@pytest.fixture
def sandbox(world: Path, tmp_path: Path) -> Iterator[Sandbox]:
    """A private copy of the world (its CRM writes start empty) served with the default faults: HubSpot's
    190 requests / 10 s and 5 searches / s are on, as on the real service. The search index lag is off: the
    crash recovery looks up tasks it may have just created by search, which a lagging index can miss (a known gap
    of the CRM push, see the sandbox's "An untidy CRM")."""
    directory = tmp_path / "sandbox"
    directory.mkdir()
    shutil.copytree(world / "world", directory / "world")
    shutil.copy2(world / "manifest.json", directory / "manifest.json")
    with running_server(directory, faults=["hubspot:search_lag:0"]) as base:
        env = environment(directory, base)
        http = requests.Session()
        yield Sandbox(directory, base, env["ACTIVATION__HUBSPOT__ACCESS_TOKEN"], http)
        http.close()


@pytest.fixture
def sync_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    env = environment(sandbox.directory, sandbox.base)
    env["CSOPS_DBT_TARGET_DIR"] = str(tmp_path / "no-dbt")
    return env


@pytest.fixture
def nightly_config(sync_env: dict[str, str]) -> SyncConfig:
    """From the environment a user would set, every default kept (per-CSM cap, reviews spread over their cycle);
    backoff shortened so that fault tests wait only what faults need."""
    return SyncConfig.from_env(sync_env).with_(
        backoff_initial_seconds=0.05, backoff_max_seconds=0.2, max_retry_seconds=30, ambiguous_write_pause_seconds=0
    )


@pytest.fixture
def sync_config(nightly_config: SyncConfig) -> SyncConfig:
    """The transport tests (batching floors, faults, retries, idempotency) need every task pushed at once, as an
    operator gets with CSOPS_SYNC_MAX_TASKS_PER_CSM=0 and CSOPS_SYNC_SPREAD_REVIEWS=false; the flood control
    itself is tested with `nightly_config` (test_activation_first_night.py)."""
    return nightly_config.with_(max_tasks_per_csm=None, spread_reviews=False)


@pytest.fixture
def sandbox_marts(tmp_path: Path, companies: list[tuple[str, str, str | None]]) -> Path:
    return write_marts(tmp_path / "warehouse.duckdb", accounts_for(companies[:250]))
