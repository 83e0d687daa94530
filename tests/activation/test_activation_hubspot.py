"""The sync against the sandbox's HubSpot-compatible API: what lands in the CRM, request counts, faults."""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from pathlib import Path

from activation_support import Account, Sandbox, accounts_for, default_tasks, query, write_marts

from activation import SyncConfig, run_sync
from activation.crm.hubspot import HubSpotCrm
from activation.fields import ALLOWED_ACCOUNT_FIELDS
from activation.model import task_key
from ingestion.rate_limit import Limit
from sandbox.server.app import running_server

PROPS = sorted(ALLOWED_ACCOUNT_FIELDS)


def sync(warehouse: Path, config: SyncConfig, **kwargs):
    lines: list[str] = []
    report = run_sync(warehouse, config=config, log=lines.append, **kwargs)
    report.log_lines = lines  # type: ignore[attr-defined]
    return report


def test_first_sync_lands_in_the_crm(sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path, companies) -> None:
    report = sync(sandbox_marts, sync_config)
    assert report.ok, report.summary_lines()
    accounts = accounts_for(companies[:250])
    risky = [a for a in accounts if a.at_risk]
    props = sandbox.company(risky[0].company_id, PROPS)
    assert props["cs_at_risk"] == "true" and props["cs_health_status"] == "red" and props["cs_health_score"] == "30"
    assert props["cs_playbook"] == "Usage-drop check-in" and props["cs_risk_reasons"].startswith("health red")
    assert props["cs_synced_at"].startswith("20") and props["cs_arr"] == str(int(risky[0].arr))
    healthy = sandbox.company(accounts[1].company_id, PROPS)
    assert healthy["cs_at_risk"] == "false" and healthy["cs_playbook"] in ("", None)
    assert sandbox.list_members() == {a.company_id for a in risky}

    tasks = sandbox.tasks()
    expected = {task_key(t.account_id, t.playbook): t for t in default_tasks(accounts)}
    assert Counter(t["properties"]["csops_task_key"] for t in tasks) == Counter(list(expected))
    risky_key = task_key(risky[0].account_id, risky[0].playbook)
    task = next(t for t in tasks if t["properties"]["csops_task_key"] == risky_key)
    assert task["properties"]["hubspot_owner_id"] == risky[0].owner_id
    assert task["properties"]["hs_timestamp"] == "2026-11-06T12:00:00.000Z"  # due in 5 days, noon UTC
    assert task["properties"]["hs_task_priority"] == "MEDIUM" and task["properties"]["hs_task_status"] == "NOT_STARTED"
    associated = sandbox.hubspot(
        "POST", "/crm/v4/associations/tasks/companies/batch/read", json={"inputs": [{"id": task["id"]}]}
    ).json()["results"][0]["to"]
    assert [str(a["toObjectId"]) for a in associated] == [risky[0].company_id]
    assert query(sandbox_marts, "select status from activation.sync_runs") == [("succeeded",)]


def test_only_allow_listed_properties_are_ever_written(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    company_id = query(sandbox_marts, "select company_id from marts.customer_360 order by account_id limit 1")[0][0]
    names = [p["name"] for p in sandbox.hubspot("GET", "/crm/v3/properties/companies").json()["results"]]
    before = sandbox.company(company_id, names)
    assert sync(sandbox_marts, sync_config).ok
    names = [p["name"] for p in sandbox.hubspot("GET", "/crm/v3/properties/companies").json()["results"]]
    after = sandbox.company(company_id, names)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed - {"hs_lastmodifieddate"} == ALLOWED_ACCOUNT_FIELDS
    created = {p["name"]: p for p in sandbox.hubspot("GET", "/crm/v3/properties/companies").json()["results"]}
    assert all(created[name]["groupName"] == "csops" for name in ALLOWED_ACCOUNT_FIELDS)
    assert created["cs_health_status"]["type"] == "enumeration" and created["cs_at_risk"]["type"] == "bool"


def test_a_first_sync_creates_the_property_group_before_its_properties(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    for object_type in ("companies", "tasks"):
        assert sandbox.hubspot("GET", f"/crm/v3/properties/{object_type}/groups/csops").status_code == 404
    sandbox.reset_requests()
    assert sync(
        sandbox_marts, sync_config
    ).ok  # the sandbox, like HubSpot, rejects a property in a group that is missing
    for object_type in ("companies", "tasks"):
        group = sandbox.hubspot("GET", f"/crm/v3/properties/{object_type}/groups/csops")
        assert group.status_code == 200 and group.json()["label"] == "CS Ops (csops)"
        assert sandbox.count("GET", f"/properties/{object_type}/groups/csops", status=404) == 1
        assert sandbox.count("POST", f"/properties/{object_type}/groups", status=201) == 1
    created = {p["name"]: p for p in sandbox.hubspot("GET", "/crm/v3/properties/companies").json()["results"]}
    assert {created[name]["groupName"] for name in ALLOWED_ACCOUNT_FIELDS} == {"csops"}

    sandbox.reset_requests()
    assert sync(sandbox_marts, sync_config).ok  # everything exists now: no group requests at all
    assert sandbox.count("GET", "/groups/csops") == sandbox.count("POST", "/groups") == 0


def test_a_spent_portal_budget_in_the_headers_holds_the_sync_instead_of_meeting_429s(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    # Other apps share the portal's budget: the server allows far fewer requests than our own limiter would send.
    sandbox.faults("hubspot:window:4/2")
    roomy = sync_config.with_(rate_limit=Limit(100, 10.0))
    sandbox.reset_requests()
    report = sync(sandbox_marts, roomy)
    assert report.ok, report.summary_lines()
    assert sandbox.count("GET", "/crm/v3/properties/companies") >= 1  # it did talk to the CRM
    assert sandbox.requests()["vendors"]["hubspot"]["statuses"].get("429", 0) == 0


def test_update_requests_equal_the_batching_floor(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    report = sync(sandbox_marts, sync_config)
    assert report.ok and report.count("company", "update", "ok") == 250
    assert sandbox.count("POST", "/crm/v3/objects/companies/batch/update") == math.ceil(250 / 100)
    tasks = report.count("task", "create", "ok")
    assert tasks == 300 and sandbox.count("POST", "/crm/v3/objects/tasks/batch/create") == math.ceil(tasks / 100)
    assert sandbox.count("PUT", "/memberships/add") == 1
    assert report.requests == sandbox.requests()["vendors"]["hubspot"]["total"]


def test_rerun_sends_nothing(sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path) -> None:
    assert sync(sandbox_marts, sync_config).ok
    sandbox.reset_requests()
    again = sync(sandbox_marts, sync_config)
    assert again.ok and sandbox.writes() == 0
    assert again.count("company", "update", "ok") == 0 and again.count("task", "create", "ok") == 0
    assert sandbox.count("POST", "/search") == 0  # tasks within their cadence need no lookup either


def test_dry_run_writes_nothing(sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path) -> None:
    report = sync(sandbox_marts, sync_config, dry_run=True)
    assert report.ok and report.status == "dry_run"
    assert sandbox.writes() == 0
    assert report.count("company", "update", "planned") == 250 and report.count("task", "create", "planned") == 300
    assert report.count("schema", "create_property", "planned") == 9
    names = {p["name"] for p in sandbox.hubspot("GET", "/crm/v3/properties/companies").json()["results"]}
    assert not names & ALLOWED_ACCOUNT_FIELDS
    assert query(sandbox_marts, "select count(*) from activation.sync_state") == [(0,)]
    # and a dry run after a real one shows what a change would do, still without writing
    assert sync(sandbox_marts, sync_config).ok
    write_marts(sandbox_marts, [a.risky() if i == 1 else a for i, a in enumerate(accounts_for_rows(sandbox_marts))])
    sandbox.reset_requests()
    dry = sync(sandbox_marts, sync_config, dry_run=True)
    assert sandbox.writes() == 0 and dry.count("company", "update", "planned") == 1
    assert dry.count("list_member", "add", "planned") == 1
    assert any("cs_at_risk 'false'->'true'" in s for s in dry.samples)


def accounts_for_rows(warehouse: Path) -> list[Account]:
    rows = query(
        warehouse,
        "select c.account_id, c.company_id, c.owner_id, h.health_score, h.health_status, h.health_change_30d, "
        "c.arr_usd, r.account_id is not null from marts.customer_360 c "
        "join marts.customer_health_daily h using (account_id) left join marts.at_risk_accounts r using (account_id) "
        "order by c.account_id",
    )
    out = [Account(a, c, o, s, st, ch, arr) for a, c, o, s, st, ch, arr, _ in rows]
    return [a.risky() if risky else a for a, (*_, risky) in zip(out, rows, strict=True)]


def test_a_429_storm_is_ridden_out(sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path) -> None:
    sandbox.faults("hubspot:rate_limit:8")
    report = sync(sandbox_marts, sync_config)
    assert report.ok, report.summary_lines()
    assert sandbox.requests()["vendors"]["hubspot"]["statuses"]["429"] == 8
    assert report.count("company", "update", "ok") == 250 and len(sandbox.tasks()) == 300
    assert any("retrying" in line and "429" in line for line in report.log_lines)


def fault_before_first(crm: HubSpotCrm, method: str, sandbox: Sandbox, *specs: str) -> HubSpotCrm:
    """Arm sandbox faults right before the adapter's first call of `method`, so they hit that request."""
    original = getattr(crm, method)
    armed = {"done": False}

    def wrapper(*args, **kwargs):
        if not armed["done"]:
            armed["done"] = True
            sandbox.faults(*specs)
        return original(*args, **kwargs)

    setattr(crm, method, wrapper)
    return crm


def test_5xx_bursts_are_retried_and_retry_after_is_honoured(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    sandbox.faults("hubspot:server_error:2:503:1")
    started = time.monotonic()
    report = sync(sandbox_marts, sync_config)
    assert report.ok and time.monotonic() - started >= 2.0  # two Retry-After: 1 waits
    sandbox.faults(reset=True)
    write_marts(
        sandbox_marts,
        [
            Account(a.account_id, a.company_id, a.owner_id, score=31.0, status="red", change=-1.0)
            for a in accounts_for_rows(sandbox_marts)
        ],
    )
    sandbox.reset_requests()
    crm = fault_before_first(HubSpotCrm(sync_config), "update_accounts", sandbox, "hubspot:server_error:3:mixed")
    again = sync(sandbox_marts, sync_config, force=True, crm=crm)
    assert again.ok and again.count("company", "update", "ok") == 250
    statuses = sandbox.requests()["paths"]["POST /hubspot/crm/v3/objects/companies/batch/update"]["statuses"]
    assert statuses == {"500": 1, "502": 1, "503": 1, "200": 3}
    assert sandbox.company(accounts_for_rows(sandbox_marts)[0].company_id, PROPS)["cs_health_score"] == "31"


def test_a_failed_task_create_is_looked_up_then_sent_again_without_duplicates(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    crm = fault_before_first(HubSpotCrm(sync_config), "create_tasks", sandbox, "hubspot:server_error:1:502")
    report = sync(sandbox_marts, sync_config, crm=crm)
    assert report.ok, report.summary_lines()
    creates = sandbox.requests()["paths"]["POST /hubspot/crm/v3/objects/tasks/batch/create"]["statuses"]
    assert creates == {"502": 1, "201": 3}
    assert sandbox.count("POST", "/crm/v3/objects/tasks/search") >= 1  # looked up before sending again
    keys = Counter(t["properties"]["csops_task_key"] for t in sandbox.tasks())
    assert len(keys) == 300 and set(keys.values()) == {1}


def test_one_bad_row_never_blocks_the_rest(
    sandbox: Sandbox, sync_config: SyncConfig, tmp_path: Path, companies
) -> None:
    accounts = accounts_for(companies[:120])
    ghost = Account("acc_ghost", "9999999999", "81000001").risky()  # no such company in the CRM
    accounts.append(ghost)
    tasks = default_tasks(accounts)
    bad_owner = tasks[3]
    tasks[3] = type(bad_owner)(**{**bad_owner.__dict__, "owner_id": "123"})  # no such owner: HubSpot rejects the batch
    sandbox_marts = write_marts(tmp_path / "wh.duckdb", accounts, tasks=tasks)
    report = sync(sandbox_marts, sync_config)
    assert report.status == "partial" and not report.ok
    assert report.count("company", "update", "ok") == 120
    # The company that does not exist answers OBJECT_NOT_FOUND: logged as gone, not a failure, and nothing more is
    # sent to it tonight (no list membership, no task).
    assert report.count("company", "update", "gone") == 1 and report.count("company", "update", "failed") == 0
    assert report.count("list_member", "add", "gone") == 0 and report.count("list_member", "add", "failed") == 0
    assert any("9999999999 not found" in line for line in report.log_lines)  # type: ignore[attr-defined]
    failed_tasks = {k for t, k, _ in report.failures if t == "task"}
    assert failed_tasks == {task_key(bad_owner.account_id, bad_owner.playbook)}
    assert len(sandbox.tasks()) == len(tasks) - 3
    assert sandbox.list_members() == {a.company_id for a in accounts if a.at_risk} - {"9999999999"}
    errors = dict(
        query(
            sandbox_marts,
            "select object_key, error from activation.sync_log where object_type = 'company' and status = 'gone'",
        )
    )
    assert "OBJECT_NOT_FOUND" in errors["9999999999"]
    # next run: only the failed rows are tried again; the record that is not there is not
    sandbox.reset_requests()
    retry = sync(sandbox_marts, sync_config)
    assert retry.status == "partial" and retry.count("task", "create", "failed") == 1
    assert retry.count("company", "update", "ok") == 0 and retry.count("company", "update", "gone") == 0
    assert sandbox.count("POST", "/crm/v3/objects/companies/batch/update") == 0
    assert any("retrying 1 task" in n for n in retry.notes)


def test_recovered_accounts_leave_the_list_and_lose_the_flag(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    assert sync(sandbox_marts, sync_config).ok
    accounts = accounts_for_rows(sandbox_marts)
    recovered = [a for a in accounts if a.at_risk][:3]
    healed = [
        Account(a.account_id, a.company_id, a.owner_id, score=75.0, status="green", change=45.0, arr=a.arr)
        if a in recovered
        else a
        for a in accounts
    ]
    write_marts(sandbox_marts, healed)
    report = sync(sandbox_marts, sync_config)
    assert report.ok and report.count("list_member", "remove", "ok") == 3
    assert sandbox.list_members() == {a.company_id for a in healed if a.at_risk}
    for a in recovered:
        props = sandbox.company(a.company_id, PROPS)
        assert props["cs_at_risk"] == "false" and props["cs_health_status"] == "green"
        assert not props["cs_risk_reasons"] and not props["cs_playbook"]


def test_the_client_limiter_keeps_requests_under_the_window(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    sandbox.faults("hubspot:window:12/2")  # a much tighter portal: 12 requests per rolling 2 s
    report = sync(sandbox_marts, sync_config.with_(rate_limit=Limit(10, 2.0)))
    assert report.ok
    assert sandbox.requests()["vendors"]["hubspot"]["statuses"].get("429", 0) == 0
    assert report.requests > 12 and report.seconds >= 2.0


def test_wrong_credentials_stop_the_run_with_a_clear_secret_free_message(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    secret = "pat-na1-not-the-right-token-4711"
    report = sync(sandbox_marts, sync_config.with_(access_token=secret))
    assert report.status == "failed" and not report.ok
    assert "ACTIVATION__HUBSPOT__ACCESS_TOKEN" in (report.halted_reason or "")
    text = "\n".join(
        [
            *report.summary_lines(),
            *report.log_lines,
            repr(sync_config.with_(access_token=secret)),
            str(report.as_metadata()),
        ]
    )
    assert secret not in text
    logged = "\n".join(r[0] or "" for r in query(sandbox_marts, "select halted_reason from activation.sync_runs"))
    assert secret not in logged and "401" in logged


def test_the_real_token_never_reaches_logs_or_the_warehouse(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    sandbox.faults("hubspot:server_error:2", "hubspot:rate_limit:2")
    report = sync(sandbox_marts, sync_config)
    assert report.ok
    dumped = "\n".join(
        [*report.summary_lines(), *report.log_lines, str(report.as_metadata()), repr(sync_config)]
        + [str(r) for r in query(sandbox_marts, "select * from activation.sync_log")]
        + [str(r) for r in query(sandbox_marts, "select * from activation.sync_runs")]
    )
    assert sandbox.token not in dumped


def test_a_crm_without_the_csops_fields_gets_everything_again(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path, world: Path, tmp_path: Path
) -> None:
    """A new portal (or a regenerated sandbox) behind an old sync state: the missing properties give it away."""
    assert sync(sandbox_marts, sync_config).ok
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copytree(world / "world", fresh / "world")
    shutil.copy2(world / "manifest.json", fresh / "manifest.json")
    with running_server(fresh) as base:
        report = sync(sandbox_marts, sync_config.with_(base_url=f"{base}/hubspot"))
    assert report.ok, report.summary_lines()
    assert any("had none of the csops account fields and task keys" in n for n in report.notes)
    assert report.count("company", "update", "ok") == 250 and report.count("task", "create", "ok") == 300
    assert report.count("list_member", "add", "ok") == 50


def test_a_used_up_daily_limit_stops_the_run_instead_of_retrying(
    sandbox: Sandbox, sync_config: SyncConfig, sandbox_marts: Path
) -> None:
    sandbox.faults("hubspot:rate_limit:1:daily")
    report = sync(sandbox_marts, sync_config)
    assert report.status == "failed" and "daily API limit" in (report.halted_reason or "")
    assert report.requests == 1 and sandbox.writes() == 0
    sandbox.faults(reset=True)
    assert sync(sandbox_marts, sync_config).ok  # the next run does everything
