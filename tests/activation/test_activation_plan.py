"""The planner on small marts: diff, allow-list, circuit breaker, cadence, list add / remove."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from activation_support import AS_OF, Account, Task, write_marts

from activation.crm.base import ExistingTask
from activation.fields import ALLOWED_ACCOUNT_FIELDS, DIFF_FIELDS, DisallowedFieldError, check_allowed
from activation.marts import number_text, read_snapshot
from activation.model import KnownAccount, KnownTask, MartSnapshot, SyncState, task_key
from activation.plan import decide_tasks, diff_members, plan_sync


def snapshot(tmp_path: Path, accounts: list[Account], **kwargs) -> MartSnapshot:
    path = write_marts(tmp_path / "wh.duckdb", accounts, **kwargs)
    con = duckdb.connect(str(path), read_only=True)
    try:
        return read_snapshot(con)
    finally:
        con.close()


def accepted(snap: MartSnapshot) -> SyncState:
    """The state after a sync in which the CRM accepted every row of `snap`."""
    state = SyncState()
    for row in snap.accounts:
        if row.crm_id and row.scored:
            state.accounts[row.crm_id] = KnownAccount(row.crm_id, row.account_id, dict(row.fields))
    return state


def plan(snap: MartSnapshot, state: SyncState, share: float = 0.25, force: bool = False):
    return plan_sync(snap, state, max_change_share=share, force=force)


ACCOUNTS = [Account(f"acc_{i:03d}", f"90{i:03d}", score=70.0 + i, status="green") for i in range(10)]


def test_values_are_rendered_as_the_text_the_crm_stores(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, [Account("acc_1", "901", score=63.25, change=0.6999999999999886, arr=23_718_336.4)])
    fields = snap.accounts[0].fields
    assert fields["cs_health_score"] == "63.2"
    assert fields["cs_health_change_30d"] == "0.7"
    assert fields["cs_arr"] == "23718336"
    assert fields["cs_at_risk"] == "false" and fields["cs_risk_reasons"] == "" and fields["cs_playbook"] == ""
    assert number_text(-0.04, 1) == "0" and number_text(None, 1) == "" and number_text(float("nan"), 1) == ""


def test_first_sync_sends_every_scored_account_and_is_exempt_from_the_breaker(tmp_path: Path) -> None:
    result = plan(snapshot(tmp_path, ACCOUNTS), SyncState())
    assert len(result.account_changes) == 10
    assert {c.reason for c in result.account_changes} == {"new"}
    assert result.breaker.first_sync and not result.breaker.tripped
    assert "first sync" in result.breaker.describe()


def test_only_changed_rows_are_sent(tmp_path: Path) -> None:
    before = snapshot(tmp_path, ACCOUNTS)
    changed = [ACCOUNTS[0], *ACCOUNTS[1:]]
    changed[3] = Account("acc_003", "90003", score=55.5, status="green")
    result = plan(snapshot(tmp_path, changed), accepted(before))
    assert [c.crm_id for c in result.account_changes] == ["90003"]
    assert result.account_changes[0].reason == "changed"
    assert result.unchanged_accounts == 9


def test_rerun_of_the_same_marts_plans_nothing(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, ACCOUNTS)
    result = plan(snap, accepted(snap))
    assert result.account_changes == [] and result.unchanged_accounts == 10


def test_planned_fields_are_exactly_the_allow_listed_ones(tmp_path: Path) -> None:
    accounts = [*ACCOUNTS, ACCOUNTS[0].risky(account_id="acc_x", company_id="90999")]
    result = plan(snapshot(tmp_path, accounts), SyncState())
    for change in result.account_changes:
        assert set(change.fields) == set(DIFF_FIELDS)
        assert set(change.fields) | {"cs_synced_at"} == ALLOWED_ACCOUNT_FIELDS
    with pytest.raises(DisallowedFieldError, match="name"):
        check_allowed({"cs_health_score": "1", "name": "Evil Corp"})


def test_a_recovered_account_is_cleared_and_leaves_the_list(tmp_path: Path) -> None:
    risky = [ACCOUNTS[0].risky(), *ACCOUNTS[1:]]
    before = snapshot(tmp_path, risky)
    assert plan(before, SyncState()).at_risk_crm_ids == {"90000"}
    after = snapshot(tmp_path, ACCOUNTS)
    result = plan(after, accepted(before))
    (change,) = result.account_changes
    assert change.crm_id == "90000" and change.flips
    assert change.fields["cs_at_risk"] == "false"
    assert change.fields["cs_risk_reasons"] == "" and change.fields["cs_playbook"] == ""
    assert result.at_risk_crm_ids == set()
    assert diff_members(result.at_risk_crm_ids, {"90000"}) == ([], ["90000"])


def test_an_account_that_left_the_marts_is_cleared_once(tmp_path: Path) -> None:
    before = snapshot(tmp_path, [ACCOUNTS[0].risky(), *ACCOUNTS[1:]])
    state = accepted(before)
    result = plan(snapshot(tmp_path, ACCOUNTS[1:]), state)
    (change,) = result.account_changes
    assert change.crm_id == "90000" and change.reason == "cleared"
    assert change.fields["cs_at_risk"] == "false" and change.fields["cs_health_status"] == ""
    # once the CRM accepted the cleared values, nothing more is sent
    state.accounts["90000"] = KnownAccount("90000", "acc_000", dict(change.fields))
    assert plan(snapshot(tmp_path, ACCOUNTS[1:]), state).account_changes == []


def test_list_diff_adds_new_and_removes_recovered() -> None:
    assert diff_members({"1", "2", "3"}, {"3", "4"}) == (["1", "2"], ["4"])
    assert diff_members(set(), set()) == ([], [])


def test_accounts_without_a_crm_company_are_skipped_and_reported(tmp_path: Path) -> None:
    result = plan(snapshot(tmp_path, [*ACCOUNTS, Account("acc_nocrm", None)]), SyncState())
    assert ("company", "acc_nocrm", "no CRM company for this account") in result.skipped
    assert all(c.crm_id for c in result.account_changes)


def flipped(n: int) -> list[Account]:
    return [a.risky() if i < n else a for i, a in enumerate(ACCOUNTS)]


@pytest.mark.parametrize(("flips", "halts"), [(2, False), (3, True)])
def test_circuit_breaker_halts_above_the_share(tmp_path: Path, flips: int, halts: bool) -> None:
    state = accepted(snapshot(tmp_path, ACCOUNTS))
    result = plan(snapshot(tmp_path, flipped(flips)), state, share=0.25)
    assert result.breaker.flips == flips and result.breaker.population == 10
    assert result.breaker.halts is halts
    if halts:
        assert "30.0%" in result.breaker.describe() and "--force" in result.breaker.describe()


def test_force_overrides_the_circuit_breaker(tmp_path: Path) -> None:
    state = accepted(snapshot(tmp_path, ACCOUNTS))
    result = plan(snapshot(tmp_path, flipped(8)), state, force=True)
    assert result.breaker.tripped and not result.breaker.halts
    assert "forced" in result.breaker.describe()


def test_score_changes_alone_do_not_count_as_flips(tmp_path: Path) -> None:
    state = accepted(snapshot(tmp_path, ACCOUNTS))
    moved = [Account(a.account_id, a.company_id, score=(a.score or 0) - 5, status="green") for a in ACCOUNTS]
    result = plan(snapshot(tmp_path, moved), state)
    assert len(result.account_changes) == 10 and result.breaker.flips == 0 and not result.breaker.halts


def test_tasks_within_their_cadence_are_not_due(tmp_path: Path) -> None:
    tasks = [Task("acc_000", "90000", "81000001", "Periodic health review", cadence_days=30)]
    snap = snapshot(tmp_path, ACCOUNTS[:1], tasks=tasks)
    key = task_key("acc_000", "Periodic health review")
    assert key == "acc_000:periodic-health-review"
    for age, due in ((0, False), (29, False), (30, True), (45, True)):
        state = SyncState(tasks={key: KnownTask(key, "77", AS_OF - timedelta(days=age))})
        result = plan(snap, state)
        assert (len(result.tasks_due) == 1) is due, age
        assert result.tasks_within_cadence == (0 if due else 1)
    # never created: due (with the spread of reviews off; test_activation_first_night covers the spread)
    assert len(plan_sync(snap, SyncState(), max_change_share=0.25, force=False, spread=False).tasks_due) == 1


def test_a_due_task_is_not_created_while_one_is_open_or_recent() -> None:
    tasks = [
        Task("a", "1", None, "Renewal rescue"),
        Task("b", "2", None, "Renewal rescue"),
        Task("c", "3", None, "Renewal rescue"),
        Task("d", "4", None, "Renewal rescue"),
    ]
    from activation.model import TaskRow

    rows = [
        TaskRow(
            task_key(t.account_id, t.playbook),
            t.account_id,
            t.company_id,
            t.owner_id,
            t.playbook,
            t.trigger_name,
            t.priority,
            t.is_at_risk,
            "title",
            "body",
            AS_OF,
            30,
        )
        for t in tasks
    ]
    existing = {
        "a:renewal-rescue": [ExistingTask("a:renewal-rescue", "11", True, AS_OF - timedelta(days=90))],
        "b:renewal-rescue": [ExistingTask("b:renewal-rescue", "12", False, AS_OF - timedelta(days=3))],
        "c:renewal-rescue": [ExistingTask("c:renewal-rescue", "13", False, AS_OF - timedelta(days=31))],
    }
    create, keep = decide_tasks(rows, existing, AS_OF)
    assert [t.account_id for t in create] == ["c", "d"]
    assert [(t.account_id, found.crm_id, why) for t, found, why in keep] == [
        ("a", "11", "open task exists"),
        ("b", "12", "created within cadence"),
    ]


def test_tasks_without_a_company_are_skipped(tmp_path: Path) -> None:
    tasks = [Task("acc_000", None, None, "Periodic health review")]
    result = plan(snapshot(tmp_path, ACCOUNTS[:1], tasks=tasks), SyncState())
    assert result.tasks_due == []
    assert ("task", "acc_000:periodic-health-review", "no CRM company for this account") in result.skipped
