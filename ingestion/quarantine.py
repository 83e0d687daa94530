"""Quarantine: rows that cannot be loaded go to a `quarantine` table with the reason, never silently dropped and
never aborting the load. Every source shares this one mechanism."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa

QUARANTINE_TABLE = "quarantine"


def quarantined(record: Any, source: str, resource: str, reason: str, rule: str | None = None) -> Any:
    """Wrap a bad record so the resource yields it into the quarantine table (appended, with the reason).

    `reason` says what exactly is wrong with this record; `rule` names the rule it broke in a few stable words
    (e.g. "event not a non-empty string"), so a run report can count quarantined rows by why. Without one, the
    reason is the rule.
    """
    row = {
        "quarantine_id": uuid.uuid4().hex,
        "source": source,
        "resource": resource,
        "reason": reason,
        "rule": rule or reason,
        "record": json.dumps(record, default=str, sort_keys=True)[:20_000],
        "quarantined_at": datetime.now(UTC),
    }
    return dlt.mark.with_hints(row, _hints(), create_table_variant=True)


# The quarantine's columns as `quarantined` fills them, and the load's id (dlt adds it, and `_dlt_id`, to those rows).
QUARANTINE_SCHEMA = pa.schema(
    [
        ("quarantine_id", pa.string()),
        ("source", pa.string()),
        ("resource", pa.string()),
        ("reason", pa.string()),
        ("rule", pa.string()),
        ("record", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
        ("_dlt_load_id", pa.string()),
    ]
)


def _hints() -> Any:
    # Its own key, so the resource's merge key (which a bad row may lack) never applies to the quarantine table.
    return dlt.mark.make_hints(table_name=QUARANTINE_TABLE, write_disposition="append", primary_key="quarantine_id")


def quarantine_declaration() -> Any:
    """The quarantine table without rows, for a resource whose bad rows the warehouse writes itself after the load
    (ingestion/event_copy.py): dlt creates the table if it has to."""
    return dlt.mark.with_hints(QUARANTINE_SCHEMA.empty_table(), _hints(), create_table_variant=True)


def require(row: dict[str, Any], **types: type | tuple[type, ...]) -> str | None:
    """Reason a row lacks a required key or has it with the wrong type (a key-column type change), else None."""
    for key, expected in types.items():
        value = row.get(key)
        if value is None or value == "":
            return f"missing required field {key!r}"
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            return f"field {key!r} has type {type(value).__name__}, expected {_names(expected)}"
    return None


def _names(expected: type | tuple[type, ...]) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(k.__name__ for k in kinds)
