"""The request floor of a rate-limited full load: the fewest requests the vendor's documented page sizes allow for
what was loaded, and the seconds its documented rate limit needs for them. A load's wall time is judged against it
(goal: within 1.2x), so waiting on a limit by design is told apart from waiting on our own code.

HubSpot (private apps): 190 requests per 10 seconds; lists return 100 records a page (owners 500), v4 association
batch reads take 1000 ids, archived records come from the list endpoint with `archived=true` (one request at least
per object type). Typeform's Responses API: 2 requests per second, 1000 responses a page.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

HUBSPOT_RATE = 190 / 10
HUBSPOT_PAGE = 100
HUBSPOT_OWNERS_PAGE = 500
HUBSPOT_ASSOCIATIONS_BATCH = 1000
HUBSPOT_ASSOCIATED = ("contacts", "deals", "tickets", "notes", "calls", "meetings")
HUBSPOT_ARCHIVABLE = ("companies", "contacts", "deals", "tickets")
TYPEFORM_RATE = 2.0
TYPEFORM_PAGE = 1000


def _pages(rows: int, page: int) -> int:
    return max(1, math.ceil(rows / page))  # an empty list still costs the request that says so


def _counts(warehouse: Path, dataset: str, table: str) -> tuple[int, int]:
    """(live rows, archived rows) of a raw table; (0, 0) when it does not exist."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [dataset, table],
            ).fetchall()
        }
        if not columns:
            return 0, 0
        archived = "coalesce(archived, false)" if "archived" in columns else "false"
        live, gone = con.execute(
            f"select count(*) filter (where not {archived}), count(*) filter (where {archived}) "
            f'from {dataset}."{table}"'
        ).fetchone()
        return int(live), int(gone)


def hubspot_floor(warehouse: Path, objects: tuple[str, ...]) -> dict[str, Any]:
    requests = 1 + _pages(_counts(warehouse, "raw_hubspot", "owners")[0], HUBSPOT_OWNERS_PAGE)  # + account check
    for name in objects:
        live, archived = _counts(warehouse, "raw_hubspot", name)
        requests += _pages(live, HUBSPOT_PAGE)
        if name in HUBSPOT_ARCHIVABLE:
            requests += _pages(archived, HUBSPOT_PAGE)
        if name in HUBSPOT_ASSOCIATED and live:
            requests += math.ceil(live / HUBSPOT_ASSOCIATIONS_BATCH)
    return {"requests": requests, "rate_per_s": HUBSPOT_RATE, "seconds": requests / HUBSPOT_RATE}


def typeform_floor(warehouse: Path) -> dict[str, Any]:
    live, _ = _counts(warehouse, "raw_surveys", "typeform_responses")
    requests = _pages(live + 1, TYPEFORM_PAGE)  # a full last page needs one more request to see the end
    return {"requests": requests, "rate_per_s": TYPEFORM_RATE, "seconds": requests / TYPEFORM_RATE}


def request_floor(source: str, warehouse: Path, objects: tuple[str, ...]) -> dict[str, Any] | None:
    """The floor of a full load of `source`, None for sources without a request rate limit that binds."""
    if source == "hubspot":
        return hubspot_floor(warehouse, objects)
    if source == "surveys":
        return typeform_floor(warehouse)
    return None
