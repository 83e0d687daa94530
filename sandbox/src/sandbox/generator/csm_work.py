"""CSMs working the tasks csops pushed into the sandbox CRM, and what a completed playbook does to an account.

The product's nightly sync creates one task per (account, playbook) in the CRM (`csops_task_key`
`acc_000123:renewal-rescue`). When the sandbox's clock advances, each simulated CSM works through the open tasks
of their book day by day (weekdays only). On its first working day a CSM decides whether the task will be worked
at all: the more open tasks and the larger the book against the segment's norm, the likelier it is left open
(ignored, then overdue); a task being worked is completed with a daily probability that depends on the playbook
and on the same workload. Workload, not the account's prospects, decides, so completion is as good as random
among comparable accounts, as the measurement in dbt assumes. Now and then a CSM deletes a task
(archived) or hands it to a teammate (the owner changes). A completion is written to the CRM (status, completion
time) and logged as activity on the company (a call, meeting or email, and a note) in the world's engagements.

A completed playbook lifts the account's latent health from the next month and scales down its churn decisions for
some months, by the playbook's true effect (`PLAYBOOK_EFFECTS`, a `Treatment` in company.py), so usage, NPS,
tickets, churn and renewals move as for any healthier account. The ground truth (`truth/playbook_tasks.parquet`)
records each task's story and, for completed tasks, whether the account was still a customer 90 days after the
task was created, with the effect and without it (the same account simulated again without that one treatment):
the true effect of each playbook on the outcome `playbook_effectiveness` measures.

What the CSMs did is kept in `csm_work.json` beside the world (it survives `advance`, like `crm.sqlite`). A sandbox
whose CRM holds no csops task renders exactly as before (no treatment): generated at T and advanced N days it is
still byte-identical to one generated at T+N; with tasks, it is the same for the same pushes on the same days.
"""

from __future__ import annotations

import json
import random
import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sandbox.generator.company import SEGMENT_PROFILE, Account, Treatment

LEDGER_FILE = "csm_work.json"
CRM_FILE = "crm.sqlite"
TASK_KEY = "csops_task_key"
COMPANY_ID_BASE = 9_000_000_000  # as crm.py numbers companies
ACTIVITY_ID_BASE = 62_000_000_000
OUTCOME_DAYS = 90  # "still a customer this many days after the task was created": the outcome measured

# The true effect of completing each playbook (by the slug of its name in csops' task key): how much the account's
# latent health (0..1) rises, and the factor on the churn hazard of decisions in the six months after. Unknown
# playbooks have none. The periodic review is a ritual: it changes nothing.
PLAYBOOK_EFFECTS: dict[str, tuple[float, float]] = {
    "renewal-rescue": (0.30, 0.3),
    "find-a-new-champion": (0.25, 0.5),
    "usage-drop-check-in": (0.25, 0.5),
    "billing-outreach": (0.15, 0.6),
    "onboarding-unblock": (0.15, 0.6),
    "detractor-follow-up": (0.10, 0.7),
    "post-ticket-follow-up": (0.05, 0.85),
    "periodic-health-review": (0.0, 1.0),
}
NO_EFFECT = (0.0, 1.0)
# Daily chance a CSM with a normal book and no other open task completes a task of the playbook (urgent ones first).
BASE_DAILY_COMPLETION = {
    "billing-outreach": 0.30,
    "renewal-rescue": 0.20,
    "usage-drop-check-in": 0.15,
    "detractor-follow-up": 0.15,
    "onboarding-unblock": 0.15,
    "find-a-new-champion": 0.12,
    "post-ticket-follow-up": 0.12,
    "periodic-health-review": 0.10,
}
DEFAULT_DAILY_COMPLETION = 0.10
OPEN_TASKS_HALF = 60  # open tasks at which a CSM completes each task they work at half the pace
WORKED_SHARE = 0.9  # of tasks a CSM with a normal book and no other open task works at all
WORKED_HALF = 30  # open tasks at which a CSM works only half the tasks they would otherwise
DELETE_DAILY = 0.003  # a CSM deletes the task (archived in the CRM)
REASSIGN_DAILY = 0.003  # a CSM hands the task to a teammate
ACTIVITY = {  # playbook -> the engagement logged when it is done (plus a note)
    "billing-outreach": "emails",
    "post-ticket-follow-up": "emails",
    "usage-drop-check-in": "calls",
    "detractor-follow-up": "calls",
}


@dataclass
class WorkedTask:
    """One csops task as the simulated CSMs see it."""

    task_id: int
    task_key: str
    account_num: int
    company_id: str
    playbook: str  # slug, from the task key
    owner_id: str | None
    created_on: str  # the sandbox day the sync created it (ISO date)
    due_at: str | None
    status: str = "open"  # open | completed | deleted
    completed_at: str | None = None  # ISO timestamp (UTC)
    deleted_at: str | None = None
    worked: bool | None = None  # decided on the task's first working day: False = left open (ignored)
    reassigned_from: list[str] = field(default_factory=list)
    activities: list[dict] = field(default_factory=list)

    @property
    def account_id(self) -> str:
        return f"acc_{self.account_num:06d}"


def read_ledger(out: Path) -> dict[int, WorkedTask]:
    path = out / LEDGER_FILE
    if not path.exists():
        return {}
    return {int(k): WorkedTask(**v) for k, v in json.loads(path.read_text()).items()}


def write_ledger(out: Path, ledger: dict[int, WorkedTask]) -> None:
    data = {str(k): asdict(v) for k, v in sorted(ledger.items())}
    (out / LEDGER_FILE).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def has_csops_tasks(out: Path) -> bool:
    """Whether the sandbox's CRM holds a task csops created (without one, advancing needs no CSM work)."""
    path = out / CRM_FILE
    if not path.exists():
        return False
    with closing(sqlite3.connect(path)) as con:
        try:
            row = con.execute(
                "select 1 from property_values where object_type = 'tasks' and name = ? and value is not null limit 1",
                (TASK_KEY,),
            ).fetchone()
        except sqlite3.OperationalError:  # a CRM store without tables yet
            return False
    return row is not None


def book_factor(book: int, segment: str) -> float:
    """Above 1 for a book smaller than the segment's norm, below for a larger one."""
    return min(1.5, (SEGMENT_PROFILE[segment]["book"] / max(book, 1)) ** 0.5)


def worked_probability(open_tasks: int, book: int, segment: str) -> float:
    """The chance a CSM works a new task at all (the rest stay open until deleted)."""
    return min(0.95, WORKED_SHARE * book_factor(book, segment) / (1 + open_tasks / WORKED_HALF))


def completion_probability(task: WorkedTask, open_tasks: int, book: int, segment: str) -> float:
    """A CSM's daily chance of getting a task they work done: the playbook's pace, slower with a book above the
    segment's norm and with more open tasks."""
    base = BASE_DAILY_COMPLETION.get(task.playbook, DEFAULT_DAILY_COMPLETION)
    return min(0.9, base * book_factor(book, segment) / (1 + open_tasks / OPEN_TASKS_HALF))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def work_tasks(
    out: Path,
    seed: int,
    old_today: date,
    new_today: date,
    accounts: list[Account],
    owners: dict[str, list[dict]],
    owner_of: dict[int, str],
) -> dict[int, WorkedTask]:
    """The days from `old_today` to `new_today` happen for the CSMs: they work the csops tasks in the CRM. Writes
    the outcome to the CRM and the ledger; returns the ledger."""
    ledger = read_ledger(out)
    if not (out / CRM_FILE).exists():
        return ledger
    from sandbox.server.hubspot.crm_writes import CrmStore  # the write store the server uses

    store = CrmStore(out / CRM_FILE)
    try:
        _adopt_new_tasks(store, ledger, old_today)
        if not ledger:
            return ledger
        by_num = {a.num: a for a in accounts}
        team_of = {o["id"]: segment for segment, team in owners.items() for o in team}
        cutoff = datetime.combine(old_today, datetime.min.time(), UTC)
        book: dict[str, int] = {}
        for account in accounts:
            if account.is_customer_at(cutoff):
                book[owner_of[account.num]] = book.get(owner_of[account.num], 0) + 1
        changed: set[int] = set()
        day = old_today
        while day < new_today:
            if day.weekday() < 5:
                changed |= _work_day(seed, day, ledger, by_num, owners, team_of, book)
            day += timedelta(days=1)
        _write_back(store, ledger, changed, datetime.combine(new_today, datetime.min.time(), UTC))
    finally:
        store.close()
    write_ledger(out, ledger)
    return ledger


def _adopt_new_tasks(store, ledger: dict[int, WorkedTask], today: date) -> None:
    """Tasks csops created since the last advance (created tonight, in sandbox time), and what changed in the CRM
    meanwhile through the API (a task completed, deleted or reassigned by someone else)."""
    snap = store.current()
    values = snap.values.get("tasks", {})
    companies = {
        from_id: to_id
        for from_type, from_id, to_type, to_id, _type_id, _cat in snap.associations
        if from_type == "tasks" and to_type == "companies"
    }
    for task_id, obj in sorted(snap.objects.get("tasks", {}).items()):
        props = values.get(task_id, {})
        key = props.get(TASK_KEY)
        if not obj.api_created or not key or ":" not in key:
            continue
        account, playbook = key.split(":", 1)
        known = ledger.get(task_id)
        if known is None:
            try:
                num = int(account.removeprefix("acc_"))
            except ValueError:
                continue
            known = ledger[task_id] = WorkedTask(
                task_id=task_id,
                task_key=key,
                account_num=num,
                company_id=str(companies.get(task_id, COMPANY_ID_BASE + num)),
                playbook=playbook,
                owner_id=props.get("hubspot_owner_id"),
                created_on=today.isoformat(),
                due_at=props.get("hs_timestamp"),
            )
        if known.status != "open":
            continue
        at = _iso(datetime.combine(today, datetime.min.time(), UTC))
        if obj.archived:
            known.status, known.deleted_at = "deleted", at
        elif props.get("hs_task_status") == "COMPLETED":
            known.status, known.completed_at = "completed", props.get("hs_task_completion_date") or at
        elif props.get("hubspot_owner_id") != known.owner_id:
            known.reassigned_from.append(known.owner_id or "")
            known.owner_id = props.get("hubspot_owner_id")


def _work_day(
    seed: int,
    day: date,
    ledger: dict[int, WorkedTask],
    by_num: dict[int, Account],
    owners: dict[str, list[dict]],
    team_of: dict[str, str],
    book: dict[str, int],
) -> set[int]:
    """One working day: each open task is done, deleted, reassigned or left, by its own random draw (the same
    whatever other tasks exist), at a pace set by the owner's workload at the start of the day."""
    open_tasks = [t for t in ledger.values() if t.status == "open" and date.fromisoformat(t.created_on) <= day]
    load: dict[str | None, int] = {}
    for task in open_tasks:
        load[task.owner_id] = load.get(task.owner_id, 0) + 1
    changed = set()
    for task in sorted(open_tasks, key=lambda t: t.task_id):
        rng = random.Random(f"csops-csm:{seed}:{task.task_id}:{day.isoformat()}")
        u = rng.random()
        account = by_num.get(task.account_num)
        segment = team_of.get(task.owner_id or "", account.segment if account else "smb")
        open_now, owned = load.get(task.owner_id, 0), book.get(task.owner_id or "", 1)
        if task.worked is None:
            intent = random.Random(f"csops-csm:{seed}:{task.task_id}:worked").random()
            task.worked = intent < worked_probability(open_now, owned, segment)
        p = completion_probability(task, open_now, owned, segment) if task.worked else 0.0
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=rng.randint(9 * 3600, 18 * 3600))
        if u < p:
            task.status, task.completed_at = "completed", _iso(at)
            task.activities = _activities(task, at, rng)
        elif u >= 1 - DELETE_DAILY:
            task.status, task.deleted_at = "deleted", _iso(at)
        elif u >= 1 - DELETE_DAILY - REASSIGN_DAILY:
            mates = [o["id"] for o in owners.get(segment, []) if o["id"] != task.owner_id]
            if not mates:
                continue
            task.reassigned_from.append(task.owner_id or "")
            task.owner_id = rng.choice(mates)
        else:
            continue
        changed.add(task.task_id)
    return changed


def _activities(task: WorkedTask, at: datetime, rng: random.Random) -> list[dict]:
    """What the CSM logs on the company when the playbook is done: the conversation, then a note."""
    kind = ACTIVITY.get(task.playbook, "meetings")
    first = at - timedelta(minutes=rng.randint(20, 120))
    base = ACTIVITY_ID_BASE + (task.task_id % 10**8) * 10
    title = task.playbook.replace("-", " ").capitalize()
    return [
        {
            "id": str(base + 1),
            "object_type": kind,
            "at": _iso(first),
            "title": title,
            "body": f"{title}: talked it through.",
        },
        {"id": str(base + 2), "object_type": "notes", "at": _iso(at), "title": "Note", "body": f"{title} done."},
    ]


def _write_back(store, ledger: dict[int, WorkedTask], changed: set[int], now: datetime) -> None:
    """What the CSMs did, written into the CRM as HubSpot would record it: the modification time is when the
    write happened (so incremental readers see it), the completion date when the CSM completed the task."""
    floor_ms = int(now.timestamp() * 1000)
    for task_id in sorted(changed):
        task = ledger[task_id]
        props: dict[str, str | None] = {"hubspot_owner_id": task.owner_id}  # a handed-over task, even if deleted
        if task.status == "completed":
            completed_ms = int(_parse(task.completed_at).timestamp() * 1000)
            props |= {"hs_task_status": "COMPLETED", "hs_task_completion_date": _iso_ms(completed_ms)}
        store.write_objects("tasks", [(task_id, props)], store.clock_ms(floor_ms))
        if task.status == "deleted":
            store.archive_object("tasks", task_id, store.clock_ms(floor_ms))


def _iso_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def treatments(ledger: dict[int, WorkedTask]) -> dict[int, tuple[Treatment, ...]]:
    """The completed playbooks per account number, in completion order (the simulation's input)."""
    out: dict[int, list[Treatment]] = {}
    for task in sorted(ledger.values(), key=lambda t: (t.completed_at or "", t.task_id)):
        if task.status == "completed" and task.completed_at:
            lift, churn_factor = PLAYBOOK_EFFECTS.get(task.playbook, NO_EFFECT)
            out.setdefault(task.account_num, []).append(Treatment(_parse(task.completed_at), lift, churn_factor))
    return {num: tuple(items) for num, items in out.items()}


def activity_rows(ledger: dict[int, WorkedTask], cutoff: datetime, contact_base: int) -> list[dict]:
    """The CSMs' logged activity visible at the cut-off, as rows of `hubspot_engagements`."""
    rows = []
    for task in sorted(ledger.values(), key=lambda t: t.task_id):
        for activity in task.activities:
            at = _parse(activity["at"])
            if at >= cutoff:
                continue
            rows.append(
                {
                    "id": activity["id"],
                    "object_type": activity["object_type"],
                    "company_id": task.company_id,
                    "contact_id": str(contact_base + task.account_num * 100),
                    "hubspot_owner_id": task.owner_id,
                    "hs_timestamp": at,
                    "title": activity["title"],
                    "body": activity["body"],
                    "hs_createdate": at,
                    "hs_lastmodifieddate": at,
                    "archived": False,
                }
            )
    return rows


def truth_rows(ledger: dict[int, WorkedTask], accounts: dict[int, Account], without) -> list[dict]:
    """Each csops task's story and, for completed ones, the account's outcome with and without the playbook's
    effect (`without(num, task)` simulates the account again without that task's treatment)."""
    rows = []
    for task in sorted(ledger.values(), key=lambda t: t.task_id):
        account = accounts.get(task.account_num)
        if account is None:
            continue
        created = datetime.combine(date.fromisoformat(task.created_on), datetime.min.time(), UTC)
        outcome_at = created + timedelta(days=OUTCOME_DAYS)
        retained = account.is_customer_at(outcome_at)
        untreated = retained
        lift, churn_factor = PLAYBOOK_EFFECTS.get(task.playbook, NO_EFFECT)
        if task.status == "completed" and (lift, churn_factor) != NO_EFFECT:
            untreated = without(task.account_num, task).is_customer_at(outcome_at)
        rows.append(
            {
                "task_id": str(task.task_id),
                "task_key": task.task_key,
                "account_id": task.account_id,
                "playbook_slug": task.playbook,
                "true_health_lift": lift,
                "true_churn_factor": churn_factor,
                "owner_id": task.owner_id,
                "was_reassigned": bool(task.reassigned_from),
                "created_on": created.date(),
                "status": task.status,
                "completed_at": _parse(task.completed_at) if task.completed_at else None,
                "deleted_at": _parse(task.deleted_at) if task.deleted_at else None,
                "was_customer_at_creation": account.is_customer_at(created),
                "is_customer_90d": retained,
                "is_customer_90d_without_playbook": untreated,
            }
        )
    return rows
