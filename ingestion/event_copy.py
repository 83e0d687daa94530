"""After each usage load: the warehouse copies the rows of the files the load named, then the copies of a message
are removed, only on the event days the load touched. Then the load is marked done.

Copying: for a local Parquet file in the canonical types, the usage source loads only the file's name (in
`_csops_event_files`) and its bad rows (to the quarantine); here DuckDB reads the file itself and inserts its good
rows, judged by the same rules (ingestion/event_rules.py), stamped with that load's id. One pass over the data,
where the Arrow path writes it three times (Arrow batches, dlt's load file, the table). dlt's own way to run a SELECT
in the destination (SQL model items) needs sqlglot's `qualify(infer_schema=...)`, which the sqlglot this project
pins no longer has, hence this step.

Removing copies: a client's retry (the same event sent again seconds later, possibly in another day's file) and a
re-delivered file both repeat the event as the client sent it, with its own `timestamp`, so every copy of a message
falls on the same event day and a window over those days' rows finds them all. The first copy received is kept. Why
not dlt's merge: it deduplicates the whole staged load with one `ROW_NUMBER() OVER (PARTITION BY message_id)` and
then merges it into the whole table; at 99M events that window alone grew past 17 GB. Here an aggregate finds the
messages seen more than once (on DuckDB by a 64-bit hash of the id: smaller groups, and a collision only adds a
candidate; it spills to disk under DuckDB's memory limit) and only their rows are ranked, by the id itself, so the
window holds the copies, not the table. The load's event days are searched in spans of whole days (every copy of a
message falls in one), as many as CHUNK_ROWS goes into its new rows, and what all spans found goes in one delete. A
nightly load (a few days) is one span and costs the same at any history length.

Each load is copied (one statement), then deduplicated and marked in `_csops_events_deduplicated_loads` (one
transaction): a run that died before this step or in it is caught up by the next run, and running it again leaves
the table as it was (rows copied twice are copies like any other).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from itertools import pairwise
from typing import Any

import dlt

from ingestion.event_rules import CANONICAL_SCHEMA, COLUMNS, KNOWN_ACCOUNTS, screened_select
from ingestion.quarantine import QUARANTINE_TABLE
from ingestion.usage import FILES_TABLE, SOURCE

TABLE = "events"
MARKER = "_csops_events_deduplicated_loads"  # leading underscore: bookkeeping, not a data table
CHUNK_ROWS = 4_000_000  # new rows per span searched for copies (see _remove_copies)


def _nothing(loads: list[str] | None = None) -> dict[str, Any]:
    """The step's result with nothing done yet (a fresh dict each time: callers add to it)."""
    return {
        "loads": loads or [],
        "copied": 0,
        "quarantined": 0,
        "days": 0,
        "chunks": 0,
        "removed": 0,
        "seconds": {"copy": 0.0, "dedupe": 0.0, "checkpoint": 0.0},
    }


@dataclass(frozen=True)
class NamedFile:
    """A file a load named for the warehouse to copy (a `_csops_event_files` row)."""

    path: str  # on this machine
    name: str  # relative to the bucket, as the events' `file_name`
    columns: tuple[str, ...]  # the event columns it has (vendor names)
    rows: int  # from its footer


def _day_spans(first: date, end: date, chunks: int) -> list[tuple[date, date]]:
    """[first, end) cut into `chunks` runs of whole days as equal as days allow (fewer when there are fewer days)."""
    days = (end - first).days
    chunks = max(1, min(chunks, days))
    bounds = [first + timedelta(days=days * i // chunks) for i in range(chunks + 1)]
    return list(pairwise(bounds))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, clock_time(), tzinfo=UTC)


def _tables(client: Any) -> set[str]:
    return {
        row[0]
        for row in client.execute_sql(
            "select table_name from information_schema.tables where table_schema = %s", client.dataset_name
        )
        or []
    }


def read_parquet_sql(paths: list[str]) -> str:
    """DuckDB's reader over these Parquet files, with each row's file path as `filename`."""
    listing = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{listing}], union_by_name = true, filename = true)"


def _copy_files(client: Any, load_id: str, files: list[NamedFile], known: bool) -> tuple[int, int]:
    """Insert the good rows of `files`, stamped with `load_id`, and, when fewer rows went in than the files hold,
    quarantine the others with the rule each broke; returns (rows copied, rows quarantined)."""
    present = {field.name: field.type for field in CANONICAL_SCHEMA if any(field.name in f.columns for f in files)}
    by_root: dict[str, list[NamedFile]] = {}
    for file in files:
        by_root.setdefault(file.path.removesuffix(file.name), []).append(file)
    vendor_columns = ", ".join(f'"{vendor}"' for vendor, _, _ in COLUMNS)
    targets = ", ".join(f'"{column}"' for _, column, _ in COLUMNS)
    events = client.make_qualified_table_name(TABLE)
    copied = quarantined = 0
    for root, group in by_root.items():
        screened = screened_select(read_parquet_sql([f.path for f in group]), present, known, ("filename",))
        relative = f"substr(filename, {len(root) + 1})"
        result = client.execute_sql(
            f"insert into {events} ({targets}, file_name, _dlt_load_id) "
            f"select {vendor_columns}, {relative}, %s from ({screened}) where rule is null",
            load_id,
        )
        inserted = int(result[0][0]) if result and result[0] else 0
        copied += inserted
        if inserted < sum(f.rows for f in group):  # bad rows are rare: read the files again only when there are some
            quarantined += _quarantine_rows(client, load_id, screened, relative)
    return copied, quarantined


def _quarantine_rows(client: Any, load_id: str, screened: str, relative: str) -> int:
    """Insert the rows of `screened` that break a rule into the quarantine, as `ingestion.quarantine.quarantined`
    writes them (the record as JSON with the vendor's names)."""
    columns = _columns(client, QUARANTINE_TABLE)
    record = ", ".join(f'"{vendor}"' for vendor, _, _ in COLUMNS)
    values = {
        "quarantine_id": "replace(cast(uuid() as varchar), '-', '')",
        "source": f"'{SOURCE}'",
        "resource": f"'{TABLE}'",
        "reason": "reason",
        "rule": "rule",
        "record": f"cast(to_json(struct_pack({record}, file_name := {relative})) as varchar)",
        "quarantined_at": "now()",
        "_dlt_load_id": "'" + load_id.replace("'", "''") + "'",
        "_dlt_id": "replace(cast(uuid() as varchar), '-', '')",
    }
    names = [name for name in values if name in columns]
    result = client.execute_sql(
        f"insert into {client.make_qualified_table_name(QUARANTINE_TABLE)} ({', '.join(names)}) "
        f"select {', '.join(values[n] for n in names)} from ({screened}) where rule is not null"
    )
    return int(result[0][0]) if result and result[0] else 0


def _columns(client: Any, table: str) -> set[str]:
    return {
        row[0]
        for row in client.execute_sql(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            client.dataset_name,
            table,
        )
        or []
    }


def _load_spans(client: Any, events: str, load_id: str) -> tuple[int, list[tuple[date, date]]]:
    """(the event days `load_id` spans, the [first, end) day ranges to look for copies in, one per CHUNK_ROWS new
    rows, of equal length in days). The load's bounds come from its min and max time, which DuckDB answers from
    statistics where it can (counting 99M rows per day took 4.1 s)."""
    first, last, rows = (
        client.execute_sql(
            f'select min("timestamp"), max("timestamp"), count(*) from {events} where _dlt_load_id = %s', load_id
        )
        or [(None, None, 0)]
    )[0]
    if not rows or first is None:  # no rows, or none with a time (those break a rule and are never copied)
        return 0, []
    first_day, end = _utc_day(first), _utc_day(last) + timedelta(days=1)
    return (end - first_day).days, _day_spans(first_day, end, -(-int(rows) // CHUNK_ROWS))


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def row_identity(destination_type: str) -> tuple[str, str]:
    """(what addresses a row, the cheap key messages are grouped by first) on this dlt destination: Postgres has
    `ctid` and no 64-bit hash of text, DuckDB has `rowid` and `hash()`."""
    return ("ctid", "message_id") if "postgres" in destination_type else ("rowid", "hash(message_id)")


def _remove_copies(client: Any, load_id: str, row_id: str, key: str) -> tuple[int, int, int]:
    """Remove the later copies of every message on the event days of `load_id`; (days spanned, statements that
    looked for copies, rows removed).
    `key` groups the messages first: a cheap hash of the id where the database has one (any collision only adds a
    candidate: the copies are then told apart by the id itself)."""
    events = client.make_qualified_table_name(TABLE)
    days, spans = _load_spans(client, events, load_id)
    if not spans:
        return days, 0, 0
    # The copies are found span by span, then deleted in one statement (each delete scans the table: 26 deletes of
    # 4M rows' days took 44.6 s over 99M events, where one took 17.5 s). Within a span, an aggregate finds the keys
    # seen more than once and only those rows are ranked by the id: copies are rare (a fraction of a percent). Spans
    # of a few million rows keep the key's collisions rare too: over 106M events in one span, DuckDB's hash put
    # 3.7M keys more than once where 0.3M messages had copies, and the ranking then read 7.5M rows instead of 0.6M.
    found = "csops_event_copies"
    client.execute_sql(f"drop table if exists {found}")
    client.execute_sql(f"create temp table {found} as select {row_id} as row_id from {events} where false")
    bounds = '"timestamp" >= %s and "timestamp" < %s'
    for first, end in spans:
        client.execute_sql(
            f"""insert into {found} select row_id from (
                select
                    {row_id} as row_id,
                    row_number() over (
                        partition by message_id order by received_at nulls last, _dlt_load_id, file_name
                    ) as copy_number
                from {events}
                where {bounds} and {key} in (
                    select {key} from {events} where {bounds} group by 1 having count(*) > 1
                )
            ) as ranked
            where copy_number > 1""",
            *(_midnight(first), _midnight(end)) * 2,
        )
    # Counted here: Postgres' DELETE returns no row count through dlt's client (the spans are disjoint: no row twice).
    removed = int(client.execute_sql(f"select count(*) from {found}")[0][0])
    client.execute_sql(f"delete from {events} where {row_id} in (select row_id from {found})")
    client.execute_sql(f"drop table {found}")
    return days, len(spans), removed


def _unfinished(client: Any, marker: str, schema_name: str) -> list[str]:
    return [
        row[0]
        for row in client.execute_sql(
            f"select load_id from {client.make_qualified_table_name('_dlt_loads')} where schema_name = %s "
            f"and status = 0 and load_id not in (select load_id from {marker}) order by load_id",
            schema_name,
        )
        or []
    ]


def give_up_unfinished_loads(pipeline: dlt.Pipeline) -> list[str]:
    """Before a full re-read of the bucket: mark the loads whose files were never copied as done (with no rows
    removed, NULL), so a file that vanished no longer stops every run; the re-read copies every file still there."""
    with pipeline.sql_client() as client:
        if not client.has_dataset() or not {"_dlt_loads", MARKER} <= _tables(client):
            return []
        marker = client.make_qualified_table_name(MARKER)
        given_up = _unfinished(client, marker, pipeline.default_schema_name)
        for load_id in given_up:
            client.execute_sql(f"insert into {marker} values (%s, null, %s)", load_id, datetime.now(UTC))
    return given_up


def copy_and_deduplicate(
    pipeline: dlt.Pipeline, known_accounts: Callable[[], list[str] | None] = lambda: None
) -> dict[str, Any]:
    """Copy the named files' rows and remove the later copies of every message, for each load not yet done;
    returns the loads done, rows copied, days covered, statements run and rows removed. `known_accounts` lists the
    accounts an event may name (None: any), as the source was given them."""
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return _nothing()
        tables = _tables(client)
        if "_dlt_loads" not in tables:
            return _nothing()  # nothing loaded yet
        marker = client.make_qualified_table_name(MARKER)
        client.execute_sql(
            f"create table if not exists {marker} "
            "(load_id varchar not null, removed_rows bigint, deduplicated_at timestamp with time zone)"
        )
        todo = _unfinished(client, marker, pipeline.default_schema_name)
        if not todo:
            return _nothing()
        files: dict[str, list[NamedFile]] = {}
        if FILES_TABLE in tables:
            marks = ", ".join(["%s"] * len(todo))
            named = client.make_qualified_table_name(FILES_TABLE)
            for load_id, path, name, columns, rows in (
                client.execute_sql(
                    f"select _dlt_load_id, path, file_name, columns, rows from {named} "
                    f"where _dlt_load_id in ({marks}) order by file_name",
                    *todo,
                )
                or []
            ):
                files.setdefault(load_id, []).append(NamedFile(path, name, tuple(columns.split(",")), int(rows)))
        if TABLE not in tables:
            return _nothing()
        accounts = known_accounts() if files else None
        if accounts is not None:
            client.execute_sql(f"create or replace temp table {KNOWN_ACCOUNTS} (account_id varchar)")
            client.execute_sql(f"insert into {KNOWN_ACCOUNTS} select unnest(%s::varchar[])", sorted(set(accounts)))
        row_id, key = row_identity(pipeline.destination.destination_type)
        done = _nothing(todo)
        for load_id in todo:
            started = time.perf_counter()
            # Two transactions: DuckDB deletes from rows committed far faster than from rows of the same
            # transaction (13.2 s against 1.9 s at 15M events). A run that dies between them copies the files again
            # next time, and those copies go with the others: the table ends the same.
            copied, quarantined = (
                _copy_files(client, load_id, files[load_id], accounts is not None) if load_id in files else (0, 0)
            )
            copy_done = time.perf_counter()
            with client.begin_transaction():
                days, chunks, removed = _remove_copies(client, load_id, row_id, key)
                client.execute_sql(f"insert into {marker} values (%s, %s, %s)", load_id, removed, datetime.now(UTC))
            done["seconds"]["copy"] += copy_done - started
            done["seconds"]["dedupe"] += time.perf_counter() - copy_done
            done["copied"] += copied
            done["quarantined"] += quarantined
            done["days"] += days
            done["chunks"] += chunks
            done["removed"] += removed
        if "duckdb" in pipeline.destination.destination_type:
            # Write the new rows and deletions into the database file in this step, so that their cost is counted
            # here and never left in the write-ahead log for the next process that opens the warehouse.
            started = time.perf_counter()
            client.execute_sql("checkpoint")
            done["seconds"]["checkpoint"] = time.perf_counter() - started
    return done
