"""One run of the nightly CRM sync.

    A. warehouse open:  recover crashed runs, preflight, read the marts and the state, record the run as running
    -  plan (pure):     diff, circuit breaker, tasks due           -> halt here if the breaker trips
    B. warehouse closed: talk to the CRM (schema, companies, list, tasks); every row's outcome to the journal
    C. warehouse open:  outcomes -> sync_log + sync_state, the run's status, in one transaction

Idempotency: only rows that differ from what the CRM accepted are sent; tasks carry a deterministic key and are
looked up in the CRM before they are created, so a re-run after a crash finds the tasks the killed run created;
list membership is diffed against the list itself. A single sync runs at a time (a lock file beside the
warehouse).

Deleted records: the plan never writes to a company the marts know is deleted or merged (a merged one's fields and
tasks go to the survivor) and forgets what the state remembers of them. A record deleted after the marts were built
answers 404 / OBJECT_NOT_FOUND to whichever write meets it first (company update, task create with its association,
list membership): that row is logged with the record's id as `gone` (not a failure), the state of the record is
cleared down to a marker with tonight's as-of date, and nothing is sent to it again until marts built on a later
night show it (plan.py).
"""

from __future__ import annotations

import fcntl
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from activation.config import ConfigError, SyncConfig
from activation.crm.base import (
    AccountUpdate,
    AmbiguousWrite,
    BatchRejected,
    Crm,
    CrmError,
    ExistingTask,
    RowResult,
)
from activation.fields import DIFF_FIELDS, DisallowedFieldError
from activation.marts import read_snapshot
from activation.model import (
    OBJECT_COMPANY,
    OBJECT_LIST,
    OBJECT_SCHEMA,
    OBJECT_TASK,
    MartSnapshot,
    Outcome,
    SyncState,
    TaskRow,
)
from activation.plan import (
    AccountChange,
    Plan,
    cap_per_owner,
    created_tonight,
    decide_tasks,
    diff_members,
    new_task,
    plan_sync,
)
from activation.preflight import dbt_problems, mart_problems
from activation.report import MAX_FAILURES_KEPT, SyncReport
from activation.state import (
    Journal,
    finish_run,
    load_state,
    open_warehouse,
    record_outcomes,
    recover_crashed_runs,
    start_run,
    transaction,
    utcnow,
)
from activation.templates import TemplateError

T = TypeVar("T")
SAMPLE_SIZE = 5
AMBIGUOUS_ATTEMPTS = 3


class SyncBusy(RuntimeError):
    """Another sync holds the lock of this warehouse."""


@contextmanager
def _lock(warehouse: Path) -> Iterator[None]:
    path = warehouse.with_name(warehouse.name + ".sync.lock")
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(f"another CRM sync is running on {warehouse} (lock {path})") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _chunks(rows: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_sync(
    warehouse: Path | str,
    *,
    dry_run: bool = False,
    force: bool = False,
    log: Callable[[str], Any] = print,
    config: SyncConfig | None = None,
    crm: Crm | None = None,
) -> SyncReport:
    """Push tonight's health fields, at-risk list and CSM tasks into the CRM (only what changed).

    `dry_run` reads the CRM but writes nothing to it; `force` overrides the circuit breaker (never the preflight).
    `config` defaults to `SyncConfig.from_env()`, `crm` to HubSpot from that config."""
    started = time.monotonic()
    warehouse = Path(warehouse)
    report = SyncReport(run_id=f"sync-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", dry_run=dry_run, forced=force)
    try:
        if not warehouse.exists():
            report.status, report.halted_reason = "blocked", f"no warehouse at {warehouse}: run the pipeline first"
            return report
        config = config or SyncConfig.from_env()
        with _lock(warehouse):
            _Run(warehouse, config, report, log, crm).run()
    except (ConfigError, SyncBusy) as exc:
        report.status, report.halted_reason = "failed", str(exc)
    except duckdb.IOException as exc:  # another process holds the warehouse (DuckDB has one writer)
        report.status = "failed"
        report.halted_reason = f"cannot open the warehouse {warehouse} (is a dbt or dlt run writing it?): {exc}"
    finally:
        report.seconds = time.monotonic() - started
    return report


class _Run:
    def __init__(
        self, warehouse: Path, config: SyncConfig, report: SyncReport, log: Callable[[str], Any], crm: Crm | None
    ):
        self.warehouse, self.config, self.report, self.log = warehouse, config, report, log
        self.crm = crm
        self.own_crm = crm is None
        self.state = SyncState()
        self.plan: Plan | None = None
        self.snapshot: MartSnapshot | None = None
        self.journal: Journal | None = None
        self.gone: set[str] = set()  # CRM records found deleted tonight: nothing more is sent to them

    # ------------------------------------------------------------------------------------------------- phases
    def run(self) -> None:
        report = self.report
        report.crm = self.crm.name if self.crm else "hubspot"
        self.journal = Journal(self.warehouse, report.run_id, enabled=not report.dry_run)
        if not self._prepare():
            self.journal.discard()
            return
        assert self.plan is not None
        try:
            if self.plan.breaker.halts and not report.dry_run:
                report.status, report.halted_reason = "halted", f"circuit breaker: {self.plan.breaker.describe()}"
                self.log(report.halted_reason)
            else:
                self._push()
        finally:
            self.journal.close()
            if self.crm is not None:
                report.requests = self.crm.requests_sent
                if self.own_crm:
                    self.crm.close()
        self._record()
        self.journal.discard()

    def _prepare(self) -> bool:
        """Phase A. False when the run stops here (blocked); the run is recorded either way."""
        report = self.report
        with open_warehouse(self.warehouse) as con:
            recovered = recover_crashed_runs(con, self.warehouse, report.run_id)
            if recovered:
                report.notes.append(f"recovered {len(recovered)} interrupted run(s): {', '.join(recovered)}")
                self.log(report.notes[-1])
            start_run(con, report.run_id, report.dry_run, report.forced, report.crm or "")
            checks = mart_problems(con)
            dbt = dbt_problems(self.config.dbt_target_dir)
            report.notes += dbt.notes
            problems = checks.problems + dbt.problems
            if problems:
                report.status = "blocked"
                report.halted_reason = "preflight failed: " + "; ".join(problems)
                self.log(report.halted_reason)
                finish_run(con, report.run_id, "blocked", {}, report.halted_reason, None, 0)
                return False
            try:
                snapshot = read_snapshot(con)
            except TemplateError as exc:
                report.status, report.halted_reason = "blocked", f"cannot fill the task text: {exc}"
                self.log(report.halted_reason)
                finish_run(con, report.run_id, "blocked", {}, report.halted_reason, None, 0)
                return False
            self.state = load_state(con)
        report.as_of = snapshot.as_of
        if self.state.last_as_of and snapshot.as_of < self.state.last_as_of:
            report.notes.append(
                f"the marts (as of {snapshot.as_of}) are older than the last sync (as of {self.state.last_as_of})"
            )
        self.snapshot = snapshot
        self._plan()
        for kind, n in self.plan.retrying.items():
            report.notes.append(f"retrying {n} {kind} row(s) that failed in an earlier run")
        self.log(
            f"plan (as of {snapshot.as_of}): {len(self.plan.account_changes)} company updates, "
            f"{len(self.plan.at_risk_crm_ids)} at-risk accounts, {len(self.plan.tasks_due)} tasks due; "
            f"{report.breaker}"
        )
        for object_type, key, why in self.plan.skipped:
            self._outcomes([Outcome(object_type, key, "skip", "skipped", utcnow(), detail=why)])
        status = "planned" if report.dry_run else "skipped"
        for crm_id, account_id, why in self.plan.forgotten:
            self._outcomes(
                [
                    Outcome(
                        OBJECT_COMPANY,
                        crm_id,
                        "forget",
                        status,
                        utcnow(),
                        crm_id=crm_id,
                        account_id=account_id,
                        detail=why,
                    )
                ]
            )
        if self.plan.forgotten or self.plan.removed:
            note = (
                f"deleted or merged CRM companies: {sum(self.plan.removed.values())} account row(s) not written or "
                f"re-pointed ({', '.join(f'{why} {n}' for why, n in sorted(self.plan.removed.items())) or 'none'}), "
                f"{len(self.plan.forgotten)} synced record(s) forgotten"
            )
            report.notes.append(note)
            self.log(note)
        if self.plan.breaker.halts and report.dry_run:
            report.halted_reason = f"circuit breaker: {self.plan.breaker.describe()}"
        return True

    def _plan(self) -> None:
        assert self.snapshot is not None
        self.plan = plan_sync(
            self.snapshot,
            self.state,
            max_change_share=self.config.max_change_share,
            force=self.report.forced,
            spread=self.config.spread_reviews,
        )
        self.report.plan = self.plan.counts()
        self.report.first_sync = self.plan.breaker.first_sync
        self.report.breaker = self.plan.breaker.describe()

    def _record(self) -> None:
        """Phase C."""
        report = self.report
        if report.status == "running":
            if report.dry_run:
                report.status = "halted" if report.halted_reason else "dry_run"
            else:
                report.status = "partial" if report.failed_rows else "succeeded"
        outcomes = self.journal.outcomes if self.journal else []
        with open_warehouse(self.warehouse) as con, transaction(con):
            record_outcomes(con, report.run_id, outcomes)
            finish_run(
                con,
                report.run_id,
                report.status,
                dict(report.counts),
                report.halted_reason,
                report.as_of,
                report.requests,
            )

    # ------------------------------------------------------------------------------------------------- phase B
    def _push(self) -> None:
        report = self.report
        try:
            if self.crm is None:
                from activation.crm.hubspot import HubSpotCrm

                self.crm = HubSpotCrm(self.config, log=self.log)
                report.crm = self.crm.name
            self._schema()
            self._companies()
            self._list()
            self._tasks()
        except (CrmError, DisallowedFieldError) as exc:
            report.status = "failed"
            report.halted_reason = f"{type(exc).__name__}: {exc}"
            self.log(f"sync stopped: {report.halted_reason}")
        except Exception as exc:  # a bug or an unexpected answer: record the run as failed, keep the traceback
            report.status = "failed"
            report.halted_reason = f"unexpected {type(exc).__name__}: {exc}"
            self.log(f"sync stopped: {report.halted_reason}\n{traceback.format_exc()}")

    def _outcomes(self, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            self.report.counts[f"{o.object_type}.{o.action}.{o.status}"] += 1
            if o.status == "gone":
                self.gone.add(o.crm_id or o.object_key)
                self.log(
                    f"{o.object_type} {o.action} {o.object_key}: CRM record {o.crm_id} not found (deleted); "
                    f"state cleared, not sent again until newer marts ({o.error or 'not found'})"
                )
            if o.status == "failed" and len(self.report.failures) < MAX_FAILURES_KEPT:
                self.report.failures.append((o.object_type, o.object_key, o.error or ""))
        if self.journal is not None:
            self.journal.write(outcomes)

    def _sample(self, text: str) -> None:
        if len(self.report.samples) < 4 * SAMPLE_SIZE:
            self.report.samples.append(text)

    def _isolate(
        self,
        send: Callable[[list[T]], list[RowResult]],
        rows: list[T],
        key: Callable[[T], str],
        done: Callable[[list[T], list[RowResult]], None],
    ) -> None:
        """Send a batch; when the API rejects it as a whole, split it in halves until the bad rows stand alone."""
        try:
            results = send(rows)
        except BatchRejected as exc:
            if len(rows) == 1:
                done(rows, [RowResult(key(rows[0]), False, None, str(exc), gone=exc.gone)])
                return
            self.log(f"batch of {len(rows)} rejected ({str(exc)[:160]}); splitting it to isolate the bad rows")
            middle = len(rows) // 2
            self._isolate(send, rows[:middle], key, done)
            self._isolate(send, rows[middle:], key, done)
            return
        done(rows, results)

    def _schema(self) -> None:
        assert self.crm is not None and self.snapshot is not None
        created = self.crm.ensure_schema(dry_run=self.report.dry_run)
        status = "planned" if self.report.dry_run else "ok"
        self._outcomes([Outcome(OBJECT_SCHEMA, name, "create_property", status, utcnow()) for name in created])
        # A field the CRM did not have holds none of the values the state remembers (a new portal, a reset
        # sandbox, a deleted property): forget that part of the state and plan again.
        reset_accounts = any(n.startswith("account.") for n in created) and not self.state.is_empty
        reset_tasks = any(n.startswith("task.") for n in created) and bool(self.state.tasks)
        if reset_accounts or reset_tasks:
            what = " and ".join(w for w, on in (("account fields", reset_accounts), ("task keys", reset_tasks)) if on)
            note = f"the CRM had none of the csops {what} the sync state remembers: sending them again"
            self.report.notes.append(note)
            self.log(note)
            self.state = SyncState(
                accounts={} if reset_accounts else self.state.accounts,
                tasks={} if reset_tasks else self.state.tasks,
                last_as_of=self.state.last_as_of,
                first_as_of=None if reset_tasks else self.state.first_as_of,  # a new CRM starts a new review cycle
            )
            self._plan()

    def _companies(self) -> None:
        assert self.crm is not None and self.plan is not None
        changes = self.plan.account_changes
        for change in changes[:SAMPLE_SIZE]:
            self._sample(_describe_change(change))
        if self.report.dry_run:
            self._outcomes(
                [
                    Outcome(
                        OBJECT_COMPANY,
                        c.crm_id,
                        "update",
                        "planned",
                        utcnow(),
                        crm_id=c.crm_id,
                        account_id=c.account_id,
                        detail=c.reason,
                    )
                    for c in changes
                ]
            )
            return
        by_id = {c.crm_id: c for c in changes}

        def send(batch: list[AccountChange]) -> list[RowResult]:
            synced_at = _now_iso()
            return self.crm.update_accounts(  # type: ignore[union-attr]
                [AccountUpdate(c.crm_id, {**c.fields, "cs_synced_at": synced_at}) for c in batch]
            )

        def done(batch: list[AccountChange], results: list[RowResult]) -> None:
            at = utcnow()
            outcomes = []
            for result in results:
                change = by_id[result.key]
                outcomes.append(
                    Outcome(
                        OBJECT_COMPANY,
                        change.crm_id,
                        "update",
                        _status(result),
                        at,
                        error=result.error,
                        crm_id=change.crm_id,
                        account_id=change.account_id,
                        detail=change.reason,
                        payload={f: change.fields.get(f, "") for f in DIFF_FIELDS} if result.ok else None,
                        gone_on=self.plan.as_of if result.gone else None,  # type: ignore[union-attr]
                    )
                )
            self._outcomes(outcomes)

        total = len(changes)
        for number, batch in enumerate(_chunks(changes, self.crm.max_batch_size), start=1):
            self._isolate(send, batch, lambda c: c.crm_id, done)
            if number % 20 == 0 or number * self.crm.max_batch_size >= total:
                self.log(f"companies: {min(number * self.crm.max_batch_size, total)}/{total} sent")

    def _list(self) -> None:
        assert self.crm is not None and self.plan is not None
        name = self.config.list_name
        list_id = self.crm.find_list(name)
        if list_id is None:
            if self.report.dry_run:
                self.report.notes.append(f"the list {name!r} does not exist yet (would be created)")
            else:
                list_id = self.crm.create_list(name)
        actual = self.crm.list_members(list_id) if list_id else set()
        add, remove = diff_members(self.plan.at_risk_crm_ids - self.gone, actual)
        for crm_id in add[:SAMPLE_SIZE]:
            self._sample(f"add company {crm_id} to {name!r}")
        for crm_id in remove[:SAMPLE_SIZE]:
            self._sample(f"remove company {crm_id} from {name!r} (recovered)")
        for action, ids, call in (("add", add, self.crm.add_to_list), ("remove", remove, self.crm.remove_from_list)):
            if self.report.dry_run:
                self._outcomes([Outcome(OBJECT_LIST, c, action, "planned", utcnow(), crm_id=c) for c in ids])
                continue

            def done(batch: list[str], results: list[RowResult], action: str = action) -> None:
                at = utcnow()
                gone_on = self.plan.as_of  # type: ignore[union-attr]
                self._outcomes(
                    [
                        Outcome(
                            OBJECT_LIST,
                            r.key,
                            action,
                            _status(r),
                            at,
                            error=r.error,
                            crm_id=r.key,
                            gone_on=gone_on if r.gone else None,
                        )
                        for r in results
                    ]
                )

            for batch in _chunks(ids, self.crm.max_list_batch_size):
                self._isolate(lambda b, call=call: call(list_id, b), batch, lambda c: c, done)
        if add or remove:
            self.log(f"list {name!r}: {len(add)} to add, {len(remove)} to remove")

    def _tasks(self) -> None:
        assert self.crm is not None and self.plan is not None
        due = [t for t in self.plan.tasks_due if t.crm_id not in self.gone]
        if not due:
            return
        as_of = self.plan.as_of
        existing = self.crm.find_tasks([t.key for t in due])
        create, keep = decide_tasks(due, existing, as_of)
        self._outcomes([self._kept(task, found, why) for task, found, why in keep])
        tonight = created_tonight(self.snapshot.tasks if self.snapshot else due, self.state, as_of)
        create, deferred = cap_per_owner(create, self.config.max_tasks_per_csm, tonight)
        self._defer(deferred)
        for task in create[:SAMPLE_SIZE]:
            self._sample(
                f"create task {task.title!r} for company {task.crm_id} (owner {task.owner_id}), due {task.due_date}"
            )
        if self.report.dry_run:
            self._outcomes(
                [
                    Outcome(
                        OBJECT_TASK, t.key, "create", "planned", utcnow(), account_id=t.account_id, detail=t.playbook
                    )
                    for t in create
                ]
            )
            return
        self.log(f"tasks: {len(create)} to create, {len(keep)} already in the CRM")
        for batch in _chunks(create, self.crm.max_batch_size):
            self._create_tasks(batch)

    def _defer(self, deferred: list[tuple[TaskRow, str]]) -> None:
        """Log the tasks the per-CSM cap holds back tonight (not remembered in the state: they stay due)."""
        if not deferred:
            return
        status = "planned" if self.report.dry_run else "skipped"
        self._outcomes(
            [
                Outcome(OBJECT_TASK, t.key, "defer", status, utcnow(), account_id=t.account_id, detail=why)
                for t, why in deferred
            ]
        )
        by_owner = Counter(t.owner_id or "(none)" for t, _ in deferred)
        self.report.deferred = dict(sorted(by_owner.items()))
        note = (
            f"{'would defer' if self.report.dry_run else 'deferred'} {len(deferred)} new task(s) to later nights: "
            f"at most {self.config.max_tasks_per_csm} per CSM per night (CSOPS_SYNC_MAX_TASKS_PER_CSM), most urgent "
            "first; deferred per owner: " + ", ".join(f"{o} {n}" for o, n in self.report.deferred.items())
        )
        self.log(note)  # the report lists them as `deferred:` (summary_lines) and `tasks_deferred` (metadata)

    def _kept(self, task: TaskRow, found: ExistingTask, why: str) -> Outcome:
        known = self.state.tasks.get(task.key)
        created_on = known.created_on if known and known.crm_id == found.crm_id and known.created_on else None
        return Outcome(
            OBJECT_TASK,
            task.key,
            "skip",
            "skipped",
            utcnow(),
            crm_id=found.crm_id,
            account_id=task.account_id,
            detail=why,
            created_on=created_on or found.created_on or self.plan.as_of,  # type: ignore[union-attr]
        )

    def _create_tasks(self, batch: list[TaskRow]) -> None:
        assert self.crm is not None and self.plan is not None
        by_key = {t.key: t for t in batch}
        resolved: set[str] = set()

        def send(rows: list[TaskRow]) -> list[RowResult]:
            return self.crm.create_tasks([new_task(t) for t in rows])  # type: ignore[union-attr]

        def done(rows: list[TaskRow], results: list[RowResult]) -> None:
            at = utcnow()
            outcomes = []
            for result in results:
                task = by_key[result.key]
                resolved.add(task.key)
                outcomes.append(
                    Outcome(
                        OBJECT_TASK,
                        task.key,
                        "create",
                        _status(result),
                        at,
                        error=result.error,
                        # a task that met a deleted company names that company (its state is cleared below)
                        crm_id=task.crm_id if result.gone else result.crm_id,
                        account_id=task.account_id,
                        detail=task.playbook,
                        created_on=self.plan.as_of if result.ok else None,  # type: ignore[union-attr]
                        gone_on=self.plan.as_of if result.gone else None,  # type: ignore[union-attr]
                    )
                )
            self._outcomes(outcomes)

        pending = list(batch)
        for attempt in range(1, AMBIGUOUS_ATTEMPTS + 1):
            try:
                self._isolate(send, pending, lambda t: t.key, done)
                return
            except AmbiguousWrite as exc:
                pending = [t for t in pending if t.key not in resolved]
                self.log(f"task create may or may not have happened ({exc}); looking the tasks up before retrying")
                time.sleep(self.config.ambiguous_write_pause_seconds)
                found = self.crm.find_tasks([t.key for t in pending])
                create, keep = decide_tasks(pending, found, self.plan.as_of)
                adopted = []
                for task, existing, _ in keep:
                    resolved.add(task.key)
                    adopted.append(
                        Outcome(
                            OBJECT_TASK,
                            task.key,
                            "create",
                            "ok",
                            utcnow(),
                            crm_id=existing.crm_id,
                            account_id=task.account_id,
                            detail=f"{task.playbook} (confirmed after an ambiguous response)",
                            created_on=self.plan.as_of,
                        )
                    )
                self._outcomes(adopted)
                pending = create
                if not pending:
                    return
                if attempt == AMBIGUOUS_ATTEMPTS:
                    self._outcomes(
                        [
                            Outcome(
                                OBJECT_TASK,
                                t.key,
                                "create",
                                "failed",
                                utcnow(),
                                error=str(exc),
                                account_id=t.account_id,
                                detail=t.playbook,
                            )
                            for t in pending
                        ]
                    )


def _status(result: RowResult) -> str:
    return "ok" if result.ok else "gone" if result.gone else "failed"


def _describe_change(change: AccountChange) -> str:
    previous = change.previous or {}
    diffs = [
        f"{f} {previous.get(f, '')!r}->{change.fields.get(f, '')!r}"
        for f in DIFF_FIELDS
        if f != "cs_risk_reasons" and previous.get(f, "") != change.fields.get(f, "")
    ]
    return f"update company {change.crm_id} ({change.account_id}, {change.reason}): " + ", ".join(diffs[:4])
