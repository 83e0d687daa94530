"""Builders for the activation tests: marts tables with the real marts' columns in a small DuckDB file, and an
in-memory CRM that implements `activation.crm.base.Crm` (for sync logic that no HTTP server can provoke)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from activation.crm.base import (
    AccountUpdate,
    AmbiguousWrite,
    BatchRejected,
    ExistingTask,
    NewTask,
    RowResult,
)
from activation.fields import check_allowed

AS_OF = date(2026, 11, 1)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

COLUMNS = {
    "customer_360": (
        "account_id varchar, company_id varchar, company_name varchar, segment varchar, owner_id varchar, "
        "owner_name varchar, owner_email varchar, mrr_usd double, arr_usd double, renewal_date date, "
        "health_score double, health_status varchar, health_change_30d double, as_of_date date"
    ),
    "customer_health_daily": (
        "account_id varchar, health_date date, segment varchar, mrr_usd double, health_score double, "
        "health_status varchar, health_change_30d double, top_driver_1 varchar, top_driver_2 varchar, "
        "top_driver_3 varchar"
    ),
    "at_risk_accounts": (
        "account_id varchar, company_id varchar, company_name varchar, segment varchar, owner_id varchar, "
        "owner_name varchar, owner_email varchar, health_score double, health_status varchar, "
        "health_change_30d double, arr_at_stake_usd double, renewal_date date, billing_interval varchar, "
        "primary_trigger varchar, triggers varchar, reason_1 varchar, reason_2 varchar, reason_3 varchar, "
        "risk_reasons varchar, recommended_playbook varchar, priority_rank bigint, as_of_date date"
    ),
    "cs_playbook_tasks": (
        "account_id varchar, company_id varchar, owner_id varchar, owner_email varchar, playbook varchar, "
        "trigger_name varchar, priority integer, is_at_risk boolean, task_title varchar, task_body varchar, "
        "task_title_template varchar, task_body_template varchar, fill_company varchar, fill_reasons varchar, "
        "fill_renewal_date varchar, fill_arr varchar, fill_status varchar, fill_score varchar, fill_drop varchar, "
        "due_date date, cadence_days integer, as_of_date date"
    ),
    "crm_removed_companies": "company_id varchar, removal varchar, survivor_company_id varchar, removed_at timestamp",
}


@dataclass(frozen=True)
class Account:
    account_id: str
    company_id: str | None
    owner_id: str | None = "81000001"
    score: float | None = 80.0
    status: str | None = "green"
    change: float | None = 0.0
    arr: float = 12_000.0
    at_risk: bool = False
    reasons: str = "health red (score 30); weekly active users down 45% vs the previous 30 days"
    playbook: str = "Usage-drop check-in"
    scored: bool = True  # has a health row for the latest day

    def risky(self, **changes: object) -> Account:
        return replace(self, at_risk=True, status="red", score=30.0, change=-20.0, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Task:
    account_id: str
    company_id: str | None
    owner_id: str | None
    playbook: str
    trigger_name: str = "periodic_review"
    priority: int = 9
    is_at_risk: bool = False
    cadence_days: int = 30
    due_in_days: int = 14
    title_template: str = "{playbook}: {{company}}"  # {playbook} is filled here, {{company}} stays a placeholder
    body_template: str = "{playbook} for {{company}}. Why now: {{reasons}}"
    reasons: str = "test"


def sandbox_companies(sandbox: Path) -> list[tuple[str, str, str | None]]:
    """(company id, account id, owner id) of a generated sandbox, one company per account, as the marts would map
    them (the lowest company id of an account, archived companies left out), in account order."""
    rows = pq.read_table(sandbox / "world" / "hubspot_companies.parquet").to_pylist()
    seen: dict[str, tuple[str, str, str | None]] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if row["account_id"] and not row["archived"] and row["account_id"] not in seen:
            seen[row["account_id"]] = (row["id"], row["account_id"], row["hubspot_owner_id"])
    return sorted(seen.values(), key=lambda c: c[1])


def accounts_for(companies: Sequence[tuple[str, str, str | None]], at_risk_every: int = 5) -> list[Account]:
    """One account per (company id, account id, owner id); every n-th at risk (red)."""
    out = []
    for i, (company_id, account_id, owner_id) in enumerate(companies):
        account = Account(
            account_id,
            company_id,
            owner_id,
            score=60.0 + i % 40,
            status="green" if i % 2 else "yellow",
            change=float(i % 7 - 3),
            arr=1_000.0 * (i + 1),
        )
        out.append(account.risky() if at_risk_every and i % at_risk_every == 0 else account)
    return out


def default_tasks(accounts: Iterable[Account]) -> list[Task]:
    """A periodic review for every scored account and a usage-drop check-in for the at-risk ones."""
    tasks = []
    for a in accounts:
        if not a.scored:
            continue
        tasks.append(Task(a.account_id, a.company_id, a.owner_id, "Periodic health review"))
        if a.at_risk:
            tasks.append(Task(a.account_id, a.company_id, a.owner_id, a.playbook, "red_health", 5, True, due_in_days=5))
    return tasks


class _Fills(dict):
    """Like the mart: a placeholder it has no value for stays in the text."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def write_marts(
    path: Path,
    accounts: Sequence[Account],
    *,
    tasks: Sequence[Task] | None = None,
    as_of: date = AS_OF,
    health_date: date | None = None,
    previous_day: Sequence[Account] = (),
    company_names: dict[str, str] | None = None,
    removed: dict[str, tuple[str, str | None]] | None = None,
) -> Path:
    """(Re)create the marts the sync reads, consistent with each other, in `path`. `previous_day`: health
    rows of the scored day before (the history a first sync's circuit breaker reads); `company_names`: by account
    id (default `Company <account id>`); `removed`: CRM companies deleted or merged, crm id -> (archived | merged,
    survivor)."""
    names = company_names or {}
    tasks = default_tasks(accounts) if tasks is None else tasks
    health_day = health_date or as_of - timedelta(days=1)
    renewal = as_of + timedelta(days=60)
    rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
    for a in accounts:
        health = (a.score, a.status, a.change) if a.scored else (None, None, None)
        rows["customer_360"].append(
            (
                a.account_id,
                a.company_id,
                names.get(a.account_id, f"Company {a.account_id}"),
                "smb",
                a.owner_id,
                "Owner",
                "owner@example.com",
                a.arr / 12,
                a.arr,
                renewal,
                *health,
                as_of,
            )
        )
        if a.scored:
            rows["customer_health_daily"].append(
                (a.account_id, health_day, "smb", a.arr / 12, a.score, a.status, a.change, "a driver", None, None)
            )
    for a in previous_day:
        rows["customer_health_daily"].append(
            (
                a.account_id,
                health_day - timedelta(days=1),
                "smb",
                a.arr / 12,
                a.score,
                a.status,
                a.change,
                "a driver",
                None,
                None,
            )
        )
    arr_by_account = {a.account_id: a.arr for a in accounts}
    for rank, a in enumerate(sorted((a for a in accounts if a.at_risk), key=lambda a: -a.arr), start=1):
        rows["at_risk_accounts"].append(
            (
                a.account_id,
                a.company_id,
                f"Company {a.account_id}",
                "smb",
                a.owner_id,
                "Owner",
                "owner@example.com",
                a.score,
                a.status,
                a.change,
                a.arr,
                renewal,
                "annual",
                "red_health",
                "red_health",
                a.reasons,
                None,
                None,
                a.reasons,
                a.playbook,
                rank,
                as_of,
            )
        )
    for crm_id, (removal, survivor) in (removed or {}).items():
        rows["crm_removed_companies"].append((crm_id, removal, survivor, None))
    for t in tasks:
        company = names.get(t.account_id, f"Company {t.account_id}")
        title, body = t.title_template.format(playbook=t.playbook), t.body_template.format(playbook=t.playbook)
        arr = arr_by_account.get(t.account_id, 0.0)
        status, score = ("red", "30") if t.is_at_risk else ("green", "80")
        fills = {
            "company": company,
            "reasons": t.reasons,
            "renewal_date": renewal.isoformat(),
            "arr": f"${arr:.0f}",
            "status": status,
            "score": score,
            "drop": "0",
        }
        rows["cs_playbook_tasks"].append(
            (
                t.account_id,
                t.company_id,
                t.owner_id,
                "owner@example.com",
                t.playbook,
                t.trigger_name,
                t.priority,
                t.is_at_risk,
                title.format_map(_Fills(fills)),  # what the mart's readers see; the sync renders its own
                body.format_map(_Fills(fills)),
                title,
                body,
                *fills.values(),
                as_of + timedelta(days=t.due_in_days),
                t.cadence_days,
                as_of,
            )
        )
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists marts")
        for table, columns in COLUMNS.items():
            con.execute(f"create or replace table marts.{table} ({columns})")
            names = [c.split()[0] for c in columns.split(", ")]
            if rows[table]:
                data = pa.table({n: [r[i] for r in rows[table]] for i, n in enumerate(names)})
                con.register("incoming", data)
                con.execute(f"insert into marts.{table} select * from incoming")
                con.unregister("incoming")
    finally:
        con.close()
    return path


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def write_run_results(target: Path, results: list[dict], manifest: dict | None = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    (target / "run_results.json").write_text(json.dumps({"results": results}))
    if manifest is not None:
        (target / "manifest.json").write_text(json.dumps(manifest))
    return target


# ---------------------------------------------------------------------------------------------- a fake CRM
@dataclass
class FakeTask:
    crm_id: str
    key: str
    account_crm_id: str
    owner_id: str | None
    title: str
    is_open: bool = True
    created_on: date = AS_OF


@dataclass
class FakeCrm:
    """The `Crm` protocol in memory. `companies` are the records that exist; knobs provoke what servers can't."""

    companies: dict[str, dict[str, str]] = field(default_factory=dict)
    tasks: list[FakeTask] = field(default_factory=list)
    lists: dict[str, set[str]] = field(default_factory=dict)
    reject_batches_with: set[str] = field(default_factory=set)  # a batch containing one of these ids is a 400
    ambiguous_creates: int = 0  # the next N create calls apply, then answer as if the connection dropped
    calls: Counter = field(default_factory=Counter)
    name: str = "fake"
    max_batch_size: int = 100
    max_list_batch_size: int = 1000

    @property
    def requests_sent(self) -> int:
        return sum(self.calls.values())

    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if k in ("update", "create", "create_list", "add", "remove"))

    def ensure_schema(self, *, dry_run: bool) -> list[str]:
        self.calls["schema"] += 1
        return []

    def update_accounts(self, updates: Sequence[AccountUpdate]) -> list[RowResult]:
        self.calls["update"] += 1
        assert len(updates) <= self.max_batch_size
        for u in updates:
            check_allowed(u.fields)
        if any(u.crm_id in self.reject_batches_with for u in updates):
            raise BatchRejected("HTTP 400: Property values were not valid")
        out = []
        for u in updates:
            if u.crm_id in self.companies:
                self.companies[u.crm_id].update(u.fields)
                out.append(RowResult(u.crm_id, True, u.crm_id))
            else:
                out.append(RowResult(u.crm_id, False, u.crm_id, "OBJECT_NOT_FOUND"))
        return out

    def find_tasks(self, keys: Sequence[str]) -> dict[str, list[ExistingTask]]:
        self.calls["search"] += 1
        wanted = set(keys)
        found: dict[str, list[ExistingTask]] = {}
        for t in self.tasks:
            if t.key in wanted:
                found.setdefault(t.key, []).append(ExistingTask(t.key, t.crm_id, t.is_open, t.created_on))
        return found

    def create_tasks(self, tasks: Sequence[NewTask]) -> list[RowResult]:
        self.calls["create"] += 1
        out = []
        for t in tasks:
            crm_id = str(1000 + len(self.tasks))
            self.tasks.append(FakeTask(crm_id, t.key, t.account_crm_id, t.owner_id, t.title))
            out.append(RowResult(t.key, True, crm_id))
        if self.ambiguous_creates:
            self.ambiguous_creates -= 1
            raise AmbiguousWrite("connection reset after the request was sent")
        return out

    def find_list(self, name: str) -> str | None:
        self.calls["find_list"] += 1
        return name if name in self.lists else None

    def create_list(self, name: str) -> str:
        self.calls["create_list"] += 1
        self.lists[name] = set()
        return name

    def list_members(self, list_id: str) -> set[str]:
        self.calls["members"] += 1
        return set(self.lists[list_id])

    def add_to_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]:
        self.calls["add"] += 1
        out = []
        for c in crm_ids:
            if c in self.companies:
                self.lists[list_id].add(c)
                out.append(RowResult(c, True, c))
            else:
                out.append(RowResult(c, False, c, "OBJECT_NOT_FOUND"))
        return out

    def remove_from_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]:
        self.calls["remove"] += 1
        for c in crm_ids:
            self.lists[list_id].discard(c)
        return [RowResult(c, True, c) for c in crm_ids]

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------- a running sandbox
@dataclass
class Sandbox:
    directory: Path
    base: str
    token: str
    http: requests.Session

    def hubspot(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{self.base}/hubspot{path}", headers=headers, timeout=30, **kwargs)

    def faults(self, *specs: str, reset: bool = False) -> None:
        response = self.http.post(f"{self.base}/_admin/faults", json={"faults": list(specs), "reset": reset})
        assert response.status_code == 200, response.text

    def requests(self) -> dict[str, Any]:
        return self.http.get(f"{self.base}/_admin/requests").json()

    def archive(self, object_type: str, ids: Sequence[str]) -> None:
        """Delete records in the CRM as a user would (the sandbox's admin hook)."""
        response = self.http.post(
            f"{self.base}/_admin/hubspot/archive", json={"object_type": object_type, "ids": list(ids)}
        )
        assert response.status_code == 200, response.text

    def reset_requests(self) -> None:
        self.http.delete(f"{self.base}/_admin/requests")

    def count(self, method: str, suffix: str, status: int | None = None) -> int:
        """Requests seen for `method` on paths ending with `suffix` (optionally of one status)."""
        total = 0
        for key, entry in self.requests()["paths"].items():
            verb, path = key.split(" ", 1)
            if verb == method and path.endswith(suffix):
                total += entry["count"] if status is None else entry["statuses"].get(str(status), 0)
        return total

    def writes(self) -> int:
        """Write requests to HubSpot (searches are POSTs that read: not counted)."""
        return sum(
            entry["count"]
            for key, entry in self.requests()["paths"].items()
            if entry["vendor"] == "hubspot" and key.split(" ", 1)[0] in WRITE_METHODS and not key.endswith("/search")
        )

    def search_all(self, object_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        results, after = [], None
        while True:
            query = {**body, "limit": 200, **({"after": after} if after else {})}
            page = self.hubspot("POST", f"/crm/v3/objects/{object_type}/search", json=query)
            if page.status_code == 429:  # HubSpot's 5 searches / s, shared with the sync under test
                time.sleep(1)
                continue
            assert page.status_code == 200, page.text
            results += page.json()["results"]
            after = page.json().get("paging", {}).get("next", {}).get("after")
            if not after:
                return results

    def tasks(self) -> list[dict[str, Any]]:
        return self.search_all(
            "tasks",
            {
                "filterGroups": [{"filters": [{"propertyName": "csops_task_key", "operator": "HAS_PROPERTY"}]}],
                "properties": [
                    "csops_task_key",
                    "hs_task_subject",
                    "hs_task_status",
                    "hubspot_owner_id",
                    "hs_timestamp",
                    "hs_task_priority",
                    "hs_task_body",
                ],
            },
        )

    def list_members(self, name: str = "At-risk accounts (nightly)") -> set[str]:
        found = self.hubspot("GET", f"/crm/v3/lists/object-type-id/0-2/name/{name}")
        if found.status_code == 404:
            return set()
        list_id = found.json()["list"]["listId"]
        members, after = set(), None
        while True:
            page = self.hubspot("GET", f"/crm/v3/lists/{list_id}/memberships", params={"limit": 250, "after": after})
            members |= {r["recordId"] for r in page.json()["results"]}
            after = page.json().get("paging", {}).get("next", {}).get("after")
            if not after:
                return members

    def company(self, company_id: str, properties: list[str]) -> dict[str, Any]:
        response = self.hubspot("GET", f"/crm/v3/objects/companies/{company_id}", params={"properties": properties})
        assert response.status_code == 200, response.text
        return response.json()["properties"]
