"""The plan of one sync, decided from tonight's marts and what the CRM last accepted. Pure functions of their
inputs (no I/O, no CRM specifics): which account records change, whether the circuit breaker trips, which list
members to add or remove, which tasks are due and which of those to create once the CRM has been asked.

Rules:
- An account is sent when any compared field differs from what the CRM last accepted (or it never accepted one);
  `cs_synced_at` is written with every change and never compared. A record synced before that has left the
  scored population is cleared (no health, not at risk) once.
- Only allow-listed fields are ever written (`activation.fields`).
- Circuit breaker: the share of previously synced accounts whose health status or at-risk flag would change.
  Above `max_change_share` the run halts unless forced. The first sync (no state) is judged against the marts' own
  history instead: the share of accounts whose health status differs from the previous scored day of
  customer_health_daily (a mart that flips a quarter of the book overnight is more likely broken than true). Only
  when the marts hold a single scored day is there nothing to judge against, and the plan says so.
- Tasks: one per (account, playbook) row of cs_playbook_tasks. A key created by the sync less than
  `cadence_days` ago is not due. A due key is created unless the CRM holds an open task under that key, or one
  created within the cadence (after a crash the state may not know about it).
- Cadence-driven tasks (periodic reviews) are spread over their cycle: an account's first review falls due
  `offset` nights after the first sync, offset = a stable hash of the account id modulo `cadence_days`; after
  that the cadence keeps them spread. Event-driven tasks (at risk, detractor, ...) are never held back by this.
- A CSM receives at most `max_tasks_per_csm` new tasks a night, most urgent first (playbook priority, then ARR at
  stake, then due date); the rest are deferred, stay due and are created on the following nights.
- The list holds exactly tonight's at-risk accounts.
- Deleted and merged CRM records (marts.crm_removed_companies): nothing is ever written to a deleted company; an
  account whose company was merged away writes its fields, list membership and tasks to the survivor; what the state
  remembers of either is forgotten (never "cleared" by a write, which would land on a survivor or meet a 404).
- A record the CRM answered "not found" (404) is not written again while the marts are those of that night (or
  older): the marts built on a later night say whether it is still there (restored) or gone (deleted or merged).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from activation.crm.base import ExistingTask, NewTask
from activation.fields import DIFF_FIELDS, FLIP_FIELDS, check_allowed
from activation.marts import cleared_fields
from activation.model import AccountRow, MartSnapshot, SyncState, TaskRow


@dataclass(frozen=True)
class AccountChange:
    crm_id: str
    account_id: str | None
    fields: dict[str, str]  # DIFF_FIELDS (cs_synced_at is added when sent)
    previous: dict[str, str] | None
    reason: str  # new | changed | cleared | retry

    @property
    def flips(self) -> bool:
        if self.previous is None:
            return False
        return any(self.previous.get(f, "") != self.fields.get(f, "") for f in FLIP_FIELDS)


CADENCE_TRIGGERS = frozenset({"periodic_review"})  # tasks due because time passed, not because something happened


@dataclass(frozen=True)
class Breaker:
    first_sync: bool
    flips: int
    population: int
    limit: float
    forced: bool
    history: tuple[date, date] | None = None  # first sync: (previous scored day, latest) of customer_health_daily

    @property
    def share(self) -> float:
        return self.flips / self.population if self.population else 0.0

    @property
    def applies(self) -> bool:
        return not self.first_sync or self.history is not None

    @property
    def tripped(self) -> bool:
        return self.applies and self.share > self.limit

    @property
    def halts(self) -> bool:
        return self.tripped and not self.forced

    def describe(self) -> str:
        if not self.applies:
            return (
                "first sync (no sync state yet) and a single scored day in customer_health_daily: "
                "circuit breaker not applied"
            )
        if self.history is not None:
            previous, latest = self.history
            text = (
                f"first sync (no sync state yet), judged on the marts' history: {self.flips} of {self.population} "
                f"accounts ({self.share:.1%}) changed health status from {previous} to {latest} in "
                f"customer_health_daily (limit {self.limit:.0%}, CSOPS_SYNC_MAX_CHANGE_SHARE)"
            )
        else:
            text = (
                f"{self.flips} of {self.population} synced accounts ({self.share:.1%}) would change health status "
                f"or at-risk flag (limit {self.limit:.0%}, CSOPS_SYNC_MAX_CHANGE_SHARE)"
            )
        if self.tripped:
            text += "; forced" if self.forced else "; halted: check the marts, then rerun with --force"
        return text


@dataclass
class Plan:
    as_of: date
    account_changes: list[AccountChange]
    unchanged_accounts: int
    at_risk_crm_ids: set[str]
    tasks_due: list[TaskRow]
    tasks_within_cadence: int
    tasks_later_in_cycle: int  # periodic reviews whose first night in the spread cycle has not come yet
    skipped: list[tuple[str, str, str]]  # (object type, key, why): rows the CRM cannot take
    breaker: Breaker
    retrying: Counter = field(default_factory=Counter)  # rows that failed last run, by object type
    forgotten: list[tuple[str, str | None, str]] = field(default_factory=list)  # (crm id, account id, why)
    removed: Counter = field(default_factory=Counter)  # rows kept from deleted / merged / not-found companies

    def counts(self) -> dict[str, int]:
        reasons = Counter(c.reason for c in self.account_changes)
        return {
            "company_updates": len(self.account_changes),
            **{f"company_updates_{r}": n for r, n in sorted(reasons.items())},
            "companies_unchanged": self.unchanged_accounts,
            "at_risk_accounts": len(self.at_risk_crm_ids),
            "tasks_due": len(self.tasks_due),
            "tasks_within_cadence": self.tasks_within_cadence,
            "tasks_later_in_cycle": self.tasks_later_in_cycle,
            "rows_skipped": len(self.skipped),
            "flips": self.breaker.flips,
            "state_forgotten": len(self.forgotten),
            **{f"company_rows_{why}": n for why, n in sorted(self.removed.items())},
        }


@dataclass(frozen=True)
class Removals:
    """Which CRM companies cannot be written to tonight: deleted or merged (the marts), or found missing (404) by a
    run on marts no newer than tonight's (the state)."""

    removed: Mapping[str, tuple[str, str | None]]  # crm id -> (archived | merged, survivor)
    not_found: Mapping[str, date]  # crm id -> as-of date of the run that met the 404

    @classmethod
    def of(cls, snapshot: MartSnapshot, state: SyncState) -> Removals:
        not_found = {
            crm_id: known.gone_on
            for crm_id, known in state.accounts.items()
            if known.gone_on is not None and snapshot.as_of <= known.gone_on
        }
        return cls(snapshot.removed, not_found)

    def target(self, crm_id: str) -> tuple[str | None, str | None]:
        """(crm id to write to, why not the given one): the survivor of a merge (followed along a chain); None when
        the record is gone (deleted, or a merge whose survivor is gone)."""
        why, seen = None, {crm_id}
        removal, survivor = self.removed.get(crm_id, (None, None))
        while removal == "merged" and survivor and survivor not in seen:
            why, crm_id = "merged", survivor
            seen.add(crm_id)
            removal, survivor = self.removed.get(crm_id, (None, None))
        if removal is not None:
            return None, "archived"
        if crm_id in self.not_found:
            return None, "not_found"
        return crm_id, why


WHY = {
    "archived": "the CRM company was deleted (archived)",
    "merged": "the CRM company was merged into another",
    "not_found": "the CRM answered 404 for this company on a night with these marts: not retried until newer marts",
}


def diff_accounts(
    accounts: Sequence[AccountRow], state: SyncState, removals: Removals | None = None
) -> tuple[list[AccountChange], int, list[tuple[str, str, str]], list[tuple[str, str | None, str]], Counter]:
    """(changes, unchanged count, skipped rows, state to forget, rows moved or held back by removals) of tonight's
    account rows against the accepted state."""
    removals = removals or Removals({}, {})
    changes: list[AccountChange] = []
    skipped: list[tuple[str, str, str]] = []
    forgotten: list[tuple[str, str | None, str]] = []
    held: Counter = Counter()
    unchanged = 0
    seen: set[str] = set()
    # Rows naming their company directly first: a merge's survivor is written for its own account if it has one.
    for row in sorted(accounts, key=lambda a: a.crm_id is not None and a.crm_id in removals.removed):
        if row.crm_id is None:
            if row.scored:
                skipped.append(("company", row.account_id, "no CRM company for this account"))
            continue
        crm_id, why = removals.target(row.crm_id)
        if why:
            held[why] += 1
        if crm_id is None:  # (what the state remembers of it is forgotten below)
            skipped.append(("company", row.crm_id, f"{WHY[why]}; nothing written"))  # type: ignore[index]
            continue
        if crm_id in seen:
            continue  # the survivor of a merge is written for its own account row
        row = replace(row, crm_id=crm_id)
        seen.add(crm_id)
        check_allowed(row.fields)
        known = state.accounts.get(crm_id)
        accepted = known.fields if known else None
        if accepted is None:
            if not row.scored:
                continue  # never synced and nothing to say
            reason = "retry" if known and known.last_error else "new"
            changes.append(AccountChange(crm_id, row.account_id, dict(row.fields), None, reason))
        elif any(accepted.get(f, "") != row.fields.get(f, "") for f in DIFF_FIELDS):
            reason = "changed" if row.scored else "cleared"
            if known and known.last_error:
                reason = "retry"
            changes.append(AccountChange(crm_id, row.account_id, dict(row.fields), dict(accepted), reason))
        else:
            unchanged += 1
    # Records synced before whose account left the marts altogether: clear them once, unless the record itself is
    # gone (deleted, merged away, 404): then the state forgets it.
    for crm_id, known in state.accounts.items():
        if crm_id in seen or known.fields is None:
            continue
        target, why = removals.target(crm_id)
        if target != crm_id:
            forgotten.append((crm_id, known.account_id, WHY[why]))  # type: ignore[index]
            continue
        target_fields = cleared_fields(known.fields.get("cs_arr", ""))
        if any(known.fields.get(f, "") != target_fields.get(f, "") for f in DIFF_FIELDS):
            changes.append(AccountChange(crm_id, known.account_id, target_fields, dict(known.fields), "cleared"))
        else:
            unchanged += 1
    return changes, unchanged, skipped, forgotten, held


def breaker_for(
    changes: Iterable[AccountChange], state: SyncState, limit: float, forced: bool, snapshot: MartSnapshot
) -> Breaker:
    if not state.is_empty:
        population = sum(1 for a in state.accounts.values() if a.fields is not None)
        flips = sum(1 for c in changes if c.flips)
        return Breaker(first_sync=False, flips=flips, population=population, limit=limit, forced=forced)
    return history_breaker(snapshot, limit, forced)


def history_breaker(snapshot: MartSnapshot, limit: float, forced: bool) -> Breaker:
    """The first sync's breaker: tonight's health status against the previous scored day, account by account."""
    previous = snapshot.previous_health
    compared = [
        (previous[row.account_id], row.fields.get("cs_health_status", ""))
        for row in snapshot.accounts
        if row.scored and row.crm_id and row.account_id in previous
    ]
    return Breaker(
        first_sync=True,
        flips=sum(1 for before, now in compared if before != now),
        population=len(compared),
        limit=limit,
        forced=forced,
        history=snapshot.health_days if compared else None,
    )


def cycle_offset(account_id: str, cadence_days: int) -> int:
    """The night (0 .. cadence_days - 1) of the cycle on which an account's periodic review first falls due:
    stable across runs and machines (crc32, not Python's salted hash), spread evenly over the accounts."""
    return zlib.crc32(account_id.encode()) % max(cadence_days, 1)


def due_tasks(
    tasks: Sequence[TaskRow], state: SyncState, as_of: date, *, spread: bool = True, removals: Removals | None = None
) -> tuple[list[TaskRow], int, int, list]:
    """(tasks to check against the CRM, count not due because created within their cadence, count of periodic
    reviews whose night in the spread cycle has not come yet, skipped rows)."""
    cycle_start = min(state.first_as_of or as_of, as_of)
    due, within, later, skipped = [], 0, 0, []
    removals = removals or Removals({}, {})
    for task in tasks:
        if task.crm_id is None:
            skipped.append(("task", task.key, "no CRM company for this account"))
            continue
        crm_id, why = removals.target(task.crm_id)
        if crm_id is None:
            skipped.append(("task", task.key, f"{WHY[why]}; no task created"))  # type: ignore[index]
            continue
        task = replace(task, crm_id=crm_id)
        known = state.tasks.get(task.key)
        if known and known.created_on and (as_of - known.created_on).days < task.cadence_days:
            within += 1
            continue
        if (
            spread
            and task.trigger_name in CADENCE_TRIGGERS
            and not (known and known.created_on)
            and (as_of - cycle_start).days < cycle_offset(task.account_id, task.cadence_days)
        ):
            later += 1
            continue
        due.append(task)
    return due, within, later, skipped


def urgency(task: TaskRow) -> tuple:
    """Sort key, most urgent first: playbook priority (1 first), ARR at stake, due date, then the key."""
    return (task.priority, -task.arr_usd, task.due_date, task.key)


def cap_per_owner(
    create: Sequence[TaskRow], cap: int | None, created_tonight: Mapping[str | None, int]
) -> tuple[list[TaskRow], list[tuple[TaskRow, str]]]:
    """(tasks to create tonight, deferred tasks with why): at most `cap` new tasks per owner and night, counting
    those already created tonight (a re-run after a crash), most urgent first. `cap` None: no cap."""
    if cap is None:
        return list(create), []
    given: Counter = Counter(created_tonight)
    keep, deferred = [], []
    for task in sorted(create, key=urgency):
        owner = task.owner_id
        if given[owner] < cap:
            given[owner] += 1
            keep.append(task)
            continue
        deferred.append(
            (
                task,
                f"owner {owner or '(none)'} already has {cap} new tasks tonight (CSOPS_SYNC_MAX_TASKS_PER_CSM); "
                f"priority {task.priority}, ARR {task.arr_usd:,.0f}: created on a later night",
            )
        )
    return keep, deferred


def created_tonight(tasks: Sequence[TaskRow], state: SyncState, as_of: date) -> Counter:
    """New tasks per owner that the sync already created on this as-of date (a re-run the same night)."""
    return Counter(t.owner_id for t in tasks if (k := state.tasks.get(t.key)) and k.crm_id and k.created_on == as_of)


def decide_tasks(
    due: Sequence[TaskRow], existing: Mapping[str, Sequence[ExistingTask]], as_of: date
) -> tuple[list[TaskRow], list[tuple[TaskRow, ExistingTask, str]]]:
    """(tasks to create, tasks not created with the CRM task that explains why)."""
    create, keep = [], []
    for task in due:
        found = list(existing.get(task.key, ()))
        open_tasks = [t for t in found if t.is_open]
        if open_tasks:
            keep.append((task, max(open_tasks, key=lambda t: t.created_on or date.min), "open task exists"))
            continue
        recent = [t for t in found if t.created_on and (as_of - t.created_on).days < task.cadence_days]
        if recent:
            keep.append((task, max(recent, key=lambda t: t.created_on or date.min), "created within cadence"))
            continue
        create.append(task)
    return create, keep


def diff_members(desired: set[str], actual: set[str]) -> tuple[list[str], list[str]]:
    """(to add, to remove), sorted so batches are deterministic."""
    return sorted(desired - actual), sorted(actual - desired)


def new_task(task: TaskRow) -> NewTask:
    footer = (
        f"\n\nPlaybook: {task.playbook} (trigger: {task.trigger_name}). Created by csops; key {task.key}. "
        f"No new task for this playbook while this one is open."
    )
    return NewTask(
        key=task.key,
        account_crm_id=task.crm_id or "",
        owner_id=task.owner_id,
        title=task.title,
        body=task.body + footer,
        due_date=task.due_date,
        priority=task.priority,
    )


def plan_sync(
    snapshot: MartSnapshot, state: SyncState, *, max_change_share: float, force: bool, spread: bool = True
) -> Plan:
    removals = Removals.of(snapshot, state)
    changes, unchanged, skipped, forgotten, held = diff_accounts(snapshot.accounts, state, removals)
    due, within, later, task_skips = due_tasks(snapshot.tasks, state, snapshot.as_of, spread=spread, removals=removals)
    at_risk = {
        target for a in snapshot.accounts if a.crm_id and a.is_at_risk and (target := removals.target(a.crm_id)[0])
    }
    retrying: Counter = Counter()
    retrying["company"] = sum(1 for c in changes if c.reason == "retry")
    retrying["task"] = sum(1 for t in due if (k := state.tasks.get(t.key)) and k.last_error)
    return Plan(
        as_of=snapshot.as_of,
        account_changes=changes,
        unchanged_accounts=unchanged,
        at_risk_crm_ids=at_risk,
        tasks_due=due,
        tasks_within_cadence=within,
        tasks_later_in_cycle=later,
        skipped=skipped + task_skips,
        breaker=breaker_for(changes, state, max_change_share, force, snapshot),
        retrying=+retrying,
        forgotten=forgotten,
        removed=held,
    )
