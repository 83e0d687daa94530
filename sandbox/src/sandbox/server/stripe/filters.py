"""Each list endpoint's own filters (`status`, `customer`, `price`, `type`, ...), as boolean masks over the rows."""

from __future__ import annotations

import numpy as np

from sandbox.server.common import Query
from sandbox.server.store import Table
from sandbox.server.stripe.api_objects import EVENT_RETENTION_SECONDS, StripeData
from sandbox.server.stripe.errors import StripeError
from sandbox.server.stripe.params import StripeParams

SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")


class StripeFilters(StripeParams):
    """`_filter_<list>` per list endpoint, looked up by name in StripeApi.list_objects."""

    @staticmethod
    def _eq(table: Table, column: str, wanted: str) -> np.ndarray:
        """Rows where `column == wanted`, through the column's group index (no scan per request)."""
        mask = np.zeros(table.n, dtype=bool)
        mask[table.group(column).rows(wanted)] = True
        return mask

    @staticmethod
    def _bool_param(q: Query, name: str) -> bool | None:
        raw = q.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {raw}", param=name)
        return raw == "true"

    def _filter_customers(self, q: Query, data: StripeData) -> np.ndarray:
        mask = np.ones(data.customers.n, dtype=bool)
        if q.get("email") is not None:
            mask &= self._eq(data.customers, "email", q.get("email"))
        return mask

    def _filter_products(self, q: Query, data: StripeData) -> np.ndarray:
        mask = np.ones(data.products.n, dtype=bool)
        active = self._bool_param(q, "active")
        if active is not None:
            mask &= data.products.col("active").values == active
        ids = q.bracket_list("ids")
        if ids:
            mask &= np.isin(data.products.col("id").values.astype(str), ids)
        return mask

    def _filter_prices(self, q: Query, data: StripeData) -> np.ndarray:
        p = data.prices
        mask = np.ones(p.n, dtype=bool)
        active = self._bool_param(q, "active")
        if active is not None:
            mask &= p.col("active").values == active
        for name in ("currency", "product", "type"):
            if q.get(name) is not None:
                mask &= self._eq(p, name, q.get(name))
        lookup_keys = q.bracket_list("lookup_keys")
        if lookup_keys:
            mask &= np.isin(p.col("lookup_key").values.astype(str), lookup_keys)
        interval = q.get("recurring[interval]")
        if interval is not None:
            mask &= self._eq(p, "recurring_interval", interval)
        usage = q.get("recurring[usage_type]")
        if usage is not None:
            mask &= self._eq(p, "recurring_usage_type", usage)
        return mask

    def _filter_subscriptions(self, q: Query, data: StripeData) -> np.ndarray:
        s = data.subscriptions
        status = q.get("status")
        statuses = s.col("status").values
        if status is None:  # Stripe's default: everything but canceled (and incomplete_expired)
            mask = ~np.isin(statuses.astype(str), ["canceled", "incomplete_expired"])
        elif status not in SUBSCRIPTION_STATUSES:
            raise StripeError(
                400,
                f"Invalid status: must be one of {', '.join(SUBSCRIPTION_STATUSES[:-1])}, or "
                f"{SUBSCRIPTION_STATUSES[-1]}",
                param="status",
            )
        elif status == "all":
            mask = np.ones(s.n, dtype=bool)
        elif status == "ended":
            mask = np.isin(statuses.astype(str), ["canceled", "incomplete_expired"])
        else:
            mask = self._eq(s, "status", status)
        if q.get("customer") is not None:
            mask &= self._eq(s, "customer", q.get("customer"))
        if q.get("collection_method") is not None:
            mask &= self._eq(s, "collection_method", q.get("collection_method"))
        price = q.get("price") or q.get("plan")
        if price is not None:
            subs = {
                data.get(data.items, "subscription", i)
                for i in range(data.items.n)
                if data.get(data.items, "price", i) == price
            }
            mask &= np.isin(s.col("id").values.astype(str), sorted(subs) or [""])
        return mask

    def _filter_invoices(self, q: Query, data: StripeData) -> np.ndarray:
        v = data.invoices
        mask = np.ones(v.n, dtype=bool)
        status = q.get("status")
        if status is not None:
            if status not in INVOICE_STATUSES:
                raise StripeError(
                    400,
                    f"Invalid status: must be one of {', '.join(INVOICE_STATUSES[:-1])}, or {INVOICE_STATUSES[-1]}",
                    param="status",
                )
            mask &= self._eq(v, "status", status)
        for name in ("customer", "subscription"):
            if q.get(name) is not None:
                mask &= self._eq(v, name, q.get(name))
        if q.get("collection_method") is not None:
            mask &= q.get("collection_method") == "charge_automatically"
        if "due_date" in q.base_keys():
            mask &= self.range_mask(q, "due_date", v.col("due_date").values, v.col("due_date").valid)
        return mask

    def _filter_events(self, q: Query, data: StripeData) -> np.ndarray:
        e = data.events
        created = e.col("created").values
        mask = (created >= data.cutoff - EVENT_RETENTION_SECONDS) & (created < data.cutoff)  # 30 days retained
        single, many = q.get("type"), q.bracket_list("types")
        if single and many:
            raise StripeError(400, "You cannot specify both type and types.", param="types")
        if len(many) > 20:
            raise StripeError(400, "You may specify at most 20 types.", param="types")
        patterns = [single] if single else many
        if patterns:
            kinds, codes = data.event_types()
            wanted = [
                i
                for i, kind in enumerate(kinds)
                if any(kind.startswith(p[:-1]) if p.endswith("*") else kind == p for p in patterns)
            ]
            mask &= np.isin(codes, wanted)
        return mask

    def _filter_subscription_items(self, q: Query, data: StripeData) -> np.ndarray:
        sub = q.get("subscription")
        if not sub:
            raise StripeError(
                400, "Missing required param: subscription.", code="parameter_missing", param="subscription"
            )
        return self._eq(data.items, "subscription", sub)
