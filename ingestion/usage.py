"""Product usage: Segment-spec `track` events as daily-partitioned JSONL or Parquet files, from a local folder or
any fsspec URL (s3://, gs://, az://).

Files are picked up incrementally by modification time (a re-delivered or late file is read again). Events are
appended, each row tagged with its load's id, and the copies of a `messageId` (a client's retry, a re-read file)
are then removed day by day, only on the event days the load touched (ingestion/event_dedupe.py): exact, and
without dlt's whole-table merge, whose window over every staged row took 17 GB at 99M events. Parquet goes through
Arrow end to end (no Python rows, constant columns dictionary-encoded); JSONL is parsed line by line so one broken
line is quarantined instead of failing its file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.storages.load_package import load_package_state
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion.quarantine import quarantined

SOURCE = "usage"
REQUIRED = ("messageId", "timestamp", "groupId", "event")
KEY_COLUMNS = ("messageId", "groupId", "userId", "anonymousId")
TEXT_FIELDS = ("type", "event", *KEY_COLUMNS)
CONSTANT_TEXT = pa.dictionary(pa.int32(), pa.string())  # one value per batch: stored once, not per row
EVENT_SCHEMA = pa.schema(
    [
        ("messageId", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("userId", pa.string()),
        ("anonymousId", pa.string()),
        ("groupId", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("receivedAt", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("file_name", CONSTANT_TEXT),
    ]
)
# What lands: the canonical schema with the key declared non-null (rows without it were quarantined) and the id of
# the load that appended the row (what event_dedupe works from).
LOAD_ID = "_dlt_load_id"
LOADED_SCHEMA = EVENT_SCHEMA.set(0, pa.field("messageId", pa.string(), nullable=False)).append(
    pa.field(LOAD_ID, CONSTANT_TEXT)
)
BATCH_ROWS = 250_000
BYTE_ORDER_MARK = "\ufeff"


class LineRejected(ValueError):
    """A JSONL line that is not a Segment track call; `rule` names the rule it broke."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule


def _constant(value: str, rows: int) -> pa.DictionaryArray:
    """`value` on every row, as a dictionary column (no per-row string, no Python list)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([value], pa.string()))


def _conform(table: pa.Table, file_name: str) -> pa.Table:
    """The file's columns in the canonical schema (missing optional columns as nulls, extra ones dropped)."""
    columns = []
    for field in EVENT_SCHEMA:
        if field.name == "file_name":
            columns.append(_constant(file_name, table.num_rows))
        elif field.name in table.column_names:
            column = table[field.name]
            if field.name == "properties" and not pa.types.is_string(column.type):
                column = pa.array([None if v is None else json.dumps(v) for v in column.to_pylist()], pa.string())
            columns.append(pc.cast(column, field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _blank(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """True where a text column is null or empty."""
    return pc.fill_null(pc.equal(pc.utf8_length(column), 0), True)


def _row_rules(table: pa.Table, known_accounts: pa.Array | None) -> list[tuple[str, Any, Callable[[dict], str]]]:
    """The Segment-spec rules for track calls, each as (rule, mask of rows breaking it, reason for such a row), in
    the order a row's reason is chosen. JSON types are checked per line before (see _check_types); here every
    format is checked column-wise on the canonical schema."""
    properties = pc.utf8_trim_whitespace(table["properties"])
    not_object = pc.invert(pc.and_(pc.starts_with(properties, "{"), pc.ends_with(properties, "}")))
    rules = [
        ("missing messageId", _blank(table["messageId"]), lambda row: "missing messageId"),
        ("missing groupId", _blank(table["groupId"]), lambda row: "missing groupId"),
        ("missing timestamp", pc.is_null(table["timestamp"]), lambda row: "missing timestamp"),
        ("event not a non-empty string", _blank(table["event"]), lambda row: "event is missing or empty"),
        (
            "neither userId nor anonymousId",
            pc.and_(_blank(table["userId"]), _blank(table["anonymousId"])),
            lambda row: "neither userId nor anonymousId is set",
        ),
        ("not a track call", pc.fill_null(pc.not_equal(table["type"], "track"), False), _not_track),
        (
            "properties not an object",
            pc.fill_null(not_object, False),
            lambda row: f"properties is not a JSON object: {str(row['properties'])[:80]!r}",
        ),
    ]
    if known_accounts is not None:
        unknown = pc.fill_null(pc.invert(pc.is_in(table["groupId"], value_set=known_accounts)), True)
        rules.append(("unknown account", unknown, lambda row: f"unknown account {row['groupId']!r}"))
    return rules


def _not_track(row: dict[str, Any]) -> str:
    return f"type is {row['type']!r}, not 'track'"


def _screen(table: pa.Table, file_name: str, known_accounts: pa.Array | None) -> Iterator[Any]:
    """Good rows as one Arrow table; rows breaking a Segment-spec rule or naming an unknown account, quarantined
    with the first rule they break."""
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        extra = sorted(set(table.column_names) - {f.name for f in EVENT_SCHEMA})
        reason = f"file lacks column(s) {', '.join(missing)}" + (
            f" (has unexpected {', '.join(extra)})" if extra else ""
        )
        for row in table.to_pylist():
            yield quarantined(row, SOURCE, "events", reason, "file lacks a required column")
        return
    changed = [
        f"{name} is {table.schema.field(name).type}"
        for name in KEY_COLUMNS
        if name in table.column_names
        and not pa.types.is_string(table.schema.field(name).type)
        and not pa.types.is_large_string(table.schema.field(name).type)
    ]
    if changed:
        reason = f"key column type changed ({'; '.join(changed)}; expected string)"
        for row in table.to_pylist():
            yield quarantined(row, SOURCE, "events", reason, "key column type changed")
        return
    table = _conform(table, file_name)
    taken = pa.array([False] * table.num_rows)
    for rule, mask, reason in _row_rules(table, known_accounts):
        breaking = pc.and_(mask, pc.invert(taken))
        if pc.any(breaking).as_py():
            for row in table.filter(breaking).to_pylist():
                yield quarantined(row, SOURCE, "events", reason(row), rule)
            taken = pc.or_(taken, breaking)
    if pc.any(taken).as_py():
        table = table.filter(pc.invert(taken))
    if table.num_rows:
        load_id = _constant(load_package_state()["load_id"], table.num_rows)
        yield table.append_column(LOADED_SCHEMA.field(LOAD_ID), load_id).cast(LOADED_SCHEMA)


def _read_parquet(item: FileItemDict) -> Iterator[pa.Table]:
    with item.open() as handle:
        parquet = pq.ParquetFile(handle)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


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
    types break the Segment spec (what survives this is checked column-wise in _screen)."""
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
def read_events(items: Iterable[FileItemDict], known_accounts: list[str] | None = None) -> Iterator[Any]:
    """Events of each listed file: Parquet via Arrow, JSONL line by line; bad rows quarantined. Appended: the
    copies of a messageId are removed after the load (ingestion/event_dedupe.py)."""
    accounts = pa.array(sorted(set(known_accounts)), pa.string()) if known_accounts is not None else None
    for item in items:
        name = item["relative_path"]
        if name.endswith(".parquet"):
            batches = _read_parquet(item)
            bad_lines: list[tuple[int, str, LineRejected]] = []
        elif name.endswith((".jsonl", ".json", ".ndjson")):
            bad_lines = []
            batches = _read_jsonl(item, bad_lines)
        else:
            continue
        for table in batches:
            yield from _screen(table, name, accounts)
        for number, line, error in bad_lines:
            record = {"file": name, "line": number, "text": line}
            yield quarantined(record, SOURCE, "events", f"line {number} of {name}: {error}", error.rule)


@dlt.source(name="usage", section="usage")
def usage_source(
    bucket_url: str = dlt.config.value, known_accounts: list[str] | None = None, file_glob: str = "**/*"
) -> Any:
    """Usage events under `bucket_url` (a folder or fsspec URL). `known_accounts`, when given, quarantines events
    whose groupId is not one of them."""
    files = filesystem(
        bucket_url=bucket_url, file_glob=file_glob, incremental=dlt.sources.incremental("modification_date")
    )
    return files | read_events(known_accounts=known_accounts)
