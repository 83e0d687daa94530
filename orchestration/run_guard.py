"""Dead runs never block the warehouse: find runs whose process is gone and free what they hold; queue behind live ones.

DuckDB has one writer, so every asset that writes it claims the `warehouse` pool's only slot. A run killed with
SIGKILL (or a machine that lost power) never releases its slot nor leaves STARTED, and every later run would wait
for that slot forever. Dagster's run monitoring cannot tell that a run worker died under the default run launcher
(it has no worker health check), so this module does it for the processes it can see: runs on this host whose
process id is gone (or reused by another program) are marked failed and their slots freed.

Which process a run lives in: runs started by `csops run` carry the tags below; runs the daemon launched (the
schedule, the UI) record their worker's pid in their "Started process for run" engine event.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.events import DagsterEventType

PID_TAG = "csops/pid"
HOST_TAG = "csops/host"
PROCESS_START_TAG = "csops/process_start"  # /proc start time: a reused pid is not mistaken for the run
WAREHOUSE_TAG = ("csops/warehouse", "write")
IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process `pid` exists and, when its start time was recorded, is still that same process."""
    if sys.platform.startswith("linux"):
        now = process_start_time(pid)
        return now is not None and (started is None or now == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def own_run_tags() -> dict[str, str]:
    """Tags that let a later run recognise this process as dead or alive."""
    pid = os.getpid()
    tags = {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), WAREHOUSE_TAG[0]: WAREHOUSE_TAG[1]}
    started = process_start_time(pid)
    if started:
        tags[PROCESS_START_TAG] = started
    return tags


@dataclass(frozen=True)
class RunProcess:
    run_id: str
    pid: int | None
    host: str | None
    started: str | None


def run_process(instance: DagsterInstance, run) -> RunProcess:
    """The process a run executes in, from our tags or the run worker's engine event."""
    tags = run.tags
    if PID_TAG in tags:
        return RunProcess(run.run_id, int(tags[PID_TAG]), tags.get(HOST_TAG), tags.get(PROCESS_START_TAG))
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        if "pid" in metadata:
            return RunProcess(run.run_id, int(metadata["pid"].value), socket.gethostname(), None)
    return RunProcess(run.run_id, None, None, None)


def is_dead(process: RunProcess) -> bool:
    """True only when we can see the run's process is gone: same host, known pid, no such process."""
    if process.pid is None or process.host != socket.gethostname():
        return False
    return not process_alive(process.pid, process.started)


def sweep_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark runs whose process is gone as failed and free every concurrency slot they hold. Returns their ids."""
    swept = []
    for run in instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS)):
        process = run_process(instance, run)
        if not is_dead(process):
            continue
        instance.report_run_failed(
            run,
            f"csops: the process of this run (pid {process.pid} on {process.host}) is gone (killed or crashed); "
            "marked failed and its warehouse slot freed so later runs can proceed.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        swept.append(run.run_id)
    # Slots may also be held by runs that ended without releasing them (a step killed mid-claim).
    for pool in instance.event_log_storage.get_concurrency_keys():
        for slot in instance.event_log_storage.get_concurrency_info(pool).claimed_slots:
            holder = instance.get_run_by_id(slot.run_id)
            if holder is None or holder.is_finished:
                instance.event_log_storage.free_concurrency_slots_for_run(slot.run_id)
                swept.append(slot.run_id)
    return sorted(set(swept))


def live_warehouse_runs(instance: DagsterInstance, exclude: str | None = None) -> list:
    """Runs in progress that write the warehouse and whose process is not known to be dead."""
    runs = instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS, tags={WAREHOUSE_TAG[0]: WAREHOUSE_TAG[1]}))
    return [run for run in runs if run.run_id != exclude and not is_dead(run_process(instance, run))]


def wait_for_warehouse(
    instance: DagsterInstance,
    say: Callable[[str], None],
    poll_seconds: float = 5.0,
    report_every_seconds: float = 30.0,
    timeout_seconds: float | None = None,
) -> float:
    """Sweep dead runs, then queue behind live runs that write the warehouse, saying who holds it and for how long.

    Returns the seconds waited. Raises TimeoutError after `timeout_seconds` (None waits as long as it takes: a
    nightly run should follow the one before it, not fail because it ran long)."""
    for run_id in sweep_dead_runs(instance):
        say(f"freed the warehouse from run {run_id}: its process is gone (killed or crashed); marked failed")
    started = time.monotonic()
    last_report = None
    while True:
        holders = live_warehouse_runs(instance)
        if not holders:
            return time.monotonic() - started
        waited = time.monotonic() - started
        described = ", ".join(_describe(instance, run) for run in holders)
        if last_report is None or waited - last_report >= report_every_seconds:
            say(f"waiting for the warehouse ({waited:.0f}s so far): held by {described}")
            last_report = waited
        if timeout_seconds is not None and waited >= timeout_seconds:
            raise TimeoutError(f"the warehouse is still held after {waited:.0f}s by {described}")
        time.sleep(poll_seconds)
        for run_id in sweep_dead_runs(instance):
            say(f"freed the warehouse from run {run_id}: its process is gone (killed or crashed); marked failed")


def _describe(instance: DagsterInstance, run) -> str:
    process = run_process(instance, run)
    record = instance.get_run_record_by_id(run.run_id)
    since = ""
    if record is not None and record.start_time:
        since = f", running {time.time() - record.start_time:.0f}s"
    where = f"pid {process.pid}" if process.pid else "pid unknown"
    return f"run {run.run_id[:8]} ({run.job_name}, {where}{since})"
