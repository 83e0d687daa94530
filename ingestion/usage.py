"""Product usage: Segment-spec `track` events as daily-partitioned JSONL or Parquet files, from a local folder or
any fsspec URL (s3://, gs://, az://).

Files are picked up incrementally by modification time (a re-delivered or late file is read again); events merge
on `messageId`, so duplicates and re-reads never double count. Parquet goes through Arrow end to end (no Python
rows); JSONL is parsed line by line so one broken line is quarantined instead of failing its file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion.quarantine import quarantined

SOURCE = "usage"
REQUIRED = ("messageId", "timestamp", "groupId", "event")
KEY_COLUMNS = ("messageId", "groupId", "userId")
EVENT_SCHEMA = pa.schema(
    [
        ("messageId", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("userId", pa.string()),
        ("groupId", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("receivedAt", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("file_name", pa.string()),
    ]
)
# What lands: the canonical schema with the merge key declared non-null (rows without it were quarantined).
LOADED_SCHEMA = EVENT_SCHEMA.set(0, pa.field("messageId", pa.string(), nullable=False))
BATCH_ROWS = 250_000


def _conform(table: pa.Table, file_name: str) -> pa.Table:
    """The file's columns in the canonical schema (missing optional columns as nulls, extra ones dropped)."""
    columns = []
    for field in EVENT_SCHEMA:
        if field.name == "file_name":
            columns.append(pa.array([file_name] * table.num_rows, pa.string()))
        elif field.name in table.column_names:
            column = table[field.name]
            if field.name == "properties" and not pa.types.is_string(column.type):
                column = pa.array([None if v is None else json.dumps(v) for v in column.to_pylist()], pa.string())
            columns.append(pc.cast(column, field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _screen(table: pa.Table, file_name: str, known_accounts: pa.Array | None) -> Iterator[Any]:
    """Good rows as one Arrow table; rows missing a required field or naming an unknown account, quarantined."""
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        extra = sorted(set(table.column_names) - {f.name for f in EVENT_SCHEMA})
        reason = f"file lacks column(s) {', '.join(missing)}" + (
            f" (has unexpected {', '.join(extra)})" if extra else ""
        )
        for row in table.to_pylist():
            yield quarantined(row, SOURCE, "events", reason)
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
            yield quarantined(row, SOURCE, "events", reason)
        return
    table = _conform(table, file_name)
    bad = pc.or_kleene(pc.is_null(table["messageId"]), pc.is_null(table["groupId"]))
    bad = pc.or_kleene(bad, pc.is_null(table["timestamp"]))
    bad = pc.fill_null(bad, True)
    if known_accounts is not None:
        unknown = pc.invert(pc.is_in(table["groupId"], value_set=known_accounts))
        bad = pc.or_(bad, pc.fill_null(unknown, True))
    if pc.any(bad).as_py():
        for row in table.filter(bad).to_pylist():
            if row["messageId"] is None or row["groupId"] is None or row["timestamp"] is None:
                reason = "missing " + ", ".join(k for k in ("messageId", "groupId", "timestamp") if row[k] is None)
            else:
                reason = f"unknown account {row['groupId']!r}"
            yield quarantined(row, SOURCE, "events", reason)
        table = table.filter(pc.invert(bad))
    if table.num_rows:
        yield table.cast(LOADED_SCHEMA)


def _read_parquet(item: FileItemDict) -> Iterator[pa.Table]:
    with item.open() as handle:
        parquet = pq.ParquetFile(handle)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def _read_jsonl(item: FileItemDict, bad_lines: list[tuple[int, str, str]]) -> Iterator[pa.Table]:
    rows: list[dict[str, Any]] = []
    with item.open() as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
            if not line.strip():
                continue
            try:
                rows.append(_parse_line(line))
            except ValueError as error:
                bad_lines.append((number, line[:2000], str(error)))
                continue
            if len(rows) >= BATCH_ROWS:
                yield _table_from_rows(rows)
                rows = []
    if rows:
        yield _table_from_rows(rows)


def _parse_line(line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error})") from error
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    for key in KEY_COLUMNS:
        if row.get(key) is not None and not isinstance(row[key], str):
            raise ValueError(f"key field {key} has type {type(row[key]).__name__}, expected a string")
    if isinstance(row.get("properties"), (dict, list)):
        row["properties"] = json.dumps(row["properties"])
    for key in ("timestamp", "receivedAt"):
        if row.get(key) is not None:
            try:
                row[key] = datetime.fromisoformat(str(row[key]).replace("Z", "+00:00"))
            except ValueError as error:
                raise ValueError(f"{key} {row[key]!r} is not an ISO-8601 timestamp") from error
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


@dlt.transformer(name="events", primary_key="messageId", write_disposition="merge")
def read_events(items: Iterable[FileItemDict], known_accounts: list[str] | None = None) -> Iterator[Any]:
    """Events of each listed file: Parquet via Arrow, JSONL line by line; bad rows quarantined."""
    accounts = pa.array(sorted(set(known_accounts)), pa.string()) if known_accounts is not None else None
    for item in items:
        name = item["relative_path"]
        if name.endswith(".parquet"):
            batches = _read_parquet(item)
            bad_lines: list[tuple[int, str, str]] = []
        elif name.endswith((".jsonl", ".json", ".ndjson")):
            bad_lines = []
            batches = _read_jsonl(item, bad_lines)
        else:
            continue
        for table in batches:
            yield from _screen(table, name, accounts)
        for number, line, error in bad_lines:
            yield quarantined(
                {"file": name, "line": number, "text": line}, SOURCE, "events", f"line {number} of {name}: {error}"
            )


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
