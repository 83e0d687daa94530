"""The Segment-spec rules for `track` calls, written once as DuckDB SQL and applied wherever usage events are read:
to an Arrow batch in the loading process (JSONL files, Parquet from an object store) and to the Parquet files the
warehouse reads itself (ingestion/event_copy.py). One definition, so a row is judged the same on either path.

`screened_select` projects a relation of vendor-shaped events (Segment's camelCase names, whatever subset of the
columns a file has) onto the canonical columns and types, and adds `rule` (the first rule the row breaks, NULL for a
good row) and `reason` (what exactly is wrong, for the quarantine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

# The vendor's column, the warehouse column dlt names it, and its type there.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("messageId", "message_id", "varchar"),
    ("type", "type", "varchar"),
    ("event", "event", "varchar"),
    ("userId", "user_id", "varchar"),
    ("anonymousId", "anonymous_id", "varchar"),
    ("groupId", "group_id", "varchar"),
    ("timestamp", "timestamp", "timestamp with time zone"),
    ("receivedAt", "received_at", "timestamp with time zone"),
    ("properties", "properties", "varchar"),
)
# The same columns as Arrow types (what the Arrow path hands dlt, and what a canonical file holds).
ARROW_TYPES = {"varchar": pa.string(), "timestamp with time zone": pa.timestamp("us", tz="UTC")}
CANONICAL_SCHEMA = pa.schema([(vendor, ARROW_TYPES[kind]) for vendor, _, kind in COLUMNS])
REQUIRED = ("messageId", "timestamp", "groupId", "event")
KEY_COLUMNS = ("messageId", "groupId", "userId", "anonymousId")
KNOWN_ACCOUNTS = "csops_known_accounts"  # the relation (one `account_id` column) the unknown-account rule reads


@dataclass(frozen=True)
class Rule:
    """One rule: `breaks` is true for a row that breaks it; `reason` says how, for that row."""

    name: str
    breaks: str
    reason: str


def _is_text(column_type: pa.DataType) -> bool:
    return pa.types.is_string(column_type) or pa.types.is_large_string(column_type)


def _blank(column: str) -> str:
    return f'coalesce(length("{column}"), 0) = 0'


def _quoted(expression: str) -> str:
    return f"'''' || {expression} || ''''"


# JSON allows spaces, tabs and line ends around a value.
_TRIMMED = "trim(properties, ' ' || chr(9) || chr(10) || chr(13))"
RULES: tuple[Rule, ...] = (
    Rule("missing messageId", _blank("messageId"), "'missing messageId'"),
    Rule("missing groupId", _blank("groupId"), "'missing groupId'"),
    Rule("missing timestamp", '"timestamp" is null', "'missing timestamp'"),
    Rule("event not a non-empty string", _blank("event"), "'event is missing or empty'"),
    Rule(
        "neither userId nor anonymousId",
        f"{_blank('userId')} and {_blank('anonymousId')}",
        "'neither userId nor anonymousId is set'",
    ),
    Rule(
        "not a track call",
        "coalesce(\"type\" <> 'track', false)",
        f"'type is ' || {_quoted('type')} || ', not ''track'''",
    ),
    Rule(
        "properties not an object",
        f"coalesce(not ({_TRIMMED} like '{{%' and {_TRIMMED} like '%}}'), false)",
        f"'properties is not a JSON object: ' || {_quoted('left(properties, 80)')}",
    ),
)
# The accounts are joined in (a left join on a hash table of the known ids): with 10% of 99M events from unknown
# accounts, a `NOT IN (subquery)` per row made the whole copy 63.4 s against 53.8 s (the same with none unknown).
_IS_KNOWN = "csops_is_known_account"
UNKNOWN_ACCOUNT = Rule(
    "unknown account",
    f"not {_IS_KNOWN}",
    "'unknown account ' || " + _quoted('"groupId"'),
)


def file_problem(schema: pa.Schema) -> tuple[str, str] | None:
    """(rule, reason) when a file as a whole cannot be read as events (a required column missing, a key column no
    longer text), else None: every row of such a file is quarantined with that reason."""
    names = set(schema.names)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        extra = sorted(names - {vendor for vendor, _, _ in COLUMNS})
        reason = f"file lacks column(s) {', '.join(missing)}" + (
            f" (has unexpected {', '.join(extra)})" if extra else ""
        )
        return "file lacks a required column", reason
    changed = [
        f"{name} is {schema.field(name).type}"
        for name in KEY_COLUMNS
        if name in names and not _is_text(schema.field(name).type)
    ]
    if changed:
        return "key column type changed", f"key column type changed ({'; '.join(changed)}; expected string)"
    return None


def is_canonical(schema: pa.Schema) -> bool:
    """True when every event column the file has already has the canonical type (text; timestamps with a time
    zone): such files can be read by any DuckDB without conversions that depend on the session (time zone)."""
    for vendor, _, kind in COLUMNS:
        if vendor not in schema.names:
            continue
        column_type = schema.field(vendor).type
        if kind == "varchar" and not _is_text(column_type):
            return False
        if kind != "varchar" and not (pa.types.is_timestamp(column_type) and column_type.tz is not None):
            return False
    return True


def _canonical(vendor: str, kind: str, present: Mapping[str, pa.DataType]) -> str:
    """The SQL for one canonical column from what the relation has (NULL when it lacks the column)."""
    if vendor not in present:
        return f'cast(null as {kind}) as "{vendor}"'
    column_type = present[vendor]
    if vendor == "properties" and not _is_text(column_type):
        return f'cast(to_json("{vendor}") as varchar) as "{vendor}"'
    return f'cast("{vendor}" as {kind}) as "{vendor}"'


def screened_select(
    relation: str, present: Mapping[str, pa.DataType], known_accounts: bool, carry: tuple[str, ...] = ()
) -> str:
    """SELECT over `relation` (a table name or a table function call) giving the canonical event columns (vendor
    names), the `carry` expressions as they are, then `rule` and `reason`. `present` maps the event columns the
    relation has to their Arrow types. With `known_accounts`, a `groupId` not in KNOWN_ACCOUNTS (distinct ids) breaks a
    rule too."""
    rules = (*RULES, UNKNOWN_ACCOUNT) if known_accounts else RULES
    columns = [_canonical(vendor, kind, present) for vendor, _, kind in COLUMNS]
    source = relation
    if known_accounts:
        group_id = 'cast("groupId" as varchar)' if "groupId" in present else "cast(null as varchar)"
        source = f"{relation} left join {KNOWN_ACCOUNTS} as csops_known on csops_known.account_id = {group_id}"
        carry = (*carry, f"csops_known.account_id is not null as {_IS_KNOWN}")
    rule = " ".join(f"when {r.breaks} then '{r.name}'" for r in rules)
    reason = " ".join(f"when {r.breaks} then {r.reason}" for r in rules)
    kept = f"* exclude ({_IS_KNOWN})" if known_accounts else "*"
    return (
        f"with canonical as (select {', '.join([*columns, *carry])} from {source}) "
        f"select {kept}, case {rule} end as rule, case {reason} end as reason from canonical"
    )
