"""Declared contracts of the raw tables: per table, the fields the platform relies on, their types and accepted
values, enforced at load.

Why: a vendor's data drifts without notice. A renamed HubSpot property loaded companies with NULL account ids, a
malformed Stripe amount went to a dlt variant column (`amount_due__v_text`) leaving the real one NULL, unknown enum
values and invalid emails loaded as if valid. With a contract per table:
- a row that breaks its contract goes to the quarantine with the rule and the reason (never silently kept or lost);
- a declared field missing from most rows of a page (a rename or deletion upstream) fails the load before any row
  of that page reaches dlt, naming source, table and field, so merges never overwrite good values with NULLs.

Values are checked as the source module hands them over: HubSpot properties are strings (numbers as "25",
booleans as "true"), its timestamps already parsed; Stripe fields are JSON numbers, strings and unix seconds.
The sources' dlt schemas also freeze data types (`schema_contract={"data_type": "freeze"}`), so a type change in a
field no contract declares fails the load instead of creating a variant column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ingestion.errors import SourceError

# A declared field missing from more than this share of a page's rows is drift, not bad data.
DRIFT_SHARE = 0.5
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[a-z]{3}$")
# HubSpot sends booleans as strings.
BOOLEAN_TEXT = frozenset({"true", "false"})
# `schema_contract` for the API sources: new tables and columns may appear, a column never changes type.
FROZEN_TYPES: dict[str, str] = {"data_type": "freeze"}


class ContractDriftError(SourceError):
    """A declared field vanished from most rows: the source renamed or removed it."""


@dataclass(frozen=True)
class Field:
    """One declared field. `kind`: text, integer, number (a number or numeric text), timestamp (parsed, or unix
    seconds), date (ISO text), boolean (a bool or "true"/"false"), email, currency (ISO code, lower-case), object.
    `required`: present and not empty in every row. `accepted`: the only values allowed (when not empty).
    `null_share`: the share of a required field's values that may be NULL in the landed table (the Great
    Expectations suite on the raw table, orchestration/raw_checks.py); 0 unless the contract allows some."""

    name: str
    kind: str = "text"
    required: bool = False
    accepted: frozenset[str] | None = None
    null_share: float = 0.0


def _accepts(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return True
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    if kind == "timestamp":
        return isinstance(value, datetime) or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return False
        return True
    if kind == "boolean":
        return isinstance(value, bool) or value in BOOLEAN_TEXT
    if kind == "email":
        return isinstance(value, str) and EMAIL.match(value.strip()) is not None
    if kind == "currency":
        return isinstance(value, str) and CURRENCY.match(value) is not None
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown field kind {kind!r}")


KIND_NAMES = {
    "text": "a string",
    "integer": "an integer",
    "number": "a number",
    "timestamp": "a timestamp",
    "date": "a date (YYYY-MM-DD)",
    "boolean": "a boolean",
    "email": "an email address",
    "currency": "a lower-case ISO currency code",
    "object": "an object",
}


@dataclass(frozen=True)
class Contract:
    """The contract of one raw table."""

    source: str
    table: str
    fields: tuple[Field, ...]

    def violation(self, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """(rule, reason) of the first field of `row` that breaks the contract, else None."""
        for field in self.fields:
            value = row.get(field.name)
            if value is None or value == "":
                if field.required and not field.null_share:  # a share of NULLs is judged on the table, not per row
                    return f"missing required field {field.name}", f"missing required field {field.name!r}"
                continue
            if not _accepts(field.kind, value):
                return (
                    f"{field.name} not {KIND_NAMES[field.kind]}",
                    f"field {field.name!r} is not {KIND_NAMES[field.kind]}: {str(value)[:80]!r}",
                )
            if field.accepted is not None and str(value) not in field.accepted:
                return (
                    f"{field.name} not an accepted value",
                    f"field {field.name!r} has value {str(value)[:80]!r}, "
                    f"not one of {', '.join(sorted(field.accepted))}",
                )
        return None

    def check_drift(self, payloads: Sequence[Mapping[str, Any]], also: Sequence[str] = ()) -> None:
        """Raise ContractDriftError when a declared field (or one of `also`, fields the source asked for by name) is
        absent, not just empty, from most of `payloads`, the objects of one page as the vendor sent them."""
        if not payloads:
            return
        names = dict.fromkeys([*(field.name for field in self.fields), *also])
        for name in names:
            absent = sum(1 for payload in payloads if name not in payload)
            if absent > DRIFT_SHARE * len(payloads):
                raise ContractDriftError(
                    f"{self.source}: {absent} of {len(payloads)} {self.table} came without the field "
                    f"{name!r} — renamed or removed at the source? Nothing of this run was loaded, so "
                    f"raw_{self.source}.{self.table} keeps its last good values. Restore the field at the source (or "
                    f"map its new name in ingestion/{self.source}.py and ingestion/contracts.py), then rerun; "
                    f"`csops run --full-refresh {self.source}` re-reads everything."
                )


def _enum(*values: str) -> frozenset[str]:
    return frozenset(values)


HUBSPOT = "hubspot"
STRIPE = "stripe"


def _stripe(table: str, *fields: Field) -> Contract:
    """Every Stripe object has a string `id` and `created` in unix seconds (the incremental cursor)."""
    return Contract(STRIPE, table, (Field("id", required=True), Field("created", "integer", required=True), *fields))


CONTRACTS: dict[tuple[str, str], Contract] = {
    (c.source, c.table): c
    for c in (
        Contract(
            HUBSPOT,
            "companies",
            (
                # A company without a product account id is quarantined with that rule (counted, never lost); a
                # rename upstream (the key gone, not just empty) fails the load itself through check_drift.
                Field("account_id", required=True),
                Field("name"),
                Field("numberofemployees", "number"),
                Field("hubspot_owner_id", "number"),
                Field("cs_segment", accepted=_enum("enterprise", "mid_market", "smb")),
                Field("createdate", "timestamp"),
            ),
        ),
        Contract(
            HUBSPOT,
            "contacts",
            (
                Field("email", "email"),
                Field("cs_is_champion", "boolean"),
                Field("cs_left_company", "boolean"),
                Field("cs_left_company_date", "date"),
                Field("createdate", "timestamp"),
            ),
        ),
        Contract(
            HUBSPOT,
            "deals",
            (
                Field("amount", "number"),
                Field("dealtype", accepted=_enum("newbusiness", "existingbusiness")),
                Field("cs_deal_kind", accepted=_enum("new", "renewal", "expansion")),
                Field("hubspot_owner_id", "number"),
                Field("createdate", "timestamp"),
            ),
        ),
        Contract(
            HUBSPOT,
            "tickets",
            (
                Field("hs_ticket_priority", accepted=_enum("LOW", "MEDIUM", "HIGH", "URGENT")),
                Field("hubspot_owner_id", "number"),
                Field("createdate", "timestamp"),
            ),
        ),
        Contract(
            HUBSPOT,
            "tasks",
            (
                Field("csops_task_key", required=True),
                Field(
                    "hs_task_status",
                    accepted=_enum("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
                ),
                Field("hubspot_owner_id", "number"),
            ),
        ),
        _stripe(
            "customers",
            Field("email", "email"),
            Field("currency", "currency"),
            Field("metadata", "object"),
        ),
        _stripe(
            "subscriptions",
            Field("customer", required=True),
            Field("currency", "currency", required=True),
            Field(
                "status",
                required=True,
                accepted=_enum(
                    "incomplete",
                    "incomplete_expired",
                    "trialing",
                    "active",
                    "past_due",
                    "canceled",
                    "unpaid",
                    "paused",
                ),
            ),
        ),
        _stripe(
            "invoices",
            Field("customer", required=True),
            Field("currency", "currency", required=True),
            Field("status", accepted=_enum("draft", "open", "paid", "uncollectible", "void")),
            Field("amount_due", "integer", required=True),
            Field("amount_paid", "integer", required=True),
            Field("total", "integer", required=True),
        ),
        _stripe("products"),
        _stripe(
            "prices",
            Field("currency", "currency", required=True),
            Field("unit_amount", "integer"),
            Field("type", accepted=_enum("recurring", "one_time")),
        ),
        _stripe("coupons"),
    )
}


def contract(source: str, table: str) -> Contract | None:
    """The declared contract of raw table `table` of `source`, if any."""
    return CONTRACTS.get((source, table))
