"""Plain values passed between reading the marts, the state, the planner and the sync (no I/O here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

OBJECT_COMPANY, OBJECT_TASK, OBJECT_LIST, OBJECT_SCHEMA = "company", "task", "list_member", "schema"


def task_key(account_id: str, playbook: str) -> str:
    """The deterministic identity of 'the task of this playbook for this account': `acc_000123:renewal-rescue`."""
    slug = re.sub(r"[^a-z0-9]+", "-", playbook.lower()).strip("-")
    return f"{account_id}:{slug}"


@dataclass(frozen=True)
class AccountRow:
    """What the CRM record of one account should say tonight."""

    account_id: str
    crm_id: str | None
    fields: dict[str, str]  # DIFF_FIELDS -> value as text ("" = cleared)
    scored: bool  # has tonight's health or is at risk; unscored rows are only written to clear earlier values

    @property
    def is_at_risk(self) -> bool:
        return self.fields.get("cs_at_risk") == "true"


@dataclass(frozen=True)
class TaskRow:
    """One row of marts.cs_playbook_tasks."""

    key: str
    account_id: str
    crm_id: str | None
    owner_id: str | None
    playbook: str
    trigger_name: str
    priority: int
    is_at_risk: bool
    title: str
    body: str
    due_date: date
    cadence_days: int
    arr_usd: float = 0.0  # the account's ARR: what is at stake, to rank tasks when a CSM's night is full


@dataclass
class MartSnapshot:
    as_of: date
    accounts: list[AccountRow]
    tasks: list[TaskRow]
    previous_health: dict[str, str] = field(default_factory=dict)  # account id -> status on the previous scored day
    health_days: tuple[date, date] | None = None  # (previous scored day, latest) of customer_health_daily
    # CRM companies deleted or merged away (marts.crm_removed_companies): crm id -> (removal, survivor crm id)
    removed: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownAccount:
    """What the CRM last accepted for one record (fields None: never accepted, e.g. failed on its first try)."""

    crm_id: str
    account_id: str | None
    fields: dict[str, str] | None
    last_error: str | None = None
    gone_on: date | None = None  # the CRM answered "not found" (404) to the run on marts as of this date


@dataclass(frozen=True)
class KnownTask:
    key: str
    crm_id: str | None
    created_on: date | None  # the as-of date of the run that created it (or the CRM's create date if adopted)
    last_error: str | None = None


@dataclass
class SyncState:
    accounts: dict[str, KnownAccount] = field(default_factory=dict)  # by crm id
    tasks: dict[str, KnownTask] = field(default_factory=dict)  # by task key
    last_as_of: date | None = None  # as-of date of the last finished (non dry-run) sync
    first_as_of: date | None = None  # as-of date of the first finished sync: where cadence cycles start

    @property
    def is_empty(self) -> bool:
        return not any(a.fields is not None for a in self.accounts.values())


@dataclass
class Outcome:
    """One row's outcome: a line of activation.sync_log and, unless planned, its effect on sync_state."""

    object_type: str
    object_key: str
    action: str  # update | create | skip | add | remove | create_property | forget
    status: str  # ok | failed | skipped | planned | gone (the CRM record is deleted: 404 / OBJECT_NOT_FOUND)
    at: datetime
    error: str | None = None
    crm_id: str | None = None
    account_id: str | None = None
    detail: str | None = None
    payload: dict[str, Any] | None = None  # accepted fields (companies)
    created_on: date | None = None  # tasks
    gone_on: date | None = None  # status gone: the as-of date of the marts the run pushed
