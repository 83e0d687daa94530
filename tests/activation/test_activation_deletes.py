"""Companies deleted or merged in the CRM: the push never writes to a deleted company, sends a merged one's fields
and tasks to the survivor, and a 404 met on any write (a company deleted between the mart build and the push) is
logged with the record's id, clears its state and is not sent again until newer marts say the record is back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from activation_support import AS_OF, Sandbox, Task, accounts_for, default_tasks, query, write_marts

from activation import SyncConfig, run_sync
from activation.model import KnownAccount, MartSnapshot, SyncState, task_key
from activation.plan import Removals

PROPS = ["cs_health_score", "cs_at_risk", "cs_synced_at"]


def task_key_of(task: Task) -> str:
    return task_key(task.account_id, task.playbook)


def sync(warehouse: Path, config: SyncConfig):
    lines: list[str] = []
    report = run_sync(warehouse, config=config, log=lines.append)
    report.log_lines = lines  # type: ignore[attr-defined]
    return report


def state_rows(warehouse: Path) -> dict[str, tuple]:
    """object key -> (status, payload, gone_on) of the company rows of activation.sync_state."""
    rows = query(
        warehouse,
        "select object_key, status, payload, gone_on from activation.sync_state where object_type = 'company'",
    )
    return {key: (status, payload, gone_on) for key, status, payload, gone_on in rows}


def test_a_company_deleted_between_the_mart_build_and_the_push_is_logged_cleared_and_not_retried(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:40])
    risky = next(a for a in accounts if a.at_risk)
    healthy = next(a for a in accounts if not a.at_risk)
    marts = write_marts(tmp_path / "wh.duckdb", accounts)
    sandbox.archive("companies", [risky.company_id, healthy.company_id])  # after the marts were built

    report = sync(marts, sync_config)
    assert report.ok, report.summary_lines()
    assert report.count("company", "update", "gone") == 2 and report.count("company", "update", "ok") == 38
    assert report.as_metadata()["rows_not_found"] == 2
    assert any("2 row(s) answered 404 tonight" in line for line in report.summary_lines())
    for gone in (risky, healthy):
        assert any(f"CRM record {gone.company_id} not found" in line for line in report.log_lines)
    # Nothing more went to them: no list membership, no task; their state is a marker with tonight's date.
    assert risky.company_id not in sandbox.list_members()
    assert not [t for t in sandbox.tasks() if t["properties"]["csops_task_key"].startswith(risky.account_id)]
    state = state_rows(marts)
    assert {c: state[c] for c in (risky.company_id, healthy.company_id)} == {
        risky.company_id: ("gone", None, AS_OF),
        healthy.company_id: ("gone", None, AS_OF),
    }
    logged = query(marts, "select object_key, error from activation.sync_log where status = 'gone'")
    assert {key for key, _ in logged} == {risky.company_id, healthy.company_id}
    assert all("OBJECT_NOT_FOUND" in error for _, error in logged)

    # The same marts again (a re-run, or the next night before the warehouse caught up): nothing is sent to them.
    sandbox.reset_requests()
    again = sync(marts, sync_config)
    assert again.ok and again.plan["company_rows_not_found"] == 2
    assert sandbox.writes() == 0
    assert not any("retrying" in note for note in again.notes)

    # The next night's marts know they were deleted: still nothing sent, nothing to retry.
    write_marts(
        marts,
        accounts,
        as_of=AS_OF + timedelta(days=1),
        removed={risky.company_id: ("archived", None), healthy.company_id: ("archived", None)},
    )
    sandbox.reset_requests()
    later = sync(marts, sync_config)
    assert later.ok and later.plan["company_rows_archived"] == 2
    assert sandbox.writes() == 0
    assert later.count("company", "update", "gone") == 0 and later.count("task", "create", "gone") == 0


def test_a_task_for_a_company_deleted_since_the_last_night_meets_a_404_once(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:20])
    target = next(a for a in accounts if not a.at_risk)
    marts = write_marts(tmp_path / "wh.duckdb", accounts)
    assert sync(marts, sync_config).ok
    sandbox.archive("companies", [target.company_id])
    # Tonight nothing changes on the company itself, but a new playbook falls due for it.
    extra = Task(target.account_id, target.company_id, target.owner_id, "Renewal rescue", "renewal_soon", 2)
    write_marts(marts, accounts, tasks=[*default_tasks(accounts), extra])
    report = sync(marts, sync_config)
    assert report.ok, report.summary_lines()
    assert report.count("task", "create", "gone") == 1 and report.count("task", "create", "ok") == 0
    assert state_rows(marts)[target.company_id] == ("gone", None, AS_OF)
    task_state = query(marts, "select count(*) from activation.sync_state where object_key = ?", [task_key_of(extra)])
    assert task_state == [(0,)]  # nothing remembered of the task that could not be created: no retry

    sandbox.reset_requests()
    again = sync(marts, sync_config)
    assert again.ok and sandbox.writes() == 0


def test_merged_companies_write_to_the_survivor_and_deleted_ones_are_forgotten_not_cleared(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:30])
    merged, deleted = accounts[1], accounts[2]
    survivor = companies[40][0]  # a company the first night did not write
    marts = write_marts(tmp_path / "wh.duckdb", accounts)
    assert sync(marts, sync_config).ok
    before = {c: sandbox.company(c, PROPS) for c in (merged.company_id, deleted.company_id)}

    # Next night: the marts say one company was merged into another and one was deleted; the merged account is at
    # risk now and its row still names the merged-away id (e.g. a mart built from a stale association).
    now_risky = merged.risky()
    tonight = [now_risky if a is merged else a for a in accounts]
    write_marts(
        marts,
        tonight,
        as_of=AS_OF + timedelta(days=1),
        removed={merged.company_id: ("merged", survivor), deleted.company_id: ("archived", None)},
    )
    report = sync(marts, sync_config)
    assert report.ok, report.summary_lines()
    assert report.plan["company_rows_merged"] == 1 and report.plan["state_forgotten"] == 2
    assert {c: sandbox.company(c, PROPS) for c in before} == before  # not one write to either
    assert sandbox.company(survivor, PROPS)["cs_at_risk"] == "true"
    assert survivor in sandbox.list_members() and merged.company_id not in sandbox.list_members()
    at_survivor = [
        t for t in sandbox.tasks() if t["properties"]["csops_task_key"].startswith(merged.account_id + ":usage-drop")
    ]
    associated = sandbox.hubspot(
        "POST", "/crm/v4/associations/tasks/companies/batch/read", json={"inputs": [{"id": at_survivor[0]["id"]}]}
    ).json()["results"][0]["to"]
    assert [str(a["toObjectId"]) for a in associated] == [survivor]
    state = state_rows(marts)
    assert merged.company_id not in state and deleted.company_id not in state and survivor in state


def test_a_record_not_found_is_written_again_once_newer_marts_show_it() -> None:
    state = SyncState(accounts={"42": KnownAccount("42", "acc_1", None, None, gone_on=AS_OF)})
    removals_tonight = Removals({}, {"42": AS_OF})
    assert removals_tonight.target("42") == (None, "not_found")
    same_night = Removals.of(MartSnapshot(AS_OF, [], []), state)
    next_night = Removals.of(MartSnapshot(AS_OF + timedelta(days=1), [], []), state)
    assert same_night.target("42") == (None, "not_found")
    assert next_night.target("42") == ("42", None)  # restored in the CRM: the marts show it live again
