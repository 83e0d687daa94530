"""Product usage: Segment-spec `track` events as daily-partitioned JSONL or Parquet files, from a local folder or
any fsspec URL (s3://, gs://, az://).

Files are picked up incrementally by modification time (a re-delivered or late file is read again), every row judged
by the Segment rules for track calls (ingestion/event_rules.py): a row that breaks one is quarantined with the rule,
never loaded. Two paths, the same rules:
- **The warehouse reads the file** (a local Parquet file in the canonical types, when the warehouse is DuckDB): the
  load carries only the file's name and row count in `_csops_event_files`; right after the load, DuckDB copies the
  good rows straight from the file into `events` and the bad ones, if the counts show any, into the quarantine
  (ingestion/event_copy.py). One pass over the data instead of three (Arrow here, dlt's Parquet file, DuckDB's
  insert): measured by `csops bench` against DuckDB's own reader on the same files.
- **Through Arrow** (JSONL, a remote bucket, other types, Postgres or the Spark lake): each batch is screened by an
  in-process DuckDB and the good rows go to dlt as Arrow. JSONL is parsed line by line, so one broken line is
  quarantined instead of failing its file.
Either way rows are appended with their load's id and the copies of a `messageId` removed after the load, only on
the event days the load touched (ingestion/event_copy.py), without dlt's whole-table merge (17 GB at 99M events).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.storages.load_package import load_package_state
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion.event_rules import (
    CANONICAL_SCHEMA,
    COLUMNS,
    KEY_COLUMNS,
    KNOWN_ACCOUNTS,
    file_problem,
    is_canonical,
    screened_select,
)
from ingestion.quarantine import quarantine_declaration, quarantined
from ingestion.settings import WarehouseSettings

SOURCE = "usage"
FILES_TABLE = "_csops_event_files"  # the files whose rows the warehouse copies after the load (leading _: bookkeeping)
VENDOR_COLUMNS = frozenset(vendor for vendor, _, _ in COLUMNS)
TEXT_FIELDS = ("type", "event", *KEY_COLUMNS)
CONSTANT_TEXT = pa.dictionary(pa.int32(), pa.string())  # one value per batch: stored once, not per row
EVENT_SCHEMA = CANONICAL_SCHEMA.append(pa.field("file_name", CONSTANT_TEXT))
# What lands: the canonical schema with the key declared non-null (rows without it were quarantined) and the id of
# the load that appended the row (what the copy removal works from).
LOAD_ID = "_dlt_load_id"
LOADED_SCHEMA = EVENT_SCHEMA.set(0, pa.field("messageId", pa.string(), nullable=False)).append(
    pa.field(LOAD_ID, CONSTANT_TEXT)
)
BATCH_ROWS = 250_000
BYTE_ORDER_MARK = "\ufeff"
# The in-process DuckDB that screens events holds one Arrow batch at a time, or streams the files it scans.
SCREEN_MEMORY_LIMIT = "1GB"


class LineRejected(ValueError):
    """A JSONL line that is not a Segment track call; `rule` names the rule it broke."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule


def _constant(value: str, rows: int) -> pa.DictionaryArray:
    """`value` on every row, as a dictionary column (no per-row string, no Python list)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([value], pa.string()))


def _present(schema: pa.Schema) -> dict[str, pa.DataType]:
    return {field.name: field.type for field in schema if field.name in VENDOR_COLUMNS}


def _quarantine_all(table: pa.Table, rule: str, reason: str) -> Iterator[Any]:
    for row in table.to_pylist():
        yield quarantined(row, SOURCE, "events", reason, rule)


def _local_path(item: FileItemDict) -> str | None:
    """The file's path on this machine, when the bucket is a local folder (what the warehouse can read itself)."""
    protocol = item.fsspec.protocol
    if "file" not in ((protocol,) if isinstance(protocol, str) else protocol):
        return None
    return str(Path(item.local_file_path).resolve())


class Screener:
    """Judges events by the Segment rules in an in-process DuckDB (the warehouse is never opened here)."""

    def __init__(self, known_accounts: list[str] | None):
        self.known_accounts = known_accounts
        self.known = known_accounts is not None
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """Opened on the first batch: a load whose files all go to the warehouse never needs it."""
        if self._con is None:
            threads = WarehouseSettings.read().duckdb_threads
            self._con = duckdb.connect(config={"threads": threads, "memory_limit": SCREEN_MEMORY_LIMIT})
            if self.known_accounts is not None:
                accounts = pa.array(sorted(set(self.known_accounts)), pa.string())
                self._con.register(KNOWN_ACCOUNTS, pa.table({"account_id": accounts}))
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()

    def screen(self, table: pa.Table, file_name: str) -> Iterator[Any]:
        """Good rows of an Arrow batch as one Arrow table for dlt; bad rows quarantined with their rule."""
        problem = file_problem(table.schema)
        if problem:
            yield from _quarantine_all(table, *problem)
            return
        self.con.register("batch", table)
        try:
            judged = self.con.sql(screened_select("batch", _present(table.schema), self.known)).to_arrow_table()
        finally:
            self.con.unregister("batch")
        yield from self._quarantine(judged.filter(pc.is_valid(judged["rule"])), file_name)
        good = judged.filter(pc.is_null(judged["rule"])).drop_columns(["rule", "reason"])
        if good.num_rows:
            good = good.append_column("file_name", _constant(file_name, good.num_rows))
            load_id = _constant(load_package_state()["load_id"], good.num_rows)
            yield good.append_column(LOADED_SCHEMA.field(LOAD_ID), load_id).cast(LOADED_SCHEMA)

    @staticmethod
    def _quarantine(bad: pa.Table, file_name: str) -> Iterator[Any]:
        for row in bad.to_pylist():
            reason, rule = row.pop("reason"), row.pop("rule")
            yield quarantined({**row, "file_name": file_name}, SOURCE, "events", reason, rule)


def _read_parquet(item: FileItemDict) -> Iterator[pa.Table]:
    with item.open() as handle:
        parquet = pq.ParquetFile(handle)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def _parquet_footer(item: FileItemDict) -> tuple[pa.Schema, int]:
    """The file's schema and row count, from its footer (no row is read)."""
    with item.open() as handle:
        metadata = pq.read_metadata(handle)
    return metadata.schema.to_arrow_schema(), metadata.num_rows


def _for_the_warehouse(files: list[tuple[str, str, pa.Schema, int]]) -> Iterator[Any]:
    """The `_csops_event_files` rows naming files the warehouse copies itself ((path, name, schema, rows) each), and
    the two tables it copies into, declared without rows so that dlt creates them (ingestion/event_copy.py)."""
    yield LOADED_SCHEMA.empty_table()
    yield quarantine_declaration()
    hints = dlt.mark.make_hints(table_name=FILES_TABLE, write_disposition="append", primary_key=[])
    for path, name, schema, rows in files:
        row = {"path": path, "file_name": name, "columns": ",".join(sorted(_present(schema))), "rows": rows}
        yield dlt.mark.with_hints(row, hints, create_table_variant=True)


def _read_jsonl(item: FileItemDict, bad_lines: list[tuple[int, str, LineRejected]]) -> Iterator[pa.Table]:
    rows: list[dict[str, Any]] = []
    with item.open() as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
            # A byte-order mark (editors and Windows tools add one) and CRLF line ends are framing, not data.
            line = line.removeprefix(BYTE_ORDER_MARK).rstrip("\r\n")
            if not line.strip():
                continue
            try:
                rows.append(_parse_line(line))
            except LineRejected as error:
                bad_lines.append((number, line[:2000], error))
                continue
            if len(rows) >= BATCH_ROWS:
                yield _table_from_rows(rows)
                rows = []
    if rows:
        yield _table_from_rows(rows)


def _parse_line(line: str) -> dict[str, Any]:
    """One JSONL line as a row with typed timestamps and `properties` as JSON text, or LineRejected when its JSON
    types break the Segment spec (what survives this is judged by the rules in ingestion/event_rules.py)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise LineRejected("invalid JSON", f"invalid JSON ({error})") from error
    if not isinstance(row, dict):
        raise LineRejected("not a JSON object", "not a JSON object")
    for key in TEXT_FIELDS:
        if row.get(key) is not None and not isinstance(row[key], str):
            rule = "key field not a string" if key in KEY_COLUMNS else f"{key} not a string"
            raise LineRejected(rule, f"key field {key} has type {type(row[key]).__name__}, expected a string")
    properties = row.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise LineRejected(
            "properties not an object", f"properties is a {type(properties).__name__}, not a JSON object"
        )
    if properties is not None:
        row["properties"] = json.dumps(properties)
    for key in ("timestamp", "receivedAt"):
        if row.get(key) is not None:
            try:
                row[key] = datetime.fromisoformat(str(row[key]).replace("Z", "+00:00"))
            except ValueError as error:
                raise LineRejected(f"{key} not ISO-8601", f"{key} {row[key]!r} is not an ISO-8601 timestamp") from error
    return row


def _table_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table; known columns typed, any other column kept as text."""
    names = sorted({key for row in rows for key in row})
    known = {field.name: field.type for field in EVENT_SCHEMA}
    schema = pa.schema([(name, known.get(name, pa.string())) for name in names])
    for row in rows:
        for name in names:
            value = row.get(name)
            if value is not None and name not in known and not isinstance(value, str):
                row[name] = json.dumps(value)
    return pa.Table.from_pylist(rows, schema=schema)


@dlt.transformer(name="events", primary_key="messageId", write_disposition="append")
def read_events(
    items: Iterable[FileItemDict], known_accounts: list[str] | None = None, warehouse_reads_files: bool = False
) -> Iterator[Any]:
    """Events of each listed file, judged by the Segment rules; bad rows quarantined. With `warehouse_reads_files`,
    local Parquet files in the canonical types are only named, for the warehouse to copy and judge (see the module
    docstring)."""
    screener = Screener(known_accounts)
    try:
        for_warehouse: list[tuple[str, str, pa.Schema, int]] = []
        for item in items:
            name = item["relative_path"]
            bad_lines: list[tuple[int, str, LineRejected]] = []
            if name.endswith(".parquet"):
                path = _local_path(item) if warehouse_reads_files else None
                if path:
                    schema, rows = _parquet_footer(item)
                    if file_problem(schema) is None and is_canonical(schema):
                        for_warehouse.append((path, name, schema, rows))
                        continue
                batches = _read_parquet(item)
            elif name.endswith((".jsonl", ".json", ".ndjson")):
                batches = _read_jsonl(item, bad_lines)
            else:
                continue
            for table in batches:
                yield from screener.screen(table, name)
            for number, line, error in bad_lines:
                record = {"file": name, "line": number, "text": line}
                yield quarantined(record, SOURCE, "events", f"line {number} of {name}: {error}", error.rule)
        if for_warehouse:
            yield from _for_the_warehouse(for_warehouse)
    finally:
        screener.close()


@dlt.source(name="usage", section="usage")
def usage_source(
    bucket_url: str = dlt.config.value,
    known_accounts: list[str] | None = None,
    file_glob: str = "**/*",
    warehouse_reads_files: bool = False,
) -> Any:
    """Usage events under `bucket_url` (a folder or fsspec URL). `known_accounts`, when given, quarantines events
    whose groupId is not one of them. `warehouse_reads_files`: the warehouse (DuckDB) copies local Parquet files
    itself after the load (ingestion/event_copy.py)."""
    files = filesystem(
        bucket_url=bucket_url, file_glob=file_glob, incremental=dlt.sources.incremental("modification_date")
    )
    return files | read_events(known_accounts=known_accounts, warehouse_reads_files=warehouse_reads_files)
