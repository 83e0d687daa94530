"""Stripe objects rendered from the world tables, in the shapes of the current API version.

Shapes follow stripe-python 16.1.0 (API version 2026-10-28.endive, generated from Stripe's OpenAPI spec):
subscription items carry `current_period_start/end`; subscriptions list `discounts` as ids; a discount names
its coupon under `source.coupon`; invoices name their subscription under
`parent.subscription_details.subscription`; invoice lines have `parent` (`subscription_item_details` /
`invoice_item_details`), `pricing.price_details`, `discount_amounts`, `pretax_credit_amounts` and `taxes`.
Amounts are integers in minor units, currencies lower-case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sandbox.server.common import loads
from sandbox.server.store import GroupIndex, Table, World

STRIPE_API_VERSION = "2026-10-28.endive"
EVENT_RETENTION_SECONDS = 30 * 86_400
TAX_RATE_PERCENT = {"eur": 20.0, "gbp": 20.0}


def tax_rate_id(currency: str) -> str:
    return "txr_" + hashlib.sha1(f"vat:{currency}".encode()).hexdigest()[:14]


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


class StripeData:
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
    def customer(self, row: int) -> dict[str, Any]:
        c, g = self.customers, self.get
        customer_id = g(c, "id", row)
        return {
            "id": customer_id,
            "object": "customer",
            "address": {
                "city": None,
                "country": g(c, "address_country", row),
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "balance": 0,
            "business_name": None,
            "created": g(c, "created", row),
            "currency": g(c, "currency", row),
            "customer_account": None,
            "default_source": None,
            "delinquent": bool(g(c, "delinquent", row)),
            "description": None,
            "discount": None,
            "email": g(c, "email", row),
            "individual_name": None,
            "invoice_prefix": hashlib.sha1(customer_id.encode()).hexdigest()[:8].upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {"account_id": g(c, "account_id", row)},
            "name": g(c, "name", row),
            "next_invoice_sequence": self.invoice_counts.get(customer_id, 0) + 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }

    def product(self, row: int) -> dict[str, Any]:
        p, g = self.products, self.get
        return {
            "id": g(p, "id", row),
            "object": "product",
            "active": bool(g(p, "active", row)),
            "created": g(p, "created", row),
            "default_price": None,
            "description": None,
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": {},
            "name": g(p, "name", row),
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": g(p, "created", row),
            "url": None,
        }

    def price(self, row: int) -> dict[str, Any]:
        p, g = self.prices, self.get
        recurring = None
        if g(p, "type", row) == "recurring":
            recurring = {
                "interval": g(p, "recurring_interval", row),
                "interval_count": g(p, "recurring_interval_count", row),
                "meter": None,
                "trial_period_days": None,
                "usage_type": g(p, "recurring_usage_type", row),
            }
        amount = g(p, "unit_amount", row)
        return {
            "id": g(p, "id", row),
            "object": "price",
            "active": bool(g(p, "active", row)),
            "billing_scheme": "per_unit",
            "created": g(p, "created", row),
            "currency": g(p, "currency", row),
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": g(p, "lookup_key", row),
            "metadata": {},
            "nickname": g(p, "nickname", row),
            "product": g(p, "product", row),
            "recurring": recurring,
            "tax_behavior": "exclusive" if g(p, "currency", row) in TAX_RATE_PERCENT else "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": g(p, "type", row),
            "unit_amount": amount,
            "unit_amount_decimal": None if amount is None else str(amount),
        }

    def plan(self, row: int) -> dict[str, Any]:
        """The legacy `plan` twin of a recurring price, still served on subscription items."""
        price = self.price(row)
        recurring = price["recurring"] or {}
        return {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": "per_unit",
            "created": price["created"],
            "currency": price["currency"],
            "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count"),
            "livemode": False,
            "metadata": {},
            "meter": None,
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": recurring.get("usage_type"),
        }

    def coupon(self, row: int) -> dict[str, Any]:
        c, g = self.coupons, self.get
        coupon_id = g(c, "id", row)
        return {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": g(c, "amount_off", row),
            "created": g(c, "created", row),
            "currency": g(c, "currency", row),
            "duration": g(c, "duration", row),
            "duration_in_months": g(c, "duration_in_months", row),
            "livemode": False,
            "max_redemptions": None,
            "metadata": {},
            "name": g(c, "name", row),
            "percent_off": g(c, "percent_off", row),
            "redeem_by": None,
            "times_redeemed": self.redeemed.get(coupon_id, 0),
            "valid": bool(g(c, "valid", row)),
        }

    def discount(self, row: int) -> dict[str, Any]:
        d, g = self.discounts, self.get
        coupon_id = g(d, "coupon", row)
        coupon_row = self.row(self.coupons, coupon_id)
        repeating = coupon_row is not None and self.get(self.coupons, "duration", coupon_row) == "repeating"
        return {
            "id": g(d, "id", row),
            "object": "discount",
            "checkout_session": None,
            "customer": g(d, "customer", row),
            "customer_account": None,
            "end": g(d, "end", row) if repeating else None,  # Stripe: only repeating coupons end
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "source": {"coupon": coupon_id, "type": "coupon"},
            "start": g(d, "start", row),
            "subscription": g(d, "subscription", row),
            "subscription_item": None,
        }

    def subscription_item(self, row: int) -> dict[str, Any]:
        i, g = self.items, self.get
        price_row = self.row(self.prices, g(i, "price", row))
        return {
            "id": g(i, "id", row),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": g(i, "created", row),
            "current_period_end": g(i, "current_period_end", row),
            "current_period_start": g(i, "current_period_start", row),
            "discounts": [],
            "metadata": {},
            "plan": self.plan(price_row) if price_row is not None else None,
            "price": self.price(price_row) if price_row is not None else None,
            "quantity": g(i, "quantity", row),
            "subscription": g(i, "subscription", row),
            "tax_rates": [],
        }

    def active_discounts(self, ids_json: str | None) -> list[str]:
        """Discounts still applying at the cut-off (an ended repeating discount leaves its subscription)."""
        out = []
        for discount_id in loads(ids_json or "[]"):
            row = self.row(self.discounts, discount_id)
            if row is None:
                continue
            end = self.discount(row)["end"]
            if end is None or end > self.cutoff:
                out.append(discount_id)
        return out

    def subscription(self, row: int) -> dict[str, Any]:
        s, g = self.subscriptions, self.get
        sub_id = g(s, "id", row)
        item_rows = self.items_by_sub.rows(sub_id)
        reason = g(s, "cancellation_reason", row)
        currency = g(s, "currency", row)
        return {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": g(s, "billing_cycle_anchor", row),
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic"},
            "billing_thresholds": None,
            "cancel_at": g(s, "cancel_at", row),
            "cancel_at_period_end": bool(g(s, "cancel_at_period_end", row)),
            "canceled_at": g(s, "canceled_at", row),
            "cancellation_details": {"comment": None, "feedback": None, "reason": reason},
            "collection_method": g(s, "collection_method", row),
            "created": g(s, "created", row),
            "currency": currency,
            "customer": g(s, "customer", row),
            "customer_account": None,
            "days_until_due": None,
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": self.active_discounts(g(s, "discount_ids", row) if "discount_ids" in s else None),
            "ended_at": g(s, "ended_at", row),
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [self.subscription_item(int(r)) for r in item_rows],
                "has_more": False,
                "total_count": len(item_rows),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": g(s, "latest_invoice", row),
            "livemode": False,
            "metadata": {},
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": g(s, "start_date", row),
            "status": g(s, "status", row),
            "test_clock": None,
            "transfer_data": None,
            "trial_end": g(s, "trial_end", row),
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": g(s, "trial_start", row),
        }

    def line(self, row: int) -> dict[str, Any]:
        ln, g = self.lines, self.get
        amount, currency = g(ln, "amount", row), g(ln, "currency", row)
        discounts = loads(g(ln, "discount_amounts", row) or "[]")
        tax = g(ln, "tax_amount", row) or 0
        proration = bool(g(ln, "proration", row))
        if g(ln, "parent_type", row) == "invoice_item_details":
            parent = {
                "invoice_item_details": {
                    "invoice_item": g(ln, "invoice_item", row),
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": g(ln, "subscription", row),
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            }
        else:
            parent = {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": g(ln, "invoice_item", row),
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": g(ln, "subscription", row),
                    "subscription_item": g(ln, "subscription_item", row),
                },
                "type": "subscription_item_details",
            }
        taxes = []
        if currency in TAX_RATE_PERCENT:
            taxes = [
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": tax_rate_id(currency)},
                    "taxability_reason": "standard_rated",
                    "taxable_amount": amount - sum(d["amount"] for d in discounts),
                    "type": "tax_rate_details",
                }
            ]
        return {
            "id": g(ln, "id", row),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": g(ln, "description", row),
            "discount_amounts": discounts,
            "discountable": True,
            "discounts": [],
            "invoice": g(ln, "invoice", row),
            "livemode": False,
            "metadata": {},
            "parent": parent,
            "period": {"end": g(ln, "period_end", row), "start": g(ln, "period_start", row)},
            "pretax_credit_amounts": [
                {
                    "amount": d["amount"],
                    "credit_balance_transaction": None,
                    "discount": d["discount"],
                    "type": "discount",
                }
                for d in discounts
            ],
            "pricing": {
                "price_details": {"price": g(ln, "price", row), "product": g(ln, "product", row)},
                "type": "price_details",
                "unit_amount_decimal": g(ln, "unit_amount_decimal", row),
            },
            "quantity": g(ln, "quantity", row),
            "subscription": g(ln, "subscription", row),
            "subtotal": amount,
            "taxes": taxes,
        }

    def invoice(self, row: int) -> dict[str, Any]:
        v, g = self.invoices, self.get
        invoice_id, status, currency = g(v, "id", row), g(v, "status", row), g(v, "currency", row)
        line_rows = self.lines_by_invoice.rows(invoice_id)
        lines = [self.line(int(r)) for r in line_rows]
        discount_totals: dict[str, int] = {}
        tax_totals: dict[str, dict[str, Any]] = {}
        for line in lines:
            for d in line["discount_amounts"]:
                discount_totals[d["discount"]] = discount_totals.get(d["discount"], 0) + d["amount"]
            for tax in line["taxes"]:
                rate = tax["tax_rate_details"]["tax_rate"]
                total = tax_totals.setdefault(rate, {**tax, "amount": 0, "taxable_amount": 0})
                total["amount"] += tax["amount"]
                total["taxable_amount"] += tax["taxable_amount"]
        customer_row = self.row(self.customers, g(v, "customer", row))
        customer = self.customer(customer_row) if customer_row is not None else {}
        finalized = g(v, "finalized_at", row)
        tax = g(v, "tax", row) or 0
        total = g(v, "total", row)
        return {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Acme Analytics",
            "account_tax_ids": None,
            "amount_due": g(v, "amount_due", row),
            "amount_overpaid": 0,
            "amount_paid": g(v, "amount_paid", row),
            "amount_remaining": g(v, "amount_remaining", row),
            "amount_shipping": 0,
            "application": None,
            "attempt_count": g(v, "attempt_count", row),
            "attempted": (g(v, "attempt_count", row) or 0) > 0,
            "auto_advance": status in ("draft", "open"),
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": g(v, "billing_reason", row),
            "collection_method": "charge_automatically",
            "created": g(v, "created", row),
            "currency": currency,
            "custom_fields": None,
            "customer": g(v, "customer", row),
            "customer_account": None,
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": list(discount_totals),
            "due_date": g(v, "due_date", row),
            "effective_at": finalized,
            "ending_balance": 0 if finalized else None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_sandbox/{invoice_id}" if finalized else None,
            "invoice_pdf": f"https://pay.stripe.com/invoice/acct_sandbox/{invoice_id}/pdf" if finalized else None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines[:10],
                "has_more": len(lines) > 10,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": g(v, "number", row) if status != "draft" else None,
            "on_behalf_of": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": {},
                        "subscription": g(v, "subscription", row),
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                }
                if g(v, "subscription", row)
                else None
            ),
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": g(v, "period_end", row),
            "period_start": g(v, "period_start", row),
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": status,
            "status_transitions": {
                "finalized_at": finalized,
                "marked_uncollectible_at": g(v, "marked_uncollectible_at", row),
                "paid_at": g(v, "paid_at", row),
                "voided_at": g(v, "voided_at", row),
            },
            "subtotal": g(v, "subtotal", row),
            "subtotal_excluding_tax": g(v, "subtotal", row),
            "test_clock": None,
            "total": total,
            "total_discount_amounts": [{"amount": a, "discount": d} for d, a in discount_totals.items()],
            "total_excluding_tax": total - tax,
            "total_pretax_credit_amounts": [
                {"amount": a, "credit_balance_transaction": None, "discount": d, "type": "discount"}
                for d, a in discount_totals.items()
            ],
            "total_taxes": list(tax_totals.values()),
            "webhooks_delivered_at": g(v, "created", row),
        }

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
