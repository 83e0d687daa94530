"""Stripe API objects of customers and the catalogue: customer, product, price, plan, coupon, discount."""

from __future__ import annotations

import hashlib
from typing import Any

TAX_RATE_PERCENT = {"eur": 20.0, "gbp": 20.0}


def tax_rate_id(currency: str) -> str:
    return "txr_" + hashlib.sha1(f"vat:{currency}".encode()).hexdigest()[:14]


class CatalogueObjects:
    """Renderers of StripeData (api_objects.py), which holds the tables and lookups they read."""

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
