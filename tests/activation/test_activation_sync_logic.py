"""One sync end to end against an in-memory CRM: safety (dry run, breaker, preflight, lock), state and log,
failure isolation and the paths a real server cannot provoke on demand (ambiguous creates, a crash)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from activation_support import Account, FakeCrm, FakeTask, accounts_for, query, write_marts, write_run_results

from activation import SyncConfig, run_sync
from activation.state import journal_dir

COMPANIES = [(f"9{i:04d}", f"acc_{i:04d}", "81000001") for i in range(250)]


@pytest.fixture
def config(tmp_path: Path) -> SyncConfig:
    # One CSM owns all 250 accounts here: these tests are about the sync's logic, not the per-CSM cap or the spread
    # of reviews (CSOPS_SYNC_MAX_TASKS_PER_CSM=0, CSOPS_SYNC_SPREAD_REVIEWS=false; see test_activation_first_night).
    return SyncConfig(
        access_token=None,
        dbt_target_dir=tmp_path / "no-dbt",
        ambiguous_write_pause_seconds=0,
        max_tasks_per_csm=None,
        spread_reviews=False,
    )


@pytest.fixture
def marts(tmp_path: Path) -> Path:
    return write_marts(tmp_path / "wh.duckdb", accounts_for(COMPANIES))


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm(companies={c: {} for c, _, _ in COMPANIES})


def sync(marts: Path, config: SyncConfig, crm: FakeCrm, **kwargs):
    lines: list[str] = []
    report = run_sync(marts, config=config, crm=crm, log=lines.append, **kwargs)
    report.log_lines = lines  # type: ignore[attr-defined]
    return report


def test_first_sync_pushes_everything_and_records_state_and_log(marts: Path, config: SyncConfig, crm: FakeCrm):
    report = sync(marts, config, crm)
    assert report.ok and report.status == "succeeded" and report.first_sync
    assert "first sync" in (report.breaker or "")
    assert report.count("company", "update", "ok") == 250
    assert crm.calls["update"] == 3  # ceil(250 / 100)
    assert crm.companies["90000"]["cs_at_risk"] == "true" and crm.companies["90001"]["cs_at_risk"] == "false"
    assert crm.lists["At-risk accounts (nightly)"] == {c for i, (c, _, _) in enumerate(COMPANIES) if i % 5 == 0}
    assert len(crm.tasks) == 250 + 50 and len({t.key for t in crm.tasks}) == 300
    runs = query(marts, "select status, dry_run, counts, as_of_date from activation.sync_runs")
    assert runs[0][:2] == ("succeeded", False) and json.loads(runs[0][2])["company.update.ok"] == 250
    state = dict(query(marts, "select object_type, count(*) from activation.sync_state group by 1"))
    assert state == {"company": 250, "task": 300}
    log = dict(
        query(
            marts,
            "select object_type || '.' || action || '.' || status, count(*) from activation.sync_log group by 1",
        )
    )
    assert log == {"company.update.ok": 250, "list_member.add.ok": 50, "task.create.ok": 300}
    assert not journal_dir(marts).exists() or not any(journal_dir(marts).iterdir())


def test_rerun_sends_nothing(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    sync(marts, config, crm)
    writes = crm.writes()
    again = sync(marts, config, crm)
    assert again.ok and crm.writes() == writes
    assert again.plan["companies_unchanged"] == 250 and again.plan["tasks_within_cadence"] == 300
    assert crm.calls["search"] == 1  # the first run's lookup of due keys; the re-run has none due


def test_dry_run_writes_nothing_but_shows_the_plan(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    report = sync(marts, config, crm, dry_run=True)
    assert report.ok and report.status == "dry_run" and crm.writes() == 0
    assert report.count("company", "update", "planned") == 250
    assert report.count("task", "create", "planned") == 300
    assert report.count("list_member", "add", "planned") == 50
    assert any(s.startswith("update company") for s in report.samples)
    assert any(s.startswith("create task") for s in report.samples)
    assert "DRY_RUN" in report.summary_lines()[0] and "nothing written" in report.summary_lines()[0]
    assert query(marts, "select count(*) from activation.sync_state") == [(0,)]
    assert query(marts, "select status, dry_run from activation.sync_runs") == [("dry_run", True)]


def test_the_circuit_breaker_halts_without_writing_and_force_pushes(
    marts: Path, config: SyncConfig, crm: FakeCrm, tmp_path: Path
) -> None:
    sync(marts, config, crm)
    writes = crm.writes()
    flipped = [a.risky() if i % 5 and i < 150 else a for i, a in enumerate(accounts_for(COMPANIES))]
    write_marts(marts, flipped)
    halted = sync(marts, config, crm)
    assert not halted.ok and halted.status == "halted" and crm.writes() == writes
    assert "circuit breaker" in (halted.halted_reason or "") and "48.0%" in halted.halted_reason
    assert any("circuit breaker" in line for line in halted.summary_lines())
    dry = sync(marts, config, crm, dry_run=True)  # a dry run still shows the plan, and says it would halt
    assert dry.status == "halted" and dry.count("company", "update", "planned") == 120 and crm.writes() == writes
    forced = sync(marts, config, crm, force=True)
    assert forced.ok and forced.count("company", "update", "ok") == 120
    assert query(marts, "select status from activation.sync_runs order by started_at") == [
        ("succeeded",),
        ("halted",),
        ("halted",),
        ("succeeded",),
    ]


def test_the_breaker_share_is_configurable(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    sync(marts, config, crm)
    write_marts(marts, [a.risky() if i in (1, 2, 3) else a for i, a in enumerate(accounts_for(COMPANIES))])
    assert sync(marts, config.with_(max_change_share=0.01), crm).status == "halted"
    assert sync(marts, config.with_(max_change_share=0.02), crm).status == "succeeded"


def test_a_failed_preflight_blocks_even_when_forced(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    target = write_run_results(
        config.dbt_target_dir, [{"unique_id": "test.csops.unique_at_risk_accounts_account_id.x", "status": "fail"}]
    )
    report = sync(marts, config.with_(dbt_target_dir=target), crm, force=True)
    assert not report.ok and report.status == "blocked" and crm.requests_sent == 0
    assert "unique_at_risk_accounts_account_id" in (report.halted_reason or "")
    assert query(marts, "select status from activation.sync_runs") == [("blocked",)]


def test_a_missing_warehouse_is_reported(tmp_path: Path, config: SyncConfig, crm: FakeCrm) -> None:
    report = sync(tmp_path / "nowhere.duckdb", config, crm)
    assert report.status == "blocked" and "no warehouse" in (report.halted_reason or "")


def test_a_second_sync_on_the_same_warehouse_is_refused(marts: Path, config: SyncConfig, crm: FakeCrm):
    with marts.with_name(marts.name + ".sync.lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        report = sync(marts, config, crm)
    assert report.status == "failed" and "another CRM sync is running" in (report.halted_reason or "")
    assert crm.requests_sent == 0


def test_a_rejected_batch_is_split_until_the_bad_row_stands_alone(
    marts: Path, config: SyncConfig, crm: FakeCrm
) -> None:
    crm.reject_batches_with = {"90137"}
    report = sync(marts, config, crm)
    assert report.status == "partial" and not report.ok
    assert report.count("company", "update", "ok") == 249 and report.count("company", "update", "failed") == 1
    assert report.failures[0][:2] == ("company", "90137")
    # 3 batches; the rejected one halves down to its bad row (row 37 of 100: 50, 25, 13, 6, 3, 1 rows), 2 requests
    # per level; never more than 2 * ceil(log2(100)) = 14 extra
    assert crm.calls["update"] == 3 + 2 * 6
    # everything else went through: tasks and the list
    assert len(crm.tasks) == 300


def test_a_failed_row_is_retried_next_run_and_keeps_what_the_crm_last_accepted(
    marts: Path, config: SyncConfig, crm: FakeCrm
) -> None:
    sync(marts, config, crm)
    accepted = query(marts, "select payload from activation.sync_state where object_key = '90002'")[0][0]
    accounts = accounts_for(COMPANIES)
    accounts[2] = Account("acc_0002", "90002", "81000001", score=12.0, status="red")
    write_marts(marts, accounts)
    del crm.companies["90002"]  # deleted in the CRM meanwhile
    report = sync(marts, config, crm)
    assert report.status == "partial" and report.failures == [("company", "90002", "OBJECT_NOT_FOUND")]
    row = query(marts, "select status, last_error, payload from activation.sync_state where object_key = '90002'")
    assert row == [("failed", "OBJECT_NOT_FOUND", accepted)]
    crm.companies["90002"] = {}
    retried = sync(marts, config, crm)
    assert retried.ok and retried.count("company", "update", "ok") == 1
    assert any("retrying 1 company row" in n for n in retried.notes)
    assert crm.companies["90002"]["cs_health_status"] == "red"


def test_an_ambiguous_create_is_looked_up_before_it_is_retried(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    crm.ambiguous_creates = 2  # the first two batches are applied, but the answers are lost
    report = sync(marts, config, crm)
    assert report.ok
    assert len(crm.tasks) == 300 and len({t.key for t in crm.tasks}) == 300
    assert report.count("task", "create", "ok") == 300


def test_open_tasks_are_never_duplicated_and_completed_ones_come_back_after_their_cadence(
    marts: Path, config: SyncConfig, crm: FakeCrm, tmp_path: Path
) -> None:
    from datetime import timedelta

    from activation_support import AS_OF

    sync(marts, config, crm)
    crm.tasks[0].is_open = False  # a CSM completed one task
    write_marts(marts, accounts_for(COMPANIES), as_of=AS_OF + timedelta(days=31))
    report = sync(marts, config, crm)
    assert report.count("task", "create", "ok") == 1  # only the completed one, cadence elapsed
    assert report.count("task", "skip", "skipped") == 299  # still open: not duplicated
    assert len(crm.tasks) == 301


def test_a_task_found_in_the_crm_without_state_is_adopted_not_duplicated(
    marts: Path, config: SyncConfig, crm: FakeCrm
) -> None:
    crm.tasks.append(FakeTask("55", "acc_0000:periodic-health-review", "90000", "81000001", "made by a lost run"))
    report = sync(marts, config, crm)
    assert report.count("task", "skip", "skipped") == 1 and len(crm.tasks) == 300
    assert query(
        marts, "select crm_id from activation.sync_state where object_key = 'acc_0000:periodic-health-review'"
    ) == [("55",)]


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs (no finally of ours records the run)."""


def test_a_run_killed_mid_batch_is_recovered_from_its_journal(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    original = crm.create_tasks
    calls = {"n": 0}

    def dies_on_the_second_batch(tasks):
        calls["n"] += 1
        if calls["n"] == 2:
            original(tasks[:40])  # the CRM applied part of the batch, then the process died
            raise Killed
        return original(tasks)

    crm.create_tasks = dies_on_the_second_batch  # type: ignore[method-assign]
    with pytest.raises(Killed):
        sync(marts, config, crm)
    assert query(marts, "select status from activation.sync_runs") == [("running",)]
    assert len(list(journal_dir(marts).glob("*.jsonl"))) == 1
    crm.create_tasks = original  # type: ignore[method-assign]
    report = sync(marts, config, crm)
    assert report.ok and any("recovered 1 interrupted run" in n for n in report.notes)
    assert len(crm.tasks) == 300 and len({t.key for t in crm.tasks}) == 300
    assert report.count("company", "update", "ok") == 0  # the killed run's updates came back from its journal
    statuses = query(marts, "select status from activation.sync_runs order by started_at")
    assert statuses == [("crashed",), ("succeeded",)]
    assert not list(journal_dir(marts).glob("*.jsonl"))
    assert sync(marts, config, crm).plan.get("tasks_due", 0) == 0


def test_log_and_state_tables_have_the_documented_columns(marts: Path, config: SyncConfig, crm: FakeCrm):
    sync(marts, config, crm)

    def columns(table: str) -> list[str]:
        return [
            r[0]
            for r in query(
                marts,
                f"select column_name from information_schema.columns where "
                f"table_schema = 'activation' and table_name = '{table}' "
                f"order by ordinal_position",
            )
        ]

    assert columns("sync_runs")[:7] == [
        "run_id",
        "started_at",
        "finished_at",
        "status",
        "dry_run",
        "counts",
        "halted_reason",
    ]
    assert columns("sync_log")[:7] == ["run_id", "object_type", "object_key", "action", "status", "error", "at"]
    assert {"object_type", "object_key", "crm_id", "payload", "status", "last_error"} <= set(columns("sync_state"))


def test_a_warehouse_held_by_another_writer_is_reported(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(marts)!r}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        report = sync(marts, config, crm)
    finally:
        holder.communicate("")
    assert report.status == "failed" and "cannot open the warehouse" in (report.halted_reason or "")
    assert crm.requests_sent == 0


def test_an_unexpected_error_is_recorded_as_a_failed_run(marts: Path, config: SyncConfig, crm: FakeCrm) -> None:
    def broken(updates):
        raise ValueError("unexpected answer")

    crm.update_accounts = broken  # type: ignore[method-assign]
    report = sync(marts, config, crm)
    assert report.status == "failed" and "ValueError: unexpected answer" in (report.halted_reason or "")
    assert any("Traceback" in line for line in report.log_lines)
    assert query(marts, "select status from activation.sync_runs") == [("failed",)]


def test_rows_without_a_crm_company_are_logged_but_not_remembered(tmp_path: Path, config: SyncConfig) -> None:
    accounts = [*accounts_for(COMPANIES[:10]), Account("acc_nocrm", None).risky()]
    marts = write_marts(tmp_path / "wh.duckdb", accounts)
    report = sync(marts, config, FakeCrm(companies={c: {} for c, _, _ in COMPANIES[:10]}))
    assert (
        report.ok and report.count("company", "skip", "skipped") == 1 and report.count("task", "skip", "skipped") == 2
    )
    assert query(marts, "select count(*) from activation.sync_state where object_key like 'acc_nocrm%'") == [(0,)]
    assert query(marts, "select count(*) from activation.sync_log where object_key like 'acc_nocrm%'") == [(3,)]
