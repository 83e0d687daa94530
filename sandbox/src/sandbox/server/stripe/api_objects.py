"""Stripe API objects rendered from the world's `stripe_*` rows (which sandbox/generator/stripe_rows.py writes), in
the shapes of the current API version.

Shapes follow stripe-python 16.1.0 (API version 2026-10-28.endive, generated from Stripe's OpenAPI spec):
subscription items carry `current_period_start/end`; subscriptions list `discounts` as ids; a discount names
its coupon under `source.coupon`; invoices name their subscription under
`parent.subscription_details.subscription`; invoice lines have `parent` (`subscription_item_details` /
`invoice_item_details`), `pricing.price_details`, `discount_amounts`, `pretax_credit_amounts` and `taxes`.
Amounts are integers in minor units, currencies lower-case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sandbox.server.common import loads
from sandbox.server.store import GroupIndex, Table, World
from sandbox.server.stripe.billing_objects import BillingObjects
from sandbox.server.stripe.catalogue_objects import CatalogueObjects
from sandbox.server.stripe.versions import CURRENT_VERSION as STRIPE_API_VERSION

EVENT_RETENTION_SECONDS = 30 * 86_400
DELETABLE = ("customer", "coupon")  # objects Stripe deletes for good (their rows keep `deleted_at`)


@dataclass
class Listing:
    """A table in Stripe's list order (created desc, id desc) with each row's rank in it."""

    table: Table
    order: np.ndarray
    rank: np.ndarray

    @classmethod
    def of(cls, table: Table) -> Listing:
        ids = table.col("id").values
        _, id_rank = np.unique(ids.astype(str), return_inverse=True) if len(ids) else (None, np.array([], int))
        created = table.col("created").values if "created" in table else np.zeros(table.n, dtype=np.int64)
        order = np.lexsort((-id_rank.astype(np.int64), -created.astype(np.int64)))
        rank = np.empty(table.n, dtype=np.int64)
        rank[order] = np.arange(table.n)
        return cls(table, order, rank)


class StripeData(CatalogueObjects, BillingObjects):
    """Indexes over the Stripe tables of one world render, and the renderers of every object."""

    def __init__(self, world: World):
        t = world.tables
        self.world = world
        self.customers, self.products, self.prices = (
            t["stripe_customers"],
            t["stripe_products"],
            t["stripe_prices"],
        )
        self.coupons, self.discounts = t["stripe_coupons"], t["stripe_discounts"]
        self.subscriptions, self.items = t["stripe_subscriptions"], t["stripe_subscription_items"]
        self.invoices, self.lines, self.events = (
            t["stripe_invoices"],
            t["stripe_invoice_lines"],
            t["stripe_events"],
        )
        self.cutoff = world.cutoff_ms // 1000
        self.listings = {
            name: Listing.of(table)
            for name, table in (
                ("customers", self.customers),
                ("products", self.products),
                ("prices", self.prices),
                ("coupons", self.coupons),
                ("subscriptions", self.subscriptions),
                ("invoices", self.invoices),
                ("events", self.events),
                ("subscription_items", self.items),
            )
        }
        self.items_by_sub: GroupIndex = self.items.group("subscription")
        self.lines_by_invoice: GroupIndex = self.lines.group("invoice")
        customer_ids = self.invoices.col("customer").values
        keys, counts = np.unique(customer_ids.astype(str), return_counts=True) if len(customer_ids) else ([], [])
        self.invoice_counts = dict(zip(list(keys), [int(c) for c in counts], strict=True))
        coupon_ids = self.discounts.col("coupon").values
        keys, counts = np.unique(coupon_ids.astype(str), return_counts=True) if len(coupon_ids) else ([], [])
        self.redeemed = dict(zip(list(keys), [int(c) for c in counts], strict=True))

    def event_types(self) -> tuple[list[str], np.ndarray]:
        """(distinct event types, each event's index into them): type filters match a handful of strings."""
        if not hasattr(self, "_event_types"):
            kinds, codes = np.unique(self.events.col("type").values.astype(str), return_inverse=True)
            self._event_types = ([str(k) for k in kinds], codes)
        return self._event_types

    # ------------------------------------------------------------------------------------------- lookups
    def row(self, table: Table, object_id: str) -> int | None:
        return table.index("id").get(object_id)

    @staticmethod
    def get(table: Table, column: str, row: int) -> Any:
        return table.pylist(column)[row]

    # ------------------------------------------------------------------------------------------ renderers
    # customer, product, price, plan, coupon, discount: catalogue_objects.py; subscription_item, subscription,
    # line, invoice: billing_objects.py
    def event(self, row: int) -> dict[str, Any] | None:
        e, g = self.events, self.get
        kind, object_type, object_id = g(e, "type", row), g(e, "object_type", row), g(e, "object_id", row)
        obj = self.render(object_type, object_id)
        if obj is None:
            return None
        data: dict[str, Any] = {"object": obj}
        previous = loads(g(e, "previous_attributes", row) or "{}")
        if previous and kind.endswith(".updated"):  # Stripe: previous_attributes only on *.updated events
            data["previous_attributes"] = self._previous(object_type, obj, previous)
        return {
            "id": g(e, "id", row),
            "object": "event",
            "api_version": STRIPE_API_VERSION,
            "created": g(e, "created", row),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    def _previous(self, object_type: str, obj: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        """Period and item changes belong to the subscription item in the current API: move them there."""
        if object_type != "subscription":
            return previous
        previous = dict(previous)
        item_changes = {k: previous.pop(k) for k in ("current_period_start", "current_period_end") if k in previous}
        items = previous.pop("items", None)
        if isinstance(items, dict):
            if "quantity" in items:
                item_changes["quantity"] = items["quantity"]
            if items.get("price"):
                price_row = self.row(self.prices, items["price"])
                if price_row is not None:
                    item_changes["price"], item_changes["plan"] = self.price(price_row), self.plan(price_row)
        if item_changes:
            first = (obj.get("items") or {}).get("data") or [{}]
            previous["items"] = {"data": [{**first[0], **item_changes}]}
        return previous

    def is_deleted(self, kind: str, object_id: str) -> bool:
        table = getattr(self, self.TABLES[kind])
        row = self.row(table, object_id)
        return row is not None and "deleted_at" in table and self.get(table, "deleted_at", row) is not None

    def account_of_customer(self, customer_id: str) -> str | None:
        row = self.row(self.customers, customer_id)
        return None if row is None else self.get(self.customers, "account_id", row)

    # ----------------------------------------------------------------------------------------------- generic
    TABLES: ClassVar[dict[str, str]] = {
        "customer": "customers",
        "product": "products",
        "price": "prices",
        "coupon": "coupons",
        "discount": "discounts",
        "subscription": "subscriptions",
        "subscription_item": "items",
        "invoice": "invoices",
        "line_item": "lines",
        "event": "events",
    }

    def render(self, kind: str, object_id: str) -> dict[str, Any] | None:
        table = getattr(self, self.TABLES[kind])
        row = self.row(table, object_id)
        if row is None:
            return None
        renderer = getattr(self, {"line_item": "line"}.get(kind, kind))
        return renderer(row)


def stripe_data(world: World) -> StripeData:
    return world.derive("stripe:data", StripeData)
