"""Stripe API versions: which version a request is answered in, and the shapes of versions before 2025-03-31.

Stripe renders every response in one API version: the request's `Stripe-Version` header when it sends one, else
the account's default version (set when the account was created, here the manifest's `stripe_api_version`), and
echoes the version back in the `Stripe-Version` response header. Events carry it as `api_version`.

The objects are rendered in the current shapes (api_objects.py) and turned into the older ones here. The change
that matters to a loader is 2025-03-31 ("basil"): before it, `current_period_start/end` sat on the subscription,
not on its items; an invoice named its subscription at the top level (`subscription`), not under
`parent.subscription_details`; an invoice line carried a full `price` (and `plan`), `proration`, `subscription`,
`subscription_item` and `type` at the top level instead of `pricing.price_details` and `parent`; a discount named
its coupon as a full `coupon` object instead of `source.coupon`; subscriptions and invoices also carried the single
`discount` object next to the `discounts` list; taxes were `tax_amounts` / `total_tax_amounts`.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from sandbox.server.stripe.errors import StripeError

CURRENT_VERSION = "2026-10-28.endive"  # stripe-python 16.1.0's `stripe.api_version`
BASIL = "2025-03-31"  # the first version with the current billing shapes
VERSION_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$")


def requested_version(request: Request, account_default: str) -> str:
    """The version this request is answered in; an unknown or future version is Stripe's 400."""
    version = request.headers.get("stripe-version", "").strip() or account_default
    match = VERSION_PATTERN.match(version)
    if not match or match.group(1) > CURRENT_VERSION[:10] or match.group(1) < "2011-01-01":
        raise StripeError(400, f"Invalid Stripe API version: {version}", param=None)
    return version


def echoed_version(request: Request, account_default: str) -> str:
    """The `Stripe-Version` response header: the version used, or the account's when the requested one is invalid."""
    try:
        return requested_version(request, account_default)
    except StripeError:
        return account_default


def is_legacy(version: str) -> bool:
    return version[:10] < BASIL


class LegacyShapes:
    """Turns current-version objects into the shapes of versions before 2025-03-31. Mixed into StripeApi; `data`
    is the StripeData the objects were rendered from (full prices, discounts and coupons are looked up there)."""

    def in_version(self, data: Any, obj: Any, version: str) -> Any:
        if not is_legacy(version):
            if isinstance(obj, dict) and obj.get("object") == "event":
                obj["api_version"] = version
            return obj
        return self._legacy(data, obj, version)

    def _legacy(self, data: Any, obj: Any, version: str) -> Any:
        if isinstance(obj, list):
            return [self._legacy(data, item, version) for item in obj]
        if not isinstance(obj, dict):
            return obj
        if obj.get("object") == "event":  # before its previous items lose their periods below
            self._legacy_previous(obj, version)
        for key, value in list(obj.items()):
            if isinstance(value, dict | list):
                obj[key] = self._legacy(data, value, version)
        convert = getattr(self, f"_legacy_{obj.get('object')}", None)
        if convert is None:
            return obj
        return convert(data, obj, version)

    def _legacy_discount_object(self, data: Any, discount_id: Any) -> dict[str, Any] | None:
        if isinstance(discount_id, dict):
            return discount_id
        discount = data.render("discount", discount_id) if isinstance(discount_id, str) else None
        return self._legacy_discount(data, discount, "") if discount else None

    def _legacy_discount(self, data: Any, obj: dict[str, Any], version: str) -> dict[str, Any]:
        source = obj.pop("source", None) or {}
        coupon = source.get("coupon")
        if isinstance(coupon, str):
            coupon = data.render("coupon", coupon) or coupon
        obj["coupon"] = coupon
        obj.pop("customer_account", None)
        return obj

    def _legacy_subscription_item(self, data: Any, obj: dict[str, Any], version: str) -> dict[str, Any]:
        obj.pop("current_period_start", None)
        obj.pop("current_period_end", None)
        return obj

    def _legacy_subscription(self, data: Any, obj: dict[str, Any], version: str) -> dict[str, Any]:
        sub_id = obj["id"]
        item_rows = data.items_by_sub.rows(sub_id)
        first = int(item_rows[0]) if len(item_rows) else None
        period = (
            (data.get(data.items, "current_period_start", first), data.get(data.items, "current_period_end", first))
            if first is not None
            else (obj.get("start_date"), None)
        )
        obj["current_period_start"], obj["current_period_end"] = period
        discounts = obj.get("discounts") or []
        obj["discount"] = self._legacy_discount_object(data, discounts[0]) if discounts else None
        items = (obj.get("items") or {}).get("data") or []
        obj["plan"] = items[0].get("plan") if len(items) == 1 else None
        obj["quantity"] = items[0].get("quantity") if len(items) == 1 else None
        for key in ("billing_mode", "customer_account"):
            obj.pop(key, None)
        return obj

    def _legacy_invoice(self, data: Any, obj: dict[str, Any], version: str) -> dict[str, Any]:
        parent = obj.pop("parent", None) or {}
        obj["subscription"] = (parent.get("subscription_details") or {}).get("subscription")
        obj["subscription_details"] = {"metadata": {}} if obj["subscription"] else None
        discounts = obj.get("discounts") or []
        obj["discount"] = self._legacy_discount_object(data, discounts[0]) if discounts else None
        taxes = obj.pop("total_taxes", None) or []
        obj["total_tax_amounts"] = [self._tax_amount(t) for t in taxes]
        obj["tax"] = sum(t["amount"] for t in taxes) if taxes else None
        obj["paid"] = obj.get("status") == "paid"
        obj["paid_out_of_band"] = False
        for key in ("total_pretax_credit_amounts", "customer_account", "amount_overpaid"):
            obj.pop(key, None)
        return obj

    def _legacy_line_item(self, data: Any, obj: dict[str, Any], version: str) -> dict[str, Any]:
        parent = obj.pop("parent", None) or {}
        details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
        pricing = obj.pop("pricing", None) or {}
        price = (pricing.get("price_details") or {}).get("price")
        if isinstance(price, str):
            row = data.row(data.prices, price)
            price, plan = (data.price(row), data.plan(row)) if row is not None else (price, None)
        else:
            plan = None
        taxes = obj.pop("taxes", None) or []
        obj.pop("pretax_credit_amounts", None)
        quantity = obj.get("quantity") or 0
        obj.update(
            {
                "amount_excluding_tax": obj["amount"],
                "invoice_item": details.get("invoice_item"),
                "plan": plan,
                "price": price,
                "proration": bool(details.get("proration")),
                "proration_details": details.get("proration_details") or {"credit_from_invoice_item_details": None},
                "subscription": details.get("subscription", obj.get("subscription")),
                "subscription_item": details.get("subscription_item"),
                "tax_amounts": [self._tax_amount(t) for t in taxes],
                "tax_rates": [],
                "type": "subscription" if parent.get("type") == "subscription_item_details" else "invoiceitem",
                "unit_amount_excluding_tax": pricing.get("unit_amount_decimal")
                or (str(obj["amount"] // quantity) if quantity else None),
            }
        )
        obj.pop("subtotal", None)
        return obj

    @staticmethod
    def _legacy_previous(obj: dict[str, Any], version: str) -> None:
        obj["api_version"] = version
        previous = (obj.get("data") or {}).get("previous_attributes") or {}
        first = ((previous.get("items") or {}).get("data") or [{}])[0]
        for key in ("current_period_start", "current_period_end"):
            if key in first:  # the period moved back onto the subscription
                previous[key] = first.pop(key)

    @staticmethod
    def _tax_amount(tax: dict[str, Any]) -> dict[str, Any]:
        return {
            "amount": tax["amount"],
            "inclusive": tax.get("tax_behavior") == "inclusive",
            "tax_rate": (tax.get("tax_rate_details") or {}).get("tax_rate"),
            "taxability_reason": tax.get("taxability_reason"),
            "taxable_amount": tax.get("taxable_amount"),
        }
