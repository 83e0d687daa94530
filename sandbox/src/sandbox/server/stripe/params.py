"""List parameters as Stripe checks them: unknown ones rejected, `limit` 1..100, `created` ranges, and the page
after / before a cursor object (`starting_after` / `ending_before`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sandbox.server.common import Query, parse_int
from sandbox.server.stripe.errors import StripeError, invalid_integer, missing

COMMON = {"limit", "starting_after", "ending_before", "expand", "created"}
LIST_PARAMS = {
    "customers": COMMON | {"email", "test_clock"},
    "products": COMMON | {"active", "ids", "shippable", "url"},
    "prices": COMMON | {"active", "currency", "product", "type", "lookup_keys", "recurring"},
    "coupons": COMMON,
    "subscriptions": COMMON
    | {
        "status",
        "customer",
        "customer_account",
        "price",
        "plan",
        "collection_method",
        "current_period_start",
        "current_period_end",
        "test_clock",
        "automatic_tax",
    },
    "invoices": COMMON | {"status", "customer", "customer_account", "subscription", "collection_method", "due_date"},
    "events": COMMON | {"type", "types", "delivery_success"},
    "subscription_items": {"limit", "starting_after", "ending_before", "expand", "subscription"},
    "lines": {"limit", "starting_after", "ending_before", "expand"},
}


class StripeParams:
    """Parameter checks and cursor paging shared by every Stripe list."""

    @staticmethod
    def check_params(query: Query, allowed: set[str]) -> None:
        for key, _ in query.pairs:
            base = key.split("[", 1)[0]
            if base not in allowed:
                raise StripeError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)

    @staticmethod
    def limit(query: Query) -> int:
        raw = query.get("limit")
        if raw is None:
            return 10
        value = parse_int(raw)
        if value is None:
            raise invalid_integer("limit", raw)
        if not 1 <= value <= 100:
            raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
        return value

    @staticmethod
    def range_mask(query: Query, name: str, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """`created=<int>` or `created[gt|gte|lt|lte]=<int>` as a mask over `values`."""
        mask = np.ones(len(values), dtype=bool) if valid is None else valid.copy()
        for key, raw in query.pairs:
            if key != name and not key.startswith(f"{name}["):
                continue
            op = "eq" if key == name else key[len(name) + 1 : -1]
            if op not in ("eq", "gt", "gte", "lt", "lte") or (op != "eq" and not key.endswith("]")):
                raise StripeError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)
            value = parse_int(raw)
            if value is None:
                raise invalid_integer(key, raw)
            compare = {
                "eq": np.equal,
                "gt": np.greater,
                "gte": np.greater_equal,
                "lt": np.less,
                "lte": np.less_equal,
            }[op]
            mask &= compare(values, value)
        return mask

    @staticmethod
    def window(
        q: Query, ordered: np.ndarray, rank: np.ndarray, row_of: Callable[[str], int | None], kind: str
    ) -> tuple[np.ndarray, bool]:
        """The page of `ordered` (rows in list order) after/before the cursor objects, and has_more."""
        limit = StripeParams.limit(q)
        after, before = q.get("starting_after"), q.get("ending_before")
        if after and before:
            raise StripeError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        ranks = rank[ordered]
        if after:
            row = row_of(after)
            if row is None:
                raise missing(kind, after, "starting_after")
            start = int(np.searchsorted(ranks, rank[row], side="right"))
            return ordered[start : start + limit], len(ordered) > start + limit
        if before:
            row = row_of(before)
            if row is None:
                raise missing(kind, before, "ending_before")
            end = int(np.searchsorted(ranks, rank[row], side="left"))
            start = max(0, end - limit)
            return ordered[start:end], start > 0
        return ordered[:limit], len(ordered) > limit
