"""After each usage load: the warehouse copies the rows of the files the load named, then marks the load done.

Copying: for a local Parquet file in the canonical types, the usage source loads only the file's name (in
`_csops_event_files`) and its bad rows (to the quarantine); here DuckDB reads the file itself and inserts its good
rows, judged by the same rules (ingestion/event_rules.py), stamped with that load's id. One pass over the data,
where the Arrow path writes it three times (Arrow batches, dlt's load file, the table). dlt's own way to run a SELECT
in the destination (SQL model items) needs sqlglot's `qualify(infer_schema=...)`, which the sqlglot this project
pins no longer has, hence this step.

The table only grows: a client's retry and a re-delivered file append copies of an event like any other row, and
dbt removes them (stg_usage__first_copies, stg_usage__events), checking only the event days that received rows. Why
not dlt's merge: it deduplicates the whole staged load with one `ROW_NUMBER() OVER (PARTITION BY message_id)` and
then merges it into the whole table; at 99M events that window alone grew past 17 GB. Why not here: finding and
deleting the copies after the copy cost 17-20 s of a 105-s load at 106M events, and a delete on the big table makes
DuckDB's next checkpoint rewrite its metadata (1-10 s, however few rows go).

Each load is copied and marked in `_csops_event_copied_loads` in one transaction: a run that died before this step
or in it is caught up by the next run, and never copies a load twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt

from ingestion.event_rules import CANONICAL_SCHEMA, COLUMNS, KNOWN_ACCOUNTS, screened_select
from ingestion.quarantine import QUARANTINE_TABLE
from ingestion.usage import FILES_TABLE, SOURCE

TABLE = "events"
MARKER = "_csops_event_copied_loads"  # leading underscore: bookkeeping, not a data table
# Before the copies were left to dbt, the marker was this table (load_id, removed_rows, deduplicated_at): its loads
# are done and carry over, so that an existing warehouse never copies its files again.
EARLIER_MARKER = "_csops_events_deduplicated_loads"


def _nothing(loads: list[str] | None = None) -> dict[str, Any]:
    """The step's result with nothing done yet (a fresh dict each time: callers add to it)."""
    return {
        "loads": loads or [],
        "copied": 0,
        "quarantined": 0,
        "seconds": {"copy": 0.0, "checkpoint": 0.0},
    }


@dataclass(frozen=True)
class NamedFile:
    """A file a load named for the warehouse to copy (a `_csops_event_files` row)."""

    path: str  # on this machine
    name: str  # relative to the bucket, as the events' `file_name`
    columns: tuple[str, ...]  # the event columns it has (vendor names)
    rows: int  # from its footer


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
    copied, NULL), so a file that vanished no longer stops every run; the re-read copies every file still there."""
    with pipeline.sql_client() as client:
        tables = _tables(client) if client.has_dataset() else set()
        if "_dlt_loads" not in tables:
            return []
        marker = _marker(client, tables)
        given_up = _unfinished(client, marker, pipeline.default_schema_name)
        for load_id in given_up:
            client.execute_sql(f"insert into {marker} values (%s, null, %s)", load_id, datetime.now(UTC))
    return given_up


def _marker(client: Any, tables: set[str]) -> str:
    """The table of loads done, created on first use (with the loads of the earlier marker, when there is one);
    `tables`: the dataset's tables, as the caller just read them."""
    marker = client.make_qualified_table_name(MARKER)
    if MARKER not in tables:
        with client.begin_transaction():
            client.execute_sql(
                f"create table {marker} "
                "(load_id varchar not null, copied_rows bigint, copied_at timestamp with time zone)"
            )
            if EARLIER_MARKER in tables:
                client.execute_sql(
                    f"insert into {marker} select load_id, null, deduplicated_at "
                    f"from {client.make_qualified_table_name(EARLIER_MARKER)}"
                )
    return marker


def copy_named_files(
    pipeline: dlt.Pipeline, known_accounts: Callable[[], list[str] | None] = lambda: None
) -> dict[str, Any]:
    """Copy the rows of the files each load not yet done named, and mark it done; returns the loads done and the rows
    copied and quarantined. `known_accounts` lists the accounts an event may name (None: any), as the source was
    given them."""
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return _nothing()
        tables = _tables(client)
        if "_dlt_loads" not in tables:
            return _nothing()  # nothing loaded yet
        marker = _marker(client, tables)
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
        done = _nothing(todo)
        started = time.perf_counter()
        for load_id in todo:
            # The rows and the mark in one transaction: a load is copied once, or not at all.
            with client.begin_transaction():
                copied, quarantined = (
                    _copy_files(client, load_id, files[load_id], accounts is not None) if load_id in files else (0, 0)
                )
                client.execute_sql(f"insert into {marker} values (%s, %s, %s)", load_id, copied, datetime.now(UTC))
            done["copied"] += copied
            done["quarantined"] += quarantined
        done["seconds"]["copy"] = time.perf_counter() - started
        if "duckdb" in pipeline.destination.destination_type:
            # Write the new rows into the database file in this step, so that their cost is counted here and never
            # left in the write-ahead log for the next process that opens the warehouse.
            started = time.perf_counter()
            client.execute_sql("checkpoint")
            done["seconds"]["checkpoint"] = time.perf_counter() - started
    return done
