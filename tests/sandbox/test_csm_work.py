"""The sandbox's CSMs work the tasks pushed into its CRM when its clock advances: they complete, delete or hand
over tasks at a pace set by their workload, log their activity, and a completed playbook changes the account's
story by the playbook's true effect (recorded in truth/)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sandbox.generator.csm_work import LEDGER_FILE, completion_probability, worked_probability
from sandbox.generator.world import advance

PLAYBOOKS = ("Renewal rescue", "Usage-drop check-in", "Periodic health review")
TODAY = date(2026, 11, 1)
DAYS = 40


def push_tasks(api, companies: list[dict]) -> list[str]:
    """What csops' nightly push writes: the key property, then one task per company with key, due date, owner."""
    key_property = {"name": "csops_task_key", "label": "csops task key", "type": "string", "fieldType": "text"}
    assert (
        api.hubspot("POST", "/crm/v3/properties/tasks", json={**key_property, "groupName": "task"}).status_code == 201
    )
    inputs = []
    for n, company in enumerate(companies):
        playbook = PLAYBOOKS[n % len(PLAYBOOKS)]
        slug = playbook.lower().replace(" ", "-")
        inputs.append(
            {
                "properties": {
                    "csops_task_key": f"{company['account_id']}:{slug}",
                    "hs_timestamp": "2026-11-06T12:00:00Z",
                    "hs_task_subject": playbook,
                    "hs_task_body": f"Playbook: {playbook} (trigger: red_health). Created by csops.",
                    "hubspot_owner_id": company["hubspot_owner_id"],
                },
                "associations": [
                    {
                        "to": {"id": company["id"]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                    }
                ],
            }
        )
    ids = []
    for start in range(0, len(inputs), 100):
        created = api.hubspot(
            "POST", "/crm/v3/objects/tasks/batch/create", json={"inputs": inputs[start : start + 100]}
        )
        assert created.status_code == 201, created.text
        ids += [r["id"] for r in created.json()["results"]]
    return ids


@pytest.fixture(scope="module")
def worked_world(world_dir: Path, serve, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """Two identical copies of a world (no past usage events) whose CRM got 120 csops tasks, each advanced 40
    days: one by `advance`, the other through the running server's admin API."""
    root = tmp_path_factory.mktemp("csm-work")
    world = root / "sandbox"
    world.mkdir()
    shutil.copytree(world_dir / "world", world / "world")
    shutil.copy2(world_dir / "manifest.json", world / "manifest.json")
    companies = [c for c in pq.read_table(world / "world" / "hubspot_companies.parquet").to_pylist() if c["account_id"]]
    with serve(world) as api:
        task_ids = push_tasks(api, [c for c in companies if not c["archived"]][:120])
    twin = root / "twin"
    shutil.copytree(world, twin)
    advance(world, DAYS)
    with serve(twin) as api:  # the same through the admin API, while the twin is served
        moved = api.http.post(f"{api.base}/_admin/advance", json={"days": DAYS}, timeout=300)
        assert moved.status_code == 200, moved.text
        assert moved.json()["today"] == (TODAY + timedelta(days=DAYS)).isoformat()
        assert api.http.post(f"{api.base}/_admin/advance", json={}, timeout=30).status_code == 400
    return world, twin, task_ids


def test_csms_complete_delete_and_hand_over_tasks_as_the_crm_then_shows(worked_world, serve):
    world, _, task_ids = worked_world
    truth = {r["task_id"]: r for r in pq.read_table(world / "truth" / "playbook_tasks.parquet").to_pylist()}
    assert set(truth) == set(task_ids)
    statuses = {r["status"] for r in truth.values()}
    assert {"completed", "open"} <= statuses, statuses  # some done, some left for later
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with serve(world) as api:
        live, _ = api.search_all(
            "tasks",
            {"filterGroups": [], "properties": ["hs_task_status", "hs_task_completion_date", "hubspot_owner_id"]},
        )
        archived = api.hubspot("GET", "/crm/v3/objects/tasks", params={"archived": "true", "limit": 100}).json()
        emails = api.hubspot("GET", "/crm/v3/objects/emails", params={"limit": 100}).json()["results"]
        meetings, _ = api.search_all("meetings", {"filterGroups": []})
    served = {t["id"]: t["properties"] for t in live}
    assert {t["id"] for t in archived["results"]} == {i for i, r in truth.items() if r["status"] == "deleted"}
    for task_id, row in truth.items():
        if row["status"] == "deleted":
            continue
        props = served[task_id]
        assert props["hubspot_owner_id"] == row["owner_id"]
        if row["status"] == "completed":
            done = datetime.fromisoformat(props["hs_task_completion_date"].replace("Z", "+00:00"))
            assert done == row["completed_at"] and start <= done < start + timedelta(days=DAYS)
            assert done.weekday() < 5 and 9 <= done.hour <= 18  # CSMs work weekdays, office hours
        else:
            assert props["hs_task_status"] == "NOT_STARTED"
    completed_days = {r["completed_at"].date() for r in truth.values() if r["status"] == "completed"}
    logged = {datetime.fromisoformat(m["properties"]["hs_createdate"].replace("Z", "+00:00")).date() for m in meetings}
    assert completed_days <= logged | {
        datetime.fromisoformat(e["properties"]["hs_createdate"].replace("Z", "+00:00")).date() for e in emails
    }


def test_the_same_tasks_and_days_give_the_same_work_and_truth(worked_world):
    world, twin, _ = worked_world
    assert (world / LEDGER_FILE).read_bytes() == (twin / LEDGER_FILE).read_bytes()
    for name in ("playbook_tasks", "mrr_monthly", "churn_events"):
        assert pq.read_table(world / "truth" / f"{name}.parquet") == pq.read_table(twin / "truth" / f"{name}.parquet")


def test_a_completed_playbook_changes_the_account_only_by_its_true_effect(worked_world):
    world, _, _ = worked_world
    rows = pq.read_table(world / "truth" / "playbook_tasks.parquet").to_pylist()
    for row in rows:
        if row["status"] != "completed" or (row["true_health_lift"] == 0 and row["true_churn_factor"] == 1):
            # Without an effect (or without a completion) the counterfactual is the account as it is.
            assert row["is_customer_90d"] == row["is_customer_90d_without_playbook"]
    effects = pq.read_table(world / "truth" / "playbook_effects.parquet").to_pylist()
    by_slug = {e["playbook_slug"]: e for e in effects}
    assert by_slug["periodic-health-review"]["true_health_lift"] == 0
    assert by_slug["renewal-rescue"]["true_churn_factor"] < 1


def test_busier_csms_work_fewer_tasks_and_more_slowly():
    from sandbox.generator.csm_work import WorkedTask

    task = WorkedTask(1, "acc_000001:renewal-rescue", 1, "9000000001", "renewal-rescue", "1", "2026-11-01", None)
    assert worked_probability(0, 35, "mid_market") > worked_probability(40, 35, "mid_market")
    assert worked_probability(10, 20, "mid_market") > worked_probability(10, 70, "mid_market")
    assert completion_probability(task, 0, 35, "mid_market") > completion_probability(task, 60, 35, "mid_market")
