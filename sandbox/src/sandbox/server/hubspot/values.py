"""Property values as HubSpot serves and accepts them: every value a string, validated and normalised on write,
typed again for search."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sandbox.server.common import MS_NULL, iso_date, iso_ms, parse_instant_ms
from sandbox.server.store import Column

DAY_MS = 86_400_000


# -------------------------------------------------------------------------------------- value formatting
def format_number(value: float) -> str:
    if isinstance(value, int | np.integer):
        return str(int(value))
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def format_column(column: Column, prop_type: str, rows: np.ndarray) -> list[str | None]:
    """World values of `rows` as HubSpot strings."""
    values = column.values[rows].tolist()
    valid = column.valid[rows].tolist()
    if column.kind == "ts":
        return [iso_ms(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind == "date":
        return [iso_date(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind in ("int", "float"):
        return [format_number(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind == "bool":
        return [("true" if v else "false") if ok else None for v, ok in zip(values, valid, strict=True)]
    return [v if ok else None for v, ok in zip(values, valid, strict=True)]


class InvalidValue(ValueError):
    """A property value HubSpot would reject; `code` is HubSpot's error code (INVALID_OPTION, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def normalise_value(definition: dict[str, Any], raw: Any) -> str | None:
    """The stored string of a written value (HubSpot's canonical form), or InvalidValue."""
    if raw is None:
        return None
    prop_type = definition["type"]
    text = raw if isinstance(raw, str) else ("true" if raw is True else "false" if raw is False else str(raw))
    if text == "":
        return ""  # HubSpot clears a property with an empty string
    name = definition["name"]
    if prop_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.") from None
        if not math.isfinite(number):
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.")
        return text.strip()
    if prop_type == "bool":
        if text.lower() not in ("true", "false"):
            raise InvalidValue("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text.lower()
    if prop_type == "datetime":
        ms = parse_instant_ms(text)
        if ms is None:
            raise InvalidValue("INVALID_DATE", f"{text} was not a valid long or ISO-8601 datetime.")
        return iso_ms(ms)
    if prop_type == "date":
        ms = parse_instant_ms(text)
        if ms is None:
            raise InvalidValue("INVALID_DATE", f"{text} was not a valid date.")
        if ms % DAY_MS:
            raise InvalidValue("INVALID_DATE", f"{text} is not midnight UTC: date properties take a day.")
        return iso_date(ms // DAY_MS)
    if prop_type == "enumeration":
        allowed = [o["value"] for o in definition.get("options", [])]
        parts = text.split(";") if definition.get("fieldType") == "checkbox" else [text]
        bad = [p for p in parts if p not in allowed]
        if bad and allowed:
            if name == "hubspot_owner_id":
                raise InvalidValue("INVALID_OWNER_ID", f"No owner with ID '{text}' exists.")
            raise InvalidValue("INVALID_OPTION", f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]")
        return text
    return text


def typed_from_strings(prop_type: str | None, values: list[str | None]) -> Column:
    """Stored strings as a typed column (what search compares), invalid strings as nulls."""
    n = len(values)
    valid = np.array([v not in (None, "") for v in values], dtype=bool)
    if prop_type == "number":
        out = np.zeros(n)
        for i, v in enumerate(values):
            try:
                out[i] = float(v) if valid[i] else 0.0
            except (TypeError, ValueError):
                valid[i] = False
        return Column("float", out, valid)
    if prop_type in ("datetime", "date"):
        ms_values = [parse_instant_ms(v) if ok else None for v, ok in zip(values, valid, strict=True)]
        valid &= np.array([m is not None for m in ms_values], dtype=bool)
        out = np.array([m if m is not None else MS_NULL for m in ms_values], dtype=np.int64)
        if prop_type == "date":
            return Column("date", np.where(valid, out // DAY_MS, 0), valid)
        return Column("ts", out, valid)
    return Column(
        "str", np.array([v if ok else None for v, ok in zip(values, valid, strict=True)], dtype=object), valid
    )
