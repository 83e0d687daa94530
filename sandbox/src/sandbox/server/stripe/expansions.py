"""`expand[]`: ids replaced by the objects they name, on the paths Stripe allows, and the malformed-rows fault on
served objects."""

from __future__ import annotations

from typing import Any

from sandbox.server.common import Query
from sandbox.server.faults import VendorFaults
from sandbox.server.stripe.api_objects import StripeData
from sandbox.server.stripe.errors import StripeError
from sandbox.server.vendor import Ctx

# Expandable fields: (object, path) -> object kind rendered in place of the id(s).
EXPANDABLE: dict[tuple[str, tuple[str, ...]], str] = {
    ("subscription", ("customer",)): "customer",
    ("subscription", ("latest_invoice",)): "invoice",
    ("subscription", ("discounts",)): "discount",
    ("subscription_item", ("price",)): "price",
    ("invoice", ("customer",)): "customer",
    ("invoice", ("discounts",)): "discount",
    ("invoice", ("parent", "subscription_details", "subscription")): "subscription",
    ("line_item", ("subscription",)): "subscription",
    ("line_item", ("pricing", "price_details", "price")): "price",
    ("line_item", ("parent", "subscription_item_details", "subscription")): "subscription",
    ("line_item", ("discount_amounts", "discount")): "discount",
    ("discount", ("customer",)): "customer",
    ("discount", ("source", "coupon")): "coupon",
    ("price", ("product",)): "product",
    ("product", ("default_price",)): "price",
}


class StripeExpansions:
    """Expansion and the last touches (faults) on every object served."""

    def expansions(self, query: Query, prefix: str) -> list[list[str]]:
        out = []
        for path in query.bracket_list("expand"):
            parts = path.split(".")
            if prefix:
                if parts[0] != prefix:
                    raise StripeError(
                        400,
                        f"This property cannot be expanded ({path}). You may want to try "
                        f"expanding 'data.{path}' instead.",
                        param="expand",
                    )
                parts = parts[1:]
            if not parts or len(parts) > 4 + (1 if prefix else 0):
                raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
            out.append(parts)
        return out

    def expand(self, data: StripeData, obj: Any, parts: list[str], full: str) -> Any:
        """Replace ids by objects along `parts` (Stripe's `expand[]`); full objects stay as they are."""
        if isinstance(obj, list):
            return [self.expand(data, item, parts, full) for item in obj]
        if not isinstance(obj, dict) or not parts:
            return obj
        kind = obj.get("object")
        if kind == "list" and parts[0] == "data":
            obj["data"] = [self.expand(data, item, parts[1:], full) for item in obj["data"]]
            return obj
        for (owner, path), target in EXPANDABLE.items():
            if owner != kind or tuple(parts[: len(path)]) != path:
                continue
            holder = obj
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
                if isinstance(holder, list):  # e.g. discount_amounts[].discount
                    for element in holder:
                        element[path[-1]] = self._expand_value(data, target, element.get(path[-1]))
                    return obj
                if holder is None:
                    return obj
            holder[path[-1]] = self._expand_value(data, target, holder.get(path[-1]))
            if len(parts) > len(path):
                holder[path[-1]] = self.expand(data, holder[path[-1]], parts[len(path) :], full)
            return obj
        if parts[0] in obj and isinstance(obj[parts[0]], dict | list):  # walk into nested lists (items.data...)
            obj[parts[0]] = self.expand(data, obj[parts[0]], parts[1:], full)
            return obj
        raise StripeError(400, f"This property cannot be expanded ({full}).", param="expand")

    @staticmethod
    def _expand_value(data: StripeData, target: str, value: Any) -> Any:
        if isinstance(value, list):
            return [StripeExpansions._expand_value(data, target, v) for v in value]
        if isinstance(value, str):
            return data.render(target, value) or value
        return value

    def finish(self, ctx: Ctx, data: StripeData, obj: dict[str, Any], expansions: list[list[str]]) -> dict[str, Any]:
        for parts in expansions:
            obj = self.expand(data, obj, parts, ".".join(parts))
        self._corrupt(ctx.faults, obj)
        return obj

    @staticmethod
    def _corrupt(faults: VendorFaults, obj: dict[str, Any]) -> None:
        """The malformed-rows fault: a deterministic fraction of served objects get one bad field."""
        if faults.malformed_fraction <= 0 or "id" not in obj:
            return
        kinds = {
            "subscription": ("quantity", "id"),
            "invoice": ("amount_due", "currency", "id"),
            "customer": ("currency", "created", "id"),
            "event": ("id",),
        }.get(obj.get("object"), ("created", "id"))
        kind = faults.corruption(obj["id"], kinds)
        if kind == "id":
            del obj["id"]
        elif kind == "quantity" and obj.get("items", {}).get("data"):
            item = obj["items"]["data"][0]
            item["quantity"] = -abs(item.get("quantity") or 1)
        elif kind == "amount_due" and "amount_due" in obj:
            obj["amount_due"] = f"{(obj['amount_due'] or 0) / 100:.2f}"
        elif kind == "currency" and isinstance(obj.get("currency"), str):
            obj["currency"] = obj["currency"].upper()
        elif kind == "created" and "created" in obj:
            obj["created"] = "2026-01-01T00:00:00Z"
        elif kind and kind in obj:
            obj[kind] = None
