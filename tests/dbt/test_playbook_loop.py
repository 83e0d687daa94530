"""The loop closed on the sandbox: csops pushes its tasks, the simulated CSMs work them for 95 days (completing,
deleting, handing over, at a pace set by their workload), the pipeline reads the tasks and the CSMs' activity back,
and the marts measure each playbook's lift — checked against the effect the sandbox recorded as truth.

One push night with every task at once (no per-CSM cap, reviews not spread: what an operator gets with
CSOPS_SYNC_MAX_TASKS_PER_CSM=0 and CSOPS_SYNC_SPREAD_REVIEWS=false) on 1,000 accounts gives about 900 tasks, the
most any playbook needs for a comparison of a few dozen tasks each; the usage events stay at the tiny scale's
count, since tasks come from accounts, not events (a night there costs what a tiny night does). Then 95 days, so
every task's 90-day outcome is known. Stripe serves only 30 days of events, so after that gap the billing source
is re-read whole (`csops run --full-refresh stripe`), as an operator would.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pyarrow.parquet as pq
import pytest

from activation import run_sync
from ingestion.pipeline import ingest
from sandbox.generator.world import advance, generate
from sandbox.manifest import Manifest, resolve_scale
from sandbox.server.app import running_server
from tests.support import SANDBOX_SEED, SANDBOX_TODAY, UNTHROTTLED_FAULTS, Company, dbt, point_at_sandbox

ACCOUNTS = 1_000
EVENTS = 150_000
OUTCOME_DAYS = 90  # dbt var playbook_outcome_days
COMPLETION_WINDOW_DAYS = 30  # dbt var playbook_completion_window_days
REVIEW_MIN_TASKS = 40  # dbt var playbook_review_min_tasks
DAYS_WORKED = OUTCOME_DAYS + 5


@pytest.fixture(scope="module")
def worked_company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    root = tmp_path_factory.mktemp("playbook_loop")
    sandbox = root / "sandbox"
    generate(sandbox, SANDBOX_SEED, resolve_scale("tiny", accounts=ACCOUNTS, events=EVENTS), SANDBOX_TODAY)
    warehouse = root / "warehouse.duckdb"
    patch = pytest.MonkeyPatch()
    for name, value in {
        "CSOPS_WAREHOUSE": str(warehouse),
        "CSOPS_DLT_PIPELINES_DIR": str(root / "dlt"),
        "CSOPS_DBT_TARGET_DIR": str(root / "target"),  # the push's preflight reads this build's results
        "CSOPS_SYNC_MAX_TASKS_PER_CSM": "0",
        "CSOPS_SYNC_SPREAD_REVIEWS": "false",
    }.items():
        patch.setenv(name, value)

    def night(full_refresh: tuple[str, ...] = ()) -> None:
        patch.setenv("CSOPS_AS_OF_DATE", Manifest.read(sandbox).today.isoformat())
        ingest(warehouse=warehouse, full_refresh=full_refresh)
        built = dbt(["build"], root)
        assert built.returncode == 0, built.stdout[-3000:]

    try:
        with running_server(sandbox, faults=[*UNTHROTTLED_FAULTS, "hubspot:search_lag:0"]) as url:
            point_at_sandbox(patch, sandbox, url, throttled=False)
            night()
            pushed = run_sync(warehouse, log=lambda line: None)
            assert pushed.status == "succeeded", pushed.halted_reason
            advance(sandbox, DAYS_WORKED)
            night(full_refresh=("stripe",))
    finally:
        patch.undo()
    return Company(sandbox, warehouse, Manifest.read(sandbox).today)


def mart(company: Company, sql: str) -> list[dict]:
    with duckdb.connect(str(company.warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def truth_tasks(company: Company) -> dict[str, dict]:
    return {r["task_id"]: r for r in pq.read_table(company.truth / "playbook_tasks.parquet").to_pylist()}


def test_every_task_is_read_back_as_the_csms_left_it(worked_company):
    truth = truth_tasks(worked_company)
    outcomes = {r["task_id"]: r for r in mart(worked_company, "select * from marts.playbook_outcomes")}
    assert set(outcomes) == set(truth) and len(truth) >= 500
    for task_id, row in outcomes.items():
        simulated = truth[task_id]
        assert (row["status"], row["owner_id"], row["created_on"]) == (
            simulated["status"],
            simulated["owner_id"],
            simulated["created_on"],
        ), task_id
        if simulated["status"] == "completed":
            assert abs(row["completed_at"] - simulated["completed_at"].replace(tzinfo=None)) < timedelta(seconds=1)
            if row["completed_on"] < row["outcome_on"]:
                assert row["activities_after"] >= 2  # the conversation and the note the CSM logged
        assert row["was_customer_at_creation"] == simulated["was_customer_at_creation"]
        assert row["is_outcome_known"] and row["is_recovered"] == simulated["is_customer_90d"], task_id


def test_completion_depends_on_the_csms_workload(worked_company):
    rows = mart(
        worked_company,
        """
        select o.owner_id, count(*) as tasks, avg(case when o.is_completed then 1.0 else 0 end) as completed
        from marts.playbook_outcomes as o group by o.owner_id having count(*) >= 10""",
    )
    busiest = max(rows, key=lambda r: r["tasks"])
    lightest = min(rows, key=lambda r: r["tasks"])
    assert busiest["completed"] < lightest["completed"], (busiest, lightest)


def true_lift(company: Company) -> dict[str, tuple[int, float]]:
    """Per playbook name: tasks completed within the window whose account was a customer on the task's night, and
    the mean effect the sandbox recorded for them (customer 90 days later with the playbook minus without it)."""
    names = {
        r["task_id"]: r["playbook"] for r in mart(company, "select task_id, playbook from marts.playbook_outcomes")
    }
    effects: dict[str, list[int]] = {}
    for task_id, row in truth_tasks(company).items():
        done = row["status"] == "completed" and (
            row["completed_at"].date() - row["created_on"] <= timedelta(days=COMPLETION_WINDOW_DAYS)
        )
        if done and row["was_customer_at_creation"]:
            effect = int(row["is_customer_90d"]) - int(row["is_customer_90d_without_playbook"])
            effects.setdefault(names[task_id], []).append(effect)
    return {name: (len(values), sum(values) / len(values)) for name, values in effects.items()}


def test_each_playbooks_lift_interval_contains_its_true_effect(worked_company):
    truth = true_lift(worked_company)
    measured = mart(worked_company, "select * from marts.playbook_effectiveness where lift is not null")
    judged = [
        r for r in measured if r["compared_completed_tasks"] + r["compared_not_completed_tasks"] >= REVIEW_MIN_TASKS
    ]
    assert len(judged) >= 3, measured
    for row in judged:
        tasks, effect = truth[row["playbook"]]
        assert row["lift_ci_low"] <= effect <= row["lift_ci_high"], (row, tasks, effect)
        assert row["lift_ci_high"] - row["lift_ci_low"] < 0.8, row  # an interval that says something


def test_a_playbook_without_effect_is_flagged_for_review(worked_company):
    effects = pq.read_table(worked_company.truth / "playbook_effects.parquet").to_pylist()
    effects = {r["playbook_slug"]: r for r in effects}
    assert effects["periodic-health-review"]["true_health_lift"] == 0
    assert effects["periodic-health-review"]["true_churn_factor"] == 1
    (review,) = mart(
        worked_company, "select * from marts.playbook_effectiveness where playbook = 'Periodic health review'"
    )
    assert review["is_flagged_for_review"] and "lift not above zero" in review["review_reason"]


def test_overdue_tasks_reach_the_at_risk_list_and_the_csm_books(worked_company):
    today = worked_company.today
    open_tasks = [t for t in truth_tasks(worked_company).values() if t["status"] == "open"]
    overdue = mart(
        worked_company,
        """
        select account_id, days_overdue, trigger_name from marts.playbook_outcomes where is_overdue""",
    )
    assert len(overdue) == len(open_tasks) > 0  # every open task was due long ago
    listed = {r["account_id"]: r["risk_reasons"] for r in mart(worked_company, "select * from marts.at_risk_accounts")}
    for task in overdue:
        reason = f"playbook task overdue {task['days_overdue']} days"
        if task["account_id"] in listed and reason in listed[task["account_id"]]:
            break
    else:
        pytest.fail("no overdue task is named on the at-risk list")
    books = {r["owner_id"]: r for r in mart(worked_company, "select * from marts.csm_book_of_business")}
    per_owner: dict[str, int] = {}
    for task in open_tasks:
        per_owner[task["owner_id"]] = per_owner.get(task["owner_id"], 0) + 1
    for owner, book in books.items():
        assert book["crm_open_tasks"] == book["crm_overdue_tasks"] == per_owner.get(owner, 0), owner
    assert today > max(t["created_on"] for t in open_tasks) + timedelta(days=14)


def test_dagster_reports_completion_and_lift_per_playbook(worked_company):
    from orchestration.defs.transformation import warehouse_facts
    from orchestration.resources import WarehouseResource

    facts = warehouse_facts(
        WarehouseResource(path=str(worked_company.warehouse)),
        ["marts.playbook_outcomes", "marts.playbook_effectiveness"],
    )
    outcomes = mart(
        worked_company,
        "select count(*) as tasks, count(*) filter (where is_completed) as done from marts.playbook_outcomes",
    )[0]
    assert facts["playbook_outcomes"]["completion_rate"] == pytest.approx(outcomes["done"] / outcomes["tasks"])
    by_playbook = facts["playbook_effectiveness"]["by_playbook"].data
    for row in mart(worked_company, "select * from marts.playbook_effectiveness"):
        reported = by_playbook[row["playbook"]]
        assert (reported["completion_rate"], reported.get("lift")) == (row["completion_rate"], row["lift"])
