"""The CLI as a user meets it, through subprocess runs of the real `csops` against the sandbox: a failure says in
one line what went wrong and which variable to fix, and a whole run prints one line per step while the details go
to a log file the summary names."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.connect import environment

CSOPS = str(Path(sys.executable).with_name("csops"))
REPO_ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csops(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CSOPS, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture()
def run_env(tmp_path: Path) -> dict[str, str]:
    """The process environment with a warehouse, dlt working dir, Dagster home and log folder of the test's own,
    and quick retries (an unreachable host fails in seconds, as it would after the real backoff)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "ACTIVATION__"))}
    env.update(
        {
            "CSOPS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "CSOPS_DLT_PIPELINES_DIR": str(tmp_path / "dlt_pipelines"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "CSOPS_LOG_DIR": str(tmp_path / "logs"),
            "RUNTIME__REQUEST_MAX_ATTEMPTS": "2",
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
        }
    )
    return env


def sandbox_run_env(run_env: dict[str, str], sandbox_dir: Path, sandbox_url: str, **overrides: str) -> dict[str, str]:
    return {**run_env, **environment(sandbox_dir, sandbox_url), **overrides}


def assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    naming = [line for line in result.stderr.splitlines() if variable in line]
    assert len(naming) == 1, result.stderr
    assert "Error occurred while executing op" not in output, output
    return naming[0]


def test_a_wrong_hubspot_token_is_one_line_naming_the_token_variable(
    run_env: dict[str, str], sandbox_dir: Path, sandbox_url: str
) -> None:
    env = sandbox_run_env(run_env, sandbox_dir, sandbox_url, SOURCES__HUBSPOT__ACCESS_TOKEN="pat-wrong-0000")
    result = csops(["run", "--select", "dlt/hubspot/*"], env)
    line = assert_one_line_naming(result, "SOURCES__HUBSPOT__ACCESS_TOKEN")
    assert "rejected the credentials (HTTP 401" in line
    assert "pat-wrong-0000" not in result.stdout + result.stderr  # the secret itself is never printed


def test_a_missing_hubspot_token_is_one_line_naming_the_token_variable(
    run_env: dict[str, str], sandbox_dir: Path, sandbox_url: str
) -> None:
    env = sandbox_run_env(run_env, sandbox_dir, sandbox_url)
    del env["SOURCES__HUBSPOT__ACCESS_TOKEN"]
    line = assert_one_line_naming(csops(["run", "--select", "dlt/hubspot/*"], env), "SOURCES__HUBSPOT__ACCESS_TOKEN")
    assert "missing configuration" in line


def test_an_unreachable_host_is_one_line_naming_the_base_url_variable(
    run_env: dict[str, str], sandbox_dir: Path, sandbox_url: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hubspot"
    # A refused connection is retried for the retry budget (5 minutes by default) before the run fails: 2 s here.
    env = sandbox_run_env(
        run_env, sandbox_dir, sandbox_url, SOURCES__HUBSPOT__BASE_URL=url, CSOPS_RETRY_BUDGET_SECONDS="2"
    )
    line = assert_one_line_naming(csops(["run", "--select", "dlt/hubspot/*"], env), "SOURCES__HUBSPOT__BASE_URL")
    assert "cannot reach" in line and url in line


def test_a_mistyped_target_is_one_line_and_a_failure(run_env: dict[str, str]) -> None:
    result = csops(["run"], {**run_env, "CSOPS_TARGET": "duckdbb"})
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: CSOPS_TARGET must be duckdb, postgres or spark, not 'duckdbb'"
    ]


@pytest.mark.slow
def test_a_whole_run_prints_a_line_per_step_and_names_the_log_holding_the_details(
    run_env: dict[str, str], fresh_sandbox: Path
) -> None:
    result = csops(["run", "--sandbox", str(fresh_sandbox)], run_env, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) < 40, output
    for noise in ("Calculating Metrics", "leaked semaphore", "did not receive any data", "Unless type hints", " PASS "):
        assert noise not in output, f"{noise!r} reached the terminal"
    steps = [line for line in lines if line.lstrip().startswith("ok ")]
    assert any(line.lstrip().startswith("ok dlt_stripe:") and " rows" in line for line in steps), output
    assert any(line.lstrip().startswith("ok dbt_models:") and "checks passed" in line for line in steps), output
    (named,) = [line for line in lines if line.startswith("full log: ")]
    log = Path(named.removeprefix("full log: "))
    assert log.parent == Path(run_env["CSOPS_LOG_DIR"]) and log.exists()
    details = log.read_text(errors="replace")
    assert "did not receive any data" in details  # dlt's schema warnings, kept for whoever looks
    assert "Completed successfully" in details  # dbt's own output
    assert "STEP_SUCCESS" in details or "step_success" in details.lower() or "finished successfully" in details
