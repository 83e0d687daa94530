"""The first push against the sandbox CRM: judged by the circuit breaker on the marts' own history, and spread
over the nights so that no CSM opens the CRM to a flood of tasks (a cap per CSM and night, most urgent first;
periodic reviews spread over their cycle by account)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from activation_support import AS_OF, Sandbox, accounts_for, default_tasks, query, write_marts

from activation import ConfigError, SyncConfig, run_sync
from activation.model import TaskRow, task_key
from activation.plan import cap_per_owner, cycle_offset

CAP = 10


def sync(warehouse: Path, config: SyncConfig, **kwargs):
    return run_sync(warehouse, config=config, log=lambda _: None, **kwargs)


# ------------------------------------------------------------------------------------ the breaker, first push
def test_a_plausible_first_push_is_judged_on_the_marts_history_and_goes_through(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:250])
    yesterday = [replace(a, status="red") if i in (1, 2, 3) else a for i, a in enumerate(accounts)]
    warehouse = write_marts(tmp_path / "wh.duckdb", accounts, previous_day=yesterday)
    report = sync(warehouse, sync_config)
    assert report.ok, report.summary_lines()
    assert report.first_sync and "judged on the marts' history: 3 of 250 accounts (1.2%)" in report.breaker
    assert report.count("company", "update", "ok") == 250


def test_a_first_push_whose_marts_flip_a_third_of_the_book_overnight_halts_until_forced(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:250])  # half yellow, every fifth red tonight
    all_green = [replace(a, status="green", score=85.0) for a in accounts]
    warehouse = write_marts(tmp_path / "wh.duckdb", accounts, previous_day=all_green)
    flipped = sum(a.status != "green" for a in accounts)
    halted = sync(warehouse, sync_config)
    assert halted.status == "halted" and not halted.ok
    reason = halted.halted_reason or ""
    assert (
        f"{flipped} of 250 accounts ({flipped / 250:.1%}) changed health status from 2026-10-30 to 2026-10-31" in reason
    )
    assert "CSOPS_SYNC_MAX_CHANGE_SHARE" in reason and "--force" in reason
    assert sandbox.writes() == 0  # not even the csops properties
    forced = sync(warehouse, sync_config, force=True)
    assert forced.ok and forced.count("company", "update", "ok") == 250
    assert query(warehouse, "select status from activation.sync_runs order by started_at") == [
        ("halted",),
        ("succeeded",),
    ]


# ------------------------------------------------------------------------------------------ no flood, night 1
def created_by_owner(sandbox: Sandbox) -> dict[str | None, set[str]]:
    out: dict[str | None, set[str]] = {}
    for task in sandbox.tasks():
        props = task["properties"]
        out.setdefault(props.get("hubspot_owner_id"), set()).add(props["csops_task_key"])
    return out


def test_the_first_night_caps_each_csm_and_creates_the_most_urgent_tasks_first(
    sandbox: Sandbox, nightly_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:250])
    tasks = default_tasks(accounts)  # a periodic review per account (priority 9), a check-in per at-risk one (5)
    warehouse = write_marts(tmp_path / "wh.duckdb", accounts, tasks=tasks)
    report = sync(warehouse, nightly_config)
    assert report.ok, report.summary_lines()

    arr = {a.account_id: a.arr for a in accounts}
    due = [t for t in tasks if t.trigger_name != "periodic_review" or cycle_offset(t.account_id, 30) == 0]
    spread = len(tasks) - len(due)
    created = created_by_owner(sandbox)
    for owner in {t.owner_id for t in due}:
        mine = sorted(
            (t for t in due if t.owner_id == owner),
            key=lambda t: (t.priority, -arr[t.account_id], task_key(t.account_id, t.playbook)),
        )
        expected = {task_key(t.account_id, t.playbook) for t in mine[:CAP]}
        assert created.get(owner, set()) == expected, owner  # the most urgent ones, at most the cap
    deferred = len(due) - sum(len(keys) for keys in created.values())
    assert deferred > 0 and max(len(keys) for keys in created.values()) == CAP
    assert report.plan["tasks_later_in_cycle"] == spread and sum(report.deferred.values()) == deferred
    assert report.count("task", "defer", "skipped") == deferred
    assert any(f"deferred: {deferred} new task(s)" in line for line in report.summary_lines())
    assert any(f"spread: {spread} periodic review(s)" in line for line in report.summary_lines())
    logged = query(
        warehouse, "select count(*), min(detail) from activation.sync_log where action = 'defer' and status = 'skipped'"
    )[0]
    assert logged[0] == deferred and "CSOPS_SYNC_MAX_TASKS_PER_CSM" in logged[1]
    assert report.as_metadata()["tasks_deferred"] == deferred


def test_later_nights_create_the_deferred_and_the_next_reviews_without_duplicates(
    sandbox: Sandbox, nightly_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:250])
    tasks = default_tasks(accounts)
    event_keys = {task_key(t.account_id, t.playbook) for t in tasks if t.trigger_name != "periodic_review"}
    warehouse = tmp_path / "wh.duckdb"
    seen: set[str] = set()
    per_night = []
    for night in range(4):
        write_marts(warehouse, accounts, tasks=tasks, as_of=AS_OF + timedelta(days=night))
        report = sync(warehouse, nightly_config)
        assert report.ok, report.summary_lines()
        keys = Counter(t["properties"]["csops_task_key"] for t in sandbox.tasks())
        assert set(keys.values()) == {1}  # never a duplicate
        new = set(keys) - seen
        seen |= new
        owners = Counter(
            t["properties"]["hubspot_owner_id"] for t in sandbox.tasks() if t["properties"]["csops_task_key"] in new
        )
        assert max(owners.values(), default=0) <= CAP
        reviews = {k for k in seen if k.endswith(":periodic-health-review")}
        eligible = {  # each account's review falls due on its night of the cycle, never earlier
            task_key(a.account_id, "Periodic health review")
            for a in accounts
            if cycle_offset(a.account_id, 30) <= night
        }
        assert reviews <= eligible
        if not report.deferred:
            assert reviews == eligible
        per_night.append((len(new), sum(report.deferred.values())))
    assert event_keys <= seen  # every event-driven task is in the CRM after a few nights
    assert per_night[0][1] > 0 and per_night[-1][1] == 0, per_night
    print(per_night)  # the backlog of the first night is gone


# ------------------------------------------------------------------------------------------ the rules alone
def row(account: str, owner: str, priority: int, arr: float) -> TaskRow:
    return TaskRow(task_key(account, "p"), account, "1", owner, "p", "t", priority, False, "", "", AS_OF, 30, arr)


def test_the_cap_counts_tasks_already_created_tonight_and_ranks_by_priority_then_arr() -> None:
    tasks = [row("a", "o1", 5, 100.0), row("b", "o1", 1, 10.0), row("c", "o1", 5, 900.0), row("d", "o2", 9, 1.0)]
    create, deferred = cap_per_owner(tasks, 2, Counter())
    assert [t.account_id for t in create] == ["b", "c", "d"] and [t.account_id for t, _ in deferred] == ["a"]
    create, deferred = cap_per_owner(tasks, 2, Counter({"o1": 1}))  # a re-run the same night: one already given
    assert [t.account_id for t in create] == ["b", "d"] and "CSOPS_SYNC_MAX_TASKS_PER_CSM" in deferred[0][1]
    assert cap_per_owner(tasks, None, Counter({"o1": 5}))[0] == tasks


def test_the_flood_control_settings_come_from_the_environment() -> None:
    assert SyncConfig.from_env({}).max_tasks_per_csm == 10 and SyncConfig.from_env({}).spread_reviews
    config = SyncConfig.from_env({"CSOPS_SYNC_MAX_TASKS_PER_CSM": "0", "CSOPS_SYNC_SPREAD_REVIEWS": "false"})
    assert config.max_tasks_per_csm is None and not config.spread_reviews
    for name, value in (
        ("CSOPS_SYNC_MAX_TASKS_PER_CSM", "-1"),
        ("CSOPS_SYNC_MAX_TASKS_PER_CSM", "ten"),
        ("CSOPS_SYNC_SPREAD_REVIEWS", "maybe"),
    ):
        with pytest.raises(ConfigError, match=name):
            SyncConfig.from_env({name: value})
