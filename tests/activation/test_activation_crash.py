"""Crash safety for real: a sync subprocess is SIGKILLed in the middle of its task batches (the sandbox's latency
fault keeps requests in flight long enough), then the sync runs again. No task is duplicated, the list and the
properties end up right, and one more run sends nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from activation_support import Sandbox, accounts_for, default_tasks, query

from activation import SyncConfig, run_sync
from activation.model import task_key

CHILD = """
import sys
from activation import run_sync
report = run_sync(sys.argv[1], log=lambda line: print(line, flush=True))
print("FINISHED", report.status, flush=True)
"""


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def test_a_sync_killed_mid_batch_recovers_without_duplicates(
    sandbox: Sandbox, sync_env: dict[str, str], sync_config: SyncConfig, sandbox_marts: Path, companies
) -> None:
    create_path = "/crm/v3/objects/tasks/batch/create"
    sandbox.faults("hubspot:latency:400")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(sandbox_marts)],
        # every task at once (as the `sync_config` fixture): three batches of 100, so the kill lands between batches
        env={**os.environ, **sync_env, "CSOPS_SYNC_MAX_TASKS_PER_CSM": "0", "CSOPS_SYNC_SPREAD_REVIEWS": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the first task batch has been answered: the second one is on the wire (400 ms of latency)
        assert wait_for(lambda: sandbox.count("POST", create_path) >= 1, timeout=60), "no task batch was sent"
        time.sleep(0.1)
        assert child.poll() is None, child.stdout.read() if child.stdout else ""
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    output = child.stdout.read() if child.stdout else ""
    assert "FINISHED" not in output and child.returncode == -signal.SIGKILL
    # the request that was on the wire when the client died still lands on the server
    wait_for(lambda: sandbox.count("POST", create_path) >= 2, timeout=3)
    created_before = len(sandbox.tasks())
    assert 100 <= created_before < 300  # killed with some, not all, tasks created
    assert query(sandbox_marts, "select status from activation.sync_runs") == [("running",)]

    sandbox.faults("hubspot:search_lag:0", reset=True)  # the recovery finds its tasks by search (index lag: a gap)
    report = run_sync(sandbox_marts, config=sync_config, log=lambda _: None)
    assert report.ok, report.summary_lines()
    assert any("recovered 1 interrupted run" in note for note in report.notes)

    accounts = accounts_for(companies[:250])
    expected = Counter(task_key(t.account_id, t.playbook) for t in default_tasks(accounts))
    assert Counter(t["properties"]["csops_task_key"] for t in sandbox.tasks()) == expected  # once each
    assert sandbox.list_members() == {a.company_id for a in accounts if a.at_risk}
    for a in accounts[:20]:
        props = sandbox.company(a.company_id, ["cs_at_risk", "cs_health_status"])
        assert props == {**props, "cs_at_risk": "true" if a.at_risk else "false", "cs_health_status": a.status}
    assert query(sandbox_marts, "select status from activation.sync_runs order by started_at") == [
        ("crashed",),
        ("succeeded",),
    ]
    # tasks the killed run created are known again, with their CRM ids
    assert query(
        sandbox_marts,
        "select count(*) from activation.sync_state where object_type = 'task' and crm_id is not null",
    ) == [(300,)]

    sandbox.reset_requests()
    assert run_sync(sandbox_marts, config=sync_config, log=lambda _: None).ok
    assert sandbox.writes() == 0
