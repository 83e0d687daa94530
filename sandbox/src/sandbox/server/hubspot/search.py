"""HubSpot's CRM search (`POST /crm/v3/objects/{type}/search`), vectorised over an `ObjectSet`.

Semantics mirrored: filterGroups are OR-ed, filters inside a group AND-ed (at most 5 groups, 6 filters each,
18 in all); one sort; `limit` at most 200; `after` is an offset; `total` counts every match, but paging stops
at 10,000 results (`after` >= 10,000 is HubSpot's 400) — the reason incremental readers split their time
window. String comparisons are case-insensitive; datetime filters take epoch milliseconds or ISO-8601.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sandbox.server.common import parse_instant_ms
from sandbox.server.hubspot.model import HubSpotModel, ObjectSet
from sandbox.server.hubspot.object_types import resolve_type
from sandbox.server.hubspot.values import DAY_MS
from sandbox.server.store import Column

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS, MAX_LIMIT = 5, 6, 18, 200
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}


class SearchError(ValueError):
    """A search request HubSpot answers with 400 VALIDATION_ERROR."""


@dataclass
class SearchResult:
    positions: np.ndarray  # the page, in order
    total: int
    next_after: str | None


def run_search(
    model: HubSpotModel, objects: ObjectSet, body: dict[str, Any], cap: int, hidden: np.ndarray | None = None
) -> SearchResult:
    """Matching, live, indexed records (`hidden`: positions the search index has not caught up with yet)."""
    if not isinstance(body, dict):
        raise SearchError("Invalid input JSON: expected an object")
    limit = _int(body.get("limit", 10), "limit")
    if limit < 0 or limit > MAX_LIMIT:
        raise SearchError(f"limit must be between 0 and {MAX_LIMIT} (got {limit})")
    after = _int(body.get("after") or 0, "after")
    if after < 0:
        raise SearchError("after must be a non-negative offset")
    if after >= cap:
        raise SearchError("There was a problem with the request.")
    mask = ~objects.archived
    if hidden is not None and len(hidden):
        mask = mask.copy()
        mask[hidden] = False
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise SearchError("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise SearchError(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS})")
    if sum(len(g.get("filters") or []) for g in groups if isinstance(g, dict)) > MAX_FILTERS:
        raise SearchError(f"Too many filters (at most {MAX_FILTERS} across all groups)")
    if groups:
        any_group = np.zeros(len(objects), dtype=bool)
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise SearchError(f"Too many filters in a group: {len(filters)} (at most {MAX_FILTERS_PER_GROUP})")
            all_filters = np.ones(len(objects), dtype=bool)
            for flt in filters:
                all_filters &= filter_mask(model, objects, flt)
            any_group |= all_filters
        mask &= any_group
    query = body.get("query")
    if query:
        mask &= _query_mask(objects, str(query))
    positions = np.flatnonzero(mask)
    positions = _sorted(objects, positions, body.get("sorts") or [])
    total = len(positions)
    page = positions[after : after + limit]
    next_after = str(after + limit) if after + limit < total and limit > 0 else None
    return SearchResult(page, total, next_after)


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise SearchError(f"{name} must be an integer (got {value!r})") from None


# ------------------------------------------------------------------------------------------------- filters
def filter_mask(model: HubSpotModel, objects: ObjectSet, flt: dict[str, Any]) -> np.ndarray:
    if not isinstance(flt, dict):
        raise SearchError("each filter must be an object")
    prop, op = flt.get("propertyName"), str(flt.get("operator", "EQ")).upper()
    if not prop:
        raise SearchError("a filter needs a propertyName")
    if op not in OPERATORS:
        raise SearchError(f"Unknown operator {op!r}; one of {', '.join(sorted(OPERATORS))}")
    if prop.startswith("associations."):
        return _association_mask(model, objects, prop.split(".", 1)[1], op, flt)
    if objects.schema.get(prop) is None:
        raise SearchError(
            f"There was a problem with the request: unknown property {prop!r} for {objects.object_type.name}"
        )
    col = objects.column(prop)
    if op == "HAS_PROPERTY":
        return _has(col)
    if op == "NOT_HAS_PROPERTY":
        return ~_has(col)
    if op in ("IN", "NOT_IN"):
        values = flt.get("values")
        if not isinstance(values, list) or not values:
            raise SearchError(f"operator {op} needs a non-empty `values` list")
        keys = [_coerce(col, v, prop) for v in values]
        hit = _has(col) & _isin(objects, prop, col, keys)
        return hit if op == "IN" else ~hit
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = flt.get("value")
        if token is None:
            raise SearchError(f"operator {op} needs a `value`")
        hit = _has(col) & _token_mask(col, str(token))
        return hit if op == "CONTAINS_TOKEN" else ~hit
    if "value" not in flt or flt["value"] is None:
        raise SearchError(f"operator {op} needs a `value`")
    key = _coerce(col, flt["value"], prop)
    values = _comparable(objects, prop, col)
    valid = _has(col)
    if op == "EQ":
        return valid & (values == key)
    if op == "NEQ":
        return ~(valid & (values == key))
    if op == "BETWEEN":
        if flt.get("highValue") is None:
            raise SearchError("operator BETWEEN needs `value` and `highValue`")
        high = _coerce(col, flt["highValue"], prop)
        return valid & (values >= key) & (values <= high)
    compare = {"LT": np.less, "LTE": np.less_equal, "GT": np.greater, "GTE": np.greater_equal}[op]
    return valid & compare(values, key)


def _has(col: Column) -> np.ndarray:
    if col.kind == "str":
        return col.valid & (col.values != "")
    return col.valid


def _coerce(col: Column, value: Any, prop: str) -> Any:
    """A filter value in the column's comparable form (HubSpot sends every value as a string)."""
    if col.kind in ("float", "int"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SearchError(f"{value!r} is not a number (property {prop})") from None
    if col.kind in ("ts", "date"):
        ms = parse_instant_ms(value)
        if ms is None:
            raise SearchError(f"{value!r} is not epoch milliseconds or an ISO-8601 date (property {prop})")
        return ms // DAY_MS if col.kind == "date" else ms
    if col.kind == "bool":
        return str(value).lower() == "true"
    return str(value).lower()


def _comparable(objects: ObjectSet, prop: str, col: Column) -> np.ndarray:
    """Values to compare: strings lower-cased (cached on the set), others as they are."""
    if col.kind != "str":
        return col.values
    key = f"{prop}\x00lower"
    cached = objects._columns.get(key)
    if cached is None:
        lowered = np.array([v.lower() if isinstance(v, str) else "" for v in col.values.tolist()], dtype=object)
        cached = objects._columns[key] = Column("str", lowered, col.valid)
    return cached.values


def _isin(objects: ObjectSet, prop: str, col: Column, keys: list[Any]) -> np.ndarray:
    values = _comparable(objects, prop, col)
    if col.kind == "str":
        wanted = set(keys)
        return np.fromiter((v in wanted for v in values.tolist()), dtype=bool, count=len(values))
    return np.isin(values, np.array(keys))


def _token_mask(col: Column, token: str) -> np.ndarray:
    pattern = re.compile(r"(^|\W)" + re.escape(token.lower()).replace(r"\*", r"\w*") + r"(\W|$)")
    return np.fromiter(
        (bool(pattern.search(v.lower())) if isinstance(v, str) else False for v in col.values.tolist()),
        dtype=bool,
        count=len(col.values),
    )


def _association_mask(model: HubSpotModel, objects: ObjectSet, target: str, op: str, flt: dict[str, Any]) -> np.ndarray:
    """`associations.company EQ 123`: objects associated with the given record(s)."""
    to_type = resolve_type(target)
    if to_type is None:
        raise SearchError(f"Unknown association type {target!r}")
    if op in ("EQ", "NEQ"):
        wanted = [flt.get("value")]
    elif op in ("IN", "NOT_IN"):
        wanted = flt.get("values") or []
    else:
        raise SearchError(f"operator {op} is not supported on associations (use EQ, NEQ, IN or NOT_IN)")
    try:
        wanted_ids = {int(str(v)) for v in wanted}
    except ValueError:
        raise SearchError("association filter values must be record ids") from None
    index = model.associations(objects.object_type.name, to_type.name)
    linked = np.isin(index.to_ids, np.array(sorted(wanted_ids), dtype=np.int64))
    hit = np.isin(objects.ids, index.from_ids[linked])
    return ~hit if op in ("NEQ", "NOT_IN") else hit


def _query_mask(objects: ObjectSet, query: str) -> np.ndarray:
    needle = query.lower().strip()
    mask = np.zeros(len(objects), dtype=bool)
    for prop in objects.object_type.query_props:
        if objects.schema.get(prop) is None:
            continue
        values = _comparable(objects, prop, objects.column(prop))
        mask |= np.fromiter((needle in v for v in values.tolist()), dtype=bool, count=len(values))
    return mask


# ---------------------------------------------------------------------------------------------------- sort
def _sorted(objects: ObjectSet, positions: np.ndarray, sorts: list[Any]) -> np.ndarray:
    """Positions ordered by the one sort HubSpot allows (ties and the default: by id, ascending)."""
    if not sorts:
        return positions
    if len(sorts) > 1:
        raise SearchError("Only one sort is allowed")
    spec = sorts[0]
    if isinstance(spec, str):  # legacy form: "createdate" or "-createdate"
        prop, descending = spec.lstrip("-"), spec.startswith("-")
    elif isinstance(spec, dict):
        prop = spec.get("propertyName")
        descending = str(spec.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        raise SearchError("a sort is {propertyName, direction}")
    if not prop or objects.schema.get(prop) is None:
        raise SearchError(f"Unknown sort property {prop!r}")
    if len(positions) == 0:
        return positions
    ranks = _ranks(objects, prop)[positions]
    valid = _has(objects.column(prop))[positions]
    key = np.where(valid, -ranks if descending else ranks, np.iinfo(np.int64).max)
    return positions[np.argsort(key, kind="stable")]


def _ranks(objects: ObjectSet, prop: str) -> np.ndarray:
    """Dense ranks of a property's values over the whole set (cached: one sort per set and property)."""
    key = f"{prop}\x00rank"
    cached = objects._columns.get(key)
    if cached is None:
        col = objects.column(prop)
        values, valid = _comparable(objects, prop, col), _has(col)
        filler = values[valid][0] if valid.any() else (values[0] if len(values) else 0)
        _, ranks = (
            np.unique(np.where(valid, values, filler), return_inverse=True)
            if len(values)
            else (None, np.array([], dtype=np.int64))
        )
        cached = objects._columns[key] = Column("int", ranks.astype(np.int64), valid)
    return cached.values
