"""Every Stripe exchange of a full load, validated against stripe-python's typed objects for the pinned API version
(the SDK is generated from Stripe's OpenAPI specification): each response converted by the SDK itself
(`convert_to_stripe_object`, API mode V1) and every field checked against the typed class's annotations; the
fields the product reads must be present; each request's query parameters must be ones the SDK's typed
`<Resource>ListParams` / `RetrieveParams` declare, with values of the declared kind, and pin the SDK's version."""

from __future__ import annotations

import re
from typing import Any

import stripe
import stripe.params
from stripe._util import convert_to_stripe_object

from ingestion.stripe import STRIPE_API_VERSION as API_VERSION
from tests.contracts.recorder import of_vendor
from tests.contracts.shares import Checked, Deviation, report, unexplained
from tests.contracts.stripe_types import object_problems

KNOWN_DEVIATIONS: list[Deviation] = []

# Fields the product (ingestion/stripe.py and the stripe staging models) reads, by object type; "[]" walks a list.
PRODUCT_READS: dict[str, list[str]] = {
    "customer": ["id", "created", "email", "metadata", "address", "deleted"],
    "subscription": [
        "id",
        "customer",
        "status",
        "created",
        "cancel_at",
        "canceled_at",
        "ended_at",
        "cancellation_details.reason",
        "discounts",
        "items.data[].id",
        "items.data[].price.id",
        "items.data[].quantity",
        "items.data[].current_period_start",
        "items.data[].current_period_end",
    ],
    "invoice": [
        "id",
        "customer",
        "status",
        "total",
        "discounts",
        "parent.subscription_details.subscription",
        "status_transitions.paid_at",
        "lines.data[].amount",
        "lines.data[].period.start",
        "lines.data[].period.end",
        "lines.data[].pricing.price_details.price",
        "lines.data[].pricing.price_details.product",
        "lines.data[].parent.subscription_item_details.subscription",
        "lines.data[].parent.subscription_item_details.subscription_item",
        "lines.data[].parent.subscription_item_details.proration",
        "lines.data[].discount_amounts",
    ],
    "price": ["id", "product", "unit_amount", "currency", "recurring.interval", "recurring.interval_count"],
    "product": ["id", "name"],
    "coupon": ["id", "percent_off", "amount_off", "duration", "valid"],
    "event": ["id", "type", "created", "data.object"],
}
OPTIONAL_READS = {"deleted"}  # present only on deleted objects


def missing(obj: Any, path: str, where: str) -> list[str]:
    """Problems for a field the product reads that the response does not carry (null is a value, not missing)."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = obj.get(head[:-2]) if isinstance(obj, dict) else None
        if not isinstance(items, list):
            return [f"{where}.{head[:-2]}: missing (the product reads {path})"]
        return [p for i, item in enumerate(items) for p in missing(item, rest, f"{where}.{head[:-2]}[{i}]")]
    if not isinstance(obj, dict) or head not in obj:
        return [] if head in OPTIONAL_READS or obj is None else [f"{where}.{head}: missing (the product reads it)"]
    return missing(obj[head], rest, f"{where}.{head}") if rest else []


def response_problems(body: dict[str, Any], path: str) -> list[str]:
    typed = convert_to_stripe_object(body, "sk_contract", API_VERSION, api_mode="V1")
    pairs = list(zip(body["data"], typed.data, strict=True)) if body.get("object") == "list" else [(body, typed)]
    out = []
    for i, (raw, obj) in enumerate(pairs):
        where = f"{path}[{i}]"
        if type(obj) is stripe.StripeObject:
            out.append(f"{where}: the SDK knows no class for object {raw.get('object')!r}")
            continue
        out += object_problems(raw, type(obj), where)
        for field in PRODUCT_READS.get(raw.get("object"), []):
            out += missing(raw, field, where)
    return out


def _params_class(path: str) -> type:
    parts = path.strip("/").split("/")  # v1/<resource>[/<id>], or v1/account (the key's own account)
    if parts[1] == "account":
        return stripe.params.AccountRetrieveParams
    resource = {"customers": "Customer", "subscriptions": "Subscription", "invoices": "Invoice"}.get(parts[1])
    resource = resource or parts[1][:-1].capitalize()
    return getattr(stripe.params, f"{resource}{'ListParams' if len(parts) == 2 else 'RetrieveParams'}")


def request_problems(exchange) -> list[str]:
    out = []
    if exchange.headers.get("Stripe-Version") != stripe.api_version:
        out.append(f"Stripe-Version {exchange.headers.get('Stripe-Version')!r}, the SDK pins {stripe.api_version}")
    params = _params_class(exchange.path)
    declared = params.__annotations__
    for key, values in exchange.query.items():
        top, sub = re.fullmatch(r"([a-z_]+)(?:\[([a-z_]*)\])?", key).groups()
        if top not in declared:
            out.append(f"{key}: not a parameter of stripe.params.{params.__name__}")
            continue
        nested = getattr(stripe.params, f"{params.__name__}{top.title().replace('_', '')}", None)
        if sub and nested is not None and sub not in nested.__annotations__:
            out.append(f"{key}: {sub!r} is not a key of stripe.params.{nested.__name__}")
        if top in ("limit", "created") and not all(v.isdigit() for v in values):
            out.append(f"{key}: expected an integer, got {values}")
        if top == "limit" and not all(1 <= int(v) <= 100 for v in values if v.isdigit()):
            out.append(f"{key}: {values} outside 1..100")
        if top == "status":
            allowed = re.findall(r"'([a-z_]+)'", str(declared["status"]))
            out += [f"status: {v!r} is not one of {allowed}" for v in values if v not in allowed]
    return out


def checked(recorded) -> list[Checked]:
    out = []
    for exchange in of_vendor(recorded, "stripe"):
        assert exchange.status == 200, f"{exchange.endpoint} answered {exchange.status}"
        endpoint = re.sub(r"/v1/(\w+)/\w+_\w+$", r"/v1/\1/{id}", exchange.path)
        out.append(Checked(f"GET {endpoint}", "request", tuple(request_problems(exchange))))
        out.append(Checked(f"GET {endpoint}", "response", tuple(response_problems(exchange.response_body, endpoint))))
    return out


def test_every_stripe_exchange_validates_against_the_typed_sdk(recorded, record_property):
    assert stripe.api_version == API_VERSION, "the product pins another Stripe version than the installed SDK"
    results = checked(recorded)
    report("Stripe", results, KNOWN_DEVIATIONS, record_property)
    failures = unexplained(results, KNOWN_DEVIATIONS)
    assert not failures, "\n".join(failures)


def test_the_product_reads_every_object_type_it_declares(recorded):
    """Every object type in PRODUCT_READS was served at least once, so its reads were really checked."""
    served = {
        item.get("object")
        for e in of_vendor(recorded, "stripe")
        for item in (e.response_body.get("data") if e.response_body.get("object") == "list" else [e.response_body])
    }
    assert set(PRODUCT_READS) <= served, set(PRODUCT_READS) - served
