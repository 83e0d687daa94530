"""A run killed with SIGKILL never blocks later runs; a live run makes the next one queue, saying so.

Real Dagster: a persistent instance with the project's dagster.yaml (the `warehouse` pool, limit 1) in a temporary
DAGSTER_HOME, and runs in real processes that claim the pool's slot the way `csops run` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from orchestration.run_guard import live_warehouse_runs, sweep_dead_runs, wait_for_warehouse

REPO = Path(__file__).resolve().parents[2]

RUNNER = textwrap.dedent(
    """
    import sys, time
    from dagster import DagsterInstance, Definitions, asset, define_asset_job
    from orchestration.run_guard import own_run_tags

    @asset(pool="warehouse")
    def writes_the_warehouse():
        print("claimed", flush=True)
        time.sleep(float(sys.argv[1]))

    nightly = define_asset_job("nightly", tags={"csops/warehouse": "write"})
    defs = Definitions(assets=[writes_the_warehouse], jobs=[nightly])
    result = defs.resolve_job_def("nightly").execute_in_process(instance=DagsterInstance.get(), tags=own_run_tags())
    print("done", result.success, flush=True)
    """
)


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as dagster_instance:
        yield dagster_instance


def start_run(tmp_path: Path, seconds: float) -> subprocess.Popen:
    """A run in its own process holding the warehouse slot for `seconds`; returns once the slot is claimed."""
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(seconds)], cwd=REPO, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    for line in process.stdout:
        if line.startswith("claimed"):
            return process
    raise AssertionError(f"the run never claimed the slot (exit {process.wait()})")


def held_slots(instance: DagsterInstance) -> list[str]:
    return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots]


def test_a_killed_run_is_marked_failed_and_its_warehouse_slot_freed(instance: DagsterInstance, tmp_path: Path):
    victim = start_run(tmp_path, seconds=600)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    (dead,) = held_slots(instance)  # what wedged every later run: the dead run still holds the only slot
    assert instance.get_run_by_id(dead).status == DagsterRunStatus.STARTED

    said: list[str] = []
    waited = wait_for_warehouse(instance, say=said.append, poll_seconds=0.2)

    assert held_slots(instance) == []
    assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE
    assert any(dead in line and "process is gone" in line for line in said), said
    assert waited < 60
    # The next run gets the slot and finishes.
    follower = start_run(tmp_path, seconds=0)
    assert follower.stdout.read().strip() == "done True"
    assert follower.wait() == 0


def test_a_live_run_is_never_swept(instance: DagsterInstance, tmp_path: Path):
    live = start_run(tmp_path, seconds=600)
    try:
        assert sweep_dead_runs(instance) == []
        assert len(held_slots(instance)) == 1
        assert [run.run_id for run in live_warehouse_runs(instance)] == held_slots(instance)
    finally:
        live.kill()
        live.wait()


def test_a_second_run_queues_behind_a_live_one_and_says_so(instance: DagsterInstance, tmp_path: Path):
    first = start_run(tmp_path, seconds=6)
    said: list[str] = []
    waited = wait_for_warehouse(instance, say=said.append, poll_seconds=0.2, report_every_seconds=1)
    assert first.wait() == 0
    assert waited > 0.5  # it waited for the first run instead of interleaving with it
    assert said and all(line.startswith("waiting for the warehouse") for line in said)
    assert "pid" in said[0] and "nightly" in said[0]
    assert live_warehouse_runs(instance) == []


def test_waiting_gives_up_with_a_clear_error_when_asked_to(instance: DagsterInstance, tmp_path: Path):
    holder = start_run(tmp_path, seconds=600)
    try:
        with pytest.raises(TimeoutError, match="still held after"):
            wait_for_warehouse(instance, say=lambda _: None, poll_seconds=0.2, timeout_seconds=1)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert sweep_dead_runs(instance)  # the killed holder is swept on the next look


def test_a_run_waiting_for_the_warehouse_stops_at_once_on_sigterm(instance: DagsterInstance, tmp_path: Path):
    holder = start_run(tmp_path, seconds=600)
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from dagster import DagsterInstance; from orchestration.run_guard import wait_for_warehouse; "
            "wait_for_warehouse(DagsterInstance.get(), say=lambda line: print(line, flush=True), poll_seconds=0.2)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        # SIGTERM at its default, as a shell or service manager starts `csops run`: this test process inherits
        # ignored signals from how pytest was launched (a background shell ignores SIGINT, and Dagster's
        # capture_interrupts, run here by earlier in-process runs, then maps SIGTERM to that ignore), and an ignored
        # signal is passed on to the child.
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL),
    )
    try:
        assert waiter.stdout.readline().startswith("waiting for the warehouse")
        waiter.send_signal(signal.SIGTERM)
        assert waiter.wait(timeout=10) == -signal.SIGTERM
    finally:
        waiter.kill()
        holder.kill()
        holder.wait()


def test_the_daemon_sensor_frees_a_killed_runs_slot_without_any_new_run(instance: DagsterInstance, tmp_path: Path):
    from dagster import DefaultSensorStatus, build_sensor_context

    from orchestration.defs.automation import dead_run_sweeper

    assert dead_run_sweeper.default_status == DefaultSensorStatus.RUNNING
    victim = start_run(tmp_path, seconds=600)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    (dead,) = held_slots(instance)

    result = dead_run_sweeper(build_sensor_context(instance=instance))

    assert "swept 1" in result.skip_message
    assert held_slots(instance) == []
    assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE
