"""What the sync remembers, in the warehouse's `activation` schema, plus the crash journal.

Tables (timestamps are UTC):
- `activation.sync_runs`: run_id, started_at, finished_at, status (running | succeeded | partial | failed | halted |
  blocked | dry_run | crashed), dry_run, counts (JSON), halted_reason, as_of_date, crm, requests, forced
- `activation.sync_log`: run_id, object_type (company | task | list_member | schema), object_key, action (update |
  create | skip | add | remove | create_property), status (ok | failed | skipped | planned), error, at, crm_id, detail
- `activation.sync_state`: object_type, object_key (company: CRM id; task: task key), crm_id, account_id, payload
  (JSON of the fields the CRM last accepted), payload_hash, status (synced | failed | gone), last_error, created_on
  (tasks: the as-of date they were created), synced_at, run_id, gone_on (status gone: the CRM answered 404 for the
  company to the run on marts as of that date; its payload is cleared); primary key (object_type, object_key)

The warehouse has one writer, so the sync opens it only to read and plan, and again to record the outcome; while
it talks to the CRM, outcomes go to an append-only journal (`<warehouse>.sync-journal/<run_id>.jsonl`, one
fsync'd line per row). A run that was killed leaves its journal behind: the next run applies it to the log and the
state first, then marks that run `crashed`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pyarrow as pa

from activation.marts import attach_spark_marts
from activation.model import OBJECT_COMPANY, OBJECT_TASK, KnownAccount, KnownTask, Outcome, SyncState

SCHEMA_SQL = """
create schema if not exists activation;
create table if not exists activation.sync_runs (
    run_id varchar primary key,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,
    dry_run boolean not null,
    counts varchar,
    halted_reason varchar,
    as_of_date date,
    crm varchar,
    requests integer,
    forced boolean
);
create table if not exists activation.sync_log (
    run_id varchar not null,
    object_type varchar not null,
    object_key varchar not null,
    action varchar not null,
    status varchar not null,
    error varchar,
    "at" timestamp not null,
    crm_id varchar,
    detail varchar
);
create table if not exists activation.sync_state (
    object_type varchar not null,
    object_key varchar not null,
    crm_id varchar,
    account_id varchar,
    payload varchar,
    payload_hash varchar,
    status varchar not null,
    last_error varchar,
    created_on date,
    synced_at timestamp not null,
    run_id varchar not null,
    primary key (object_type, object_key)
);
alter table activation.sync_state add column if not exists gone_on date;
"""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def payload_hash(fields: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL)


def load_state(con: duckdb.DuckDBPyConnection) -> SyncState:
    state = SyncState()
    rows = con.execute(
        "select object_type, object_key, crm_id, account_id, payload, last_error, created_on, status, gone_on "
        "from activation.sync_state where object_type in (?, ?)",
        [OBJECT_COMPANY, OBJECT_TASK],
    ).fetchall()
    for object_type, key, crm_id, account_id, payload, last_error, created_on, status, gone_on in rows:
        error = last_error if status == "failed" else None
        if object_type == OBJECT_COMPANY:
            fields = json.loads(payload) if payload and status != "gone" else None
            state.accounts[key] = KnownAccount(key, account_id, fields, error, gone_on if status == "gone" else None)
        else:
            state.tasks[key] = KnownTask(key, crm_id, created_on, error)
    first_last = con.execute(
        "select min(as_of_date), max(as_of_date) from activation.sync_runs "
        "where not dry_run and status in ('succeeded', 'partial')"
    ).fetchone()
    state.first_as_of, state.last_as_of = first_last if first_last else (None, None)
    return state


# ----------------------------------------------------------------------------------------------------- runs
def start_run(con: duckdb.DuckDBPyConnection, run_id: str, dry_run: bool, forced: bool, crm: str) -> datetime:
    started = utcnow()
    con.execute(
        "insert into activation.sync_runs (run_id, started_at, status, dry_run, crm, forced) "
        "values (?, ?, 'running', ?, ?, ?)",
        [run_id, started, dry_run, crm, forced],
    )
    return started


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    counts: dict[str, Any],
    halted_reason: str | None,
    as_of: date | None,
    requests: int,
) -> None:
    con.execute(
        "update activation.sync_runs set finished_at = ?, status = ?, counts = ?, halted_reason = ?, "
        "as_of_date = ?, requests = ? where run_id = ?",
        [utcnow(), status, json.dumps(counts, sort_keys=True), halted_reason, as_of, requests, run_id],
    )


# -------------------------------------------------------------------------------------------------- outcomes
_LOG_COLUMNS = ("object_type", "object_key", "action", "status", "error", "at", "crm_id", "detail")
_QUOTED = ", ".join(f'"{c}"' for c in _LOG_COLUMNS)  # `at` is a keyword in DuckDB


def record_outcomes(con: duckdb.DuckDBPyConnection, run_id: str, outcomes: list[Outcome]) -> None:
    """Append outcomes to the log and apply the non-planned ones to the state (inside the caller's transaction)."""
    if not outcomes:
        return
    log = pa.table(
        {
            "run_id": [run_id] * len(outcomes),
            **{c: [getattr(o, c) for o in outcomes] for c in _LOG_COLUMNS},
        },
        schema=pa.schema(
            [("run_id", pa.string())] + [(c, pa.timestamp("us") if c == "at" else pa.string()) for c in _LOG_COLUMNS]
        ),
    )
    effects = _state_rows(run_id, outcomes)
    con.register("incoming_log", log)
    con.execute(f"insert into activation.sync_log (run_id, {_QUOTED}) select run_id, {_QUOTED} from incoming_log")
    con.unregister("incoming_log")
    if effects.num_rows:
        con.register("incoming_state", effects)
        # A failure keeps what the CRM accepted before (payload, task id, creation day) and records the error.
        con.execute(
            """
            insert into activation.sync_state as s (
                object_type, object_key, crm_id, account_id, payload, payload_hash, status, last_error, created_on,
                synced_at, run_id
            )
            select object_type, object_key, crm_id, account_id, payload, payload_hash, status, last_error,
                   created_on, synced_at, run_id
            from incoming_state
            on conflict (object_type, object_key) do update set
                crm_id = coalesce(excluded.crm_id, s.crm_id),
                account_id = coalesce(excluded.account_id, s.account_id),
                payload = coalesce(excluded.payload, s.payload),
                payload_hash = coalesce(excluded.payload_hash, s.payload_hash),
                status = excluded.status,
                last_error = excluded.last_error,
                created_on = coalesce(excluded.created_on, s.created_on),
                synced_at = excluded.synced_at,
                run_id = excluded.run_id
            """
        )
        con.unregister("incoming_state")
    _forget_gone(con, run_id, outcomes)


def _forget_gone(con: duckdb.DuckDBPyConnection, run_id: str, outcomes: list[Outcome]) -> None:
    """Deleted and merged records: the state forgets what it synced to them (`forget`). A record the CRM answered
    404 for (`gone`, from any write: company update, task create, list membership) keeps only a marker with the
    as-of date of that night, and a task created for it is forgotten: nothing retries them until newer marts."""
    forgotten = [
        o.object_key
        for o in outcomes
        if o.object_type == OBJECT_COMPANY and o.action == "forget" and o.status != "planned"
    ]
    gone = {o.crm_id: o for o in outcomes if o.status == "gone" and o.crm_id}
    gone_tasks = [o.object_key for o in outcomes if o.object_type == OBJECT_TASK and o.status == "gone"]
    for object_type, keys in ((OBJECT_COMPANY, forgotten + list(gone)), (OBJECT_TASK, gone_tasks)):
        if keys:
            con.execute(
                "delete from activation.sync_state where object_type = ? and list_contains(?, object_key)",
                [object_type, keys],
            )
    for crm_id, o in gone.items():
        con.execute(
            "insert into activation.sync_state (object_type, object_key, crm_id, account_id, status, last_error, "
            "synced_at, run_id, gone_on) values (?, ?, ?, ?, 'gone', ?, ?, ?, ?)",
            [OBJECT_COMPANY, crm_id, crm_id, o.account_id, o.error, o.at, run_id, o.gone_on],
        )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _state_rows(run_id: str, outcomes: Iterable[Outcome]) -> pa.Table:
    latest: dict[tuple[str, str], Outcome] = {}
    for o in outcomes:
        if o.status in ("planned", "gone") or o.object_type not in (OBJECT_COMPANY, OBJECT_TASK):
            continue  # (gone: _forget_gone)
        if o.object_type == OBJECT_COMPANY and o.action != "update":
            continue  # e.g. skipped for want of a CRM company: nothing the CRM accepted
        if o.object_type == OBJECT_TASK and (
            o.action not in ("create", "skip") or (o.action == "skip" and not o.crm_id)
        ):
            continue  # skipped without a CRM task (e.g. no company): nothing to remember
        latest[(o.object_type, o.object_key)] = o  # the last word on a row wins
    rows = list(latest.values())
    ok = [o.status in ("ok", "skipped") for o in rows]
    return pa.table(
        {
            "object_type": [o.object_type for o in rows],
            "object_key": [o.object_key for o in rows],
            "crm_id": [o.crm_id for o in rows],
            "account_id": [o.account_id for o in rows],
            "payload": [
                json.dumps(o.payload, sort_keys=True) if good and o.payload is not None else None
                for o, good in zip(rows, ok, strict=True)
            ],
            "payload_hash": [
                payload_hash(o.payload) if good and o.payload is not None else None
                for o, good in zip(rows, ok, strict=True)
            ],
            "status": ["synced" if good else "failed" for good in ok],
            "last_error": [None if good else o.error for o, good in zip(rows, ok, strict=True)],
            "created_on": [o.created_on if good else None for o, good in zip(rows, ok, strict=True)],
            "synced_at": [o.at for o in rows],
            "run_id": [run_id] * len(rows),
        },
        schema=pa.schema(
            [
                ("object_type", pa.string()),
                ("object_key", pa.string()),
                ("crm_id", pa.string()),
                ("account_id", pa.string()),
                ("payload", pa.string()),
                ("payload_hash", pa.string()),
                ("status", pa.string()),
                ("last_error", pa.string()),
                ("created_on", pa.date32()),
                ("synced_at", pa.timestamp("us")),
                ("run_id", pa.string()),
            ]
        ),
    )


# --------------------------------------------------------------------------------------------------- journal
def journal_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".sync-journal")


def _encode(outcome: Outcome) -> str:
    data = asdict(outcome)
    data["at"] = outcome.at.isoformat()
    data["created_on"] = outcome.created_on.isoformat() if outcome.created_on else None
    data["gone_on"] = outcome.gone_on.isoformat() if outcome.gone_on else None
    return json.dumps(data, sort_keys=True)


def _decode(line: str) -> Outcome:
    data = json.loads(line)
    data["at"] = datetime.fromisoformat(data["at"])
    data["created_on"] = date.fromisoformat(data["created_on"]) if data.get("created_on") else None
    data["gone_on"] = date.fromisoformat(data["gone_on"]) if data.get("gone_on") else None
    return Outcome(**data)


class Journal:
    """Append-only outcomes of one run, flushed and fsync'd per batch so a killed run loses nothing it was told."""

    def __init__(self, warehouse: Path, run_id: str, enabled: bool = True):
        self.path = journal_dir(warehouse) / f"{run_id}.jsonl"
        self.outcomes: list[Outcome] = []
        self.enabled = enabled
        self._file: TextIO | None = None

    def write(self, outcomes: Iterable[Outcome]) -> None:
        batch = list(outcomes)
        self.outcomes.extend(batch)
        if self.enabled and self._file is None and batch:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        if self._file is not None and batch:
            self._file.write("".join(_encode(o) + "\n" for o in batch))
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self.enabled = False  # nothing is journaled once the run is being recorded
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def read_journal(path: Path) -> Iterator[Outcome]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield _decode(line)
            except (ValueError, TypeError, KeyError):
                return  # a line cut short by the kill: everything before it counts


def recover_crashed_runs(con: duckdb.DuckDBPyConnection, warehouse: Path, current_run: str) -> list[str]:
    """Apply the journals of runs that never finished, mark those runs `crashed`; their run ids."""
    recovered = []
    folder = journal_dir(warehouse)
    journals = {p.stem: p for p in folder.glob("*.jsonl") if p.stem != current_run} if folder.is_dir() else {}
    statuses = dict(con.execute("select run_id, status from activation.sync_runs").fetchall())
    for run_id, path in journals.items():
        if run_id in statuses and statuses[run_id] != "running":
            path.unlink()  # finished and recorded; only the journal's removal was cut short
    running = [run_id for run_id, status in statuses.items() if status == "running" and run_id != current_run]
    for run_id in sorted(set(running) | {r for r in journals if r not in statuses}):
        outcomes = list(read_journal(journals[run_id])) if run_id in journals else []
        with transaction(con):
            record_outcomes(con, run_id, outcomes)
            con.execute(
                "update activation.sync_runs set status = 'crashed', finished_at = coalesce(finished_at, ?), "
                "halted_reason = coalesce(halted_reason, ?) where run_id = ? and status = 'running'",
                [
                    utcnow(),
                    f"the sync stopped before it finished; {len(outcomes)} row outcomes recovered from its journal",
                    run_id,
                ],
            )
        if run_id in journals:
            journals[run_id].unlink()
        recovered.append(run_id)
    return recovered


@contextmanager
def open_warehouse(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(warehouse))
    try:
        ensure_schema(con)
        from ingestion.pipeline import spark_directory, target  # (dlt's import cost only where it is needed)

        if target() == "spark":
            # The warehouse file keeps the sync state; the marts are the Parquet tables Spark built.
            attach_spark_marts(con, spark_directory(warehouse))
        yield con
    finally:
        con.close()
