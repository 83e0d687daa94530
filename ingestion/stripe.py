"""Stripe API v1 (secret key): customers, subscriptions (status=all, items, prices, discounts), invoices with all
their lines, coupons, prices and products.

New objects come incrementally by `created[gte]`; changes to older objects come from `/v1/events`: each changed
object is re-read by id, so what lands is its current state (an event's snapshot may be older than the list's).
Amounts stay integer minor units beside their currency; dbt converts them.

API version (FACTS): Stripe answers every request in the account's default API version unless the request sends a
`Stripe-Version` header, and an account keeps the version of the day it was opened until someone upgrades it. The
2025-03-31 ("basil") version moved `current_period_start/end` from the subscription to its items, and the invoice
line's `price` / `subscription` / `proration` under `pricing.price_details` / `parent.subscription_item_details`;
the discount's coupon moved under `source.coupon`. So every request pins `STRIPE_API_VERSION` (stripe-python
16.1.0's `stripe.api_version`), overridable with `SOURCES__STRIPE__API_VERSION`, and every loaded object records
the version Stripe rendered it in (`_stripe_api_version`, from the `Stripe-Version` response header): the staging
models read both shapes and fail, naming the version, on a shape they do not understand.

Deletes (Stripe's own behaviour): a deleted customer leaves `GET /v1/customers` and its retrieve answers only
`{"id", "object": "customer", "deleted": true}`; its last state travels in the `customer.deleted` event (kept 30
days). So a deletion is loaded from that event, read by id: the customer's row, merged over the live one, with
`deleted` true and `deleted_at` (the event's time) — a stub is never merged over a customer (it would erase its
account id). The first run reads the deletions Stripe still keeps too. A customer deleted before that leaves its
subscriptions (metadata.account_id) and invoices behind: staging knows it from them. A deleted coupon leaves the
API but stays in the discounts that redeemed it: discounts are loaded with their coupon expanded
(`discounts.source.coupon`; before 2025-03-31 Stripe embedded the whole coupon anyway). Archived prices
(`active: false`) are still listed and still billed to the subscriptions on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from requests import Response

from ingestion.contracts import FROZEN_TYPES, contract
from ingestion.http import LastItemCursorPaginator, vendor_client
from ingestion.quarantine import quarantined
from ingestion.rate_limit import Limit, RateLimiter, stripe_requests_per_second

SOURCE = "stripe"
STRIPE_API_VERSION = "2026-10-28.endive"
VERSION_COLUMN = "_stripe_api_version"
TOKEN_VARIABLE = "SOURCES__STRIPE__API_KEY"
PAGE = 100
# Which events mean which object changed, and the table that object lives in.
CUSTOMER_DELETED = "customer.deleted"
EVENT_OBJECTS = {
    "customer.updated": ("customers", "/v1/customers"),
    CUSTOMER_DELETED: ("customers", "/v1/events"),  # the customer's last state is in the event, read by event id
    "customer.subscription.updated": ("subscriptions", "/v1/subscriptions"),
    "customer.subscription.deleted": ("subscriptions", "/v1/subscriptions"),
    "customer.subscription.paused": ("subscriptions", "/v1/subscriptions"),
    "customer.subscription.resumed": ("subscriptions", "/v1/subscriptions"),
    "invoice.updated": ("invoices", "/v1/invoices"),
    "invoice.finalized": ("invoices", "/v1/invoices"),
    "invoice.paid": ("invoices", "/v1/invoices"),
    "invoice.payment_failed": ("invoices", "/v1/invoices"),
    "invoice.voided": ("invoices", "/v1/invoices"),
    "invoice.marked_uncollectible": ("invoices", "/v1/invoices"),
}
DISCOUNTED = ("subscriptions", "invoices")
# The API version that moved a discount's coupon under `source.coupon` (an id, expandable); before it a discount
# embedded its whole coupon.
COUPON_SOURCE_SINCE = "2025-03-31"


def discount_expansions(api_version: str) -> list[str]:
    """What to expand on a subscription or invoice: its discounts, each with its coupon (which may be deleted)."""
    if api_version[:10] >= COUPON_SOURCE_SINCE:
        return ["discounts", "discounts.source.coupon"]
    return ["discounts"]


def stripe_paginator() -> LastItemCursorPaginator:
    return LastItemCursorPaginator(cursor_param="starting_after", item_key="id", has_more_key="has_more")


def check_object(kind: str, obj: dict[str, Any]) -> tuple[str, str] | None:
    """(rule, reason) a Stripe object cannot be loaded, else None: its table's contract (ingestion/contracts.py),
    then the nested items and lines the contract does not reach."""
    declared = contract(SOURCE, kind)
    broken = declared.violation(obj) if declared else None
    if broken:
        return broken
    if kind == "subscriptions":
        for item in (obj.get("items") or {}).get("data") or []:
            quantity = item.get("quantity")
            if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
                return (
                    "item quantity invalid",
                    f"subscription item {item.get('id')} has an invalid quantity {quantity!r}",
                )
    if kind == "invoices":
        for line in (obj.get("lines") or {}).get("data") or []:
            if not isinstance(line.get("amount"), int):
                return "line amount not an integer", (
                    f"invoice line {line.get('id')} has a non-integer amount {line.get('amount')!r}"
                )
    return None


def complete_invoice_lines(client: RESTClient, invoice: dict[str, Any]) -> dict[str, Any]:
    """Invoices embed their first lines only: read the rest from /v1/invoices/{id}/lines."""
    lines = invoice.get("lines") or {}
    if lines.get("has_more"):
        data = []
        for page in client.paginate(
            f"/v1/invoices/{invoice['id']}/lines",
            params={"limit": PAGE},
            paginator=stripe_paginator(),
            data_selector="data",
        ):
            data.extend(page)
        invoice["lines"] = {**lines, "data": data, "has_more": False}
    return invoice


def screened(client: RESTClient, kind: str, objects: list[dict[str, Any]], response: Response) -> Iterator[Any]:
    """Good objects of one response as a list, stamped with the API version Stripe rendered them in; bad ones into
    quarantine; a page whose objects lost a declared field (renamed upstream) fails the load before any of it
    reaches dlt."""
    declared = contract(SOURCE, kind)
    if declared:
        declared.check_drift(objects)
    version = response.headers.get("Stripe-Version") or (client.headers or {}).get("Stripe-Version")
    good = []
    for obj in objects:
        obj[VERSION_COLUMN] = version
        broken = check_object(kind, obj)
        if broken:
            rule, reason = broken
            yield quarantined(obj, SOURCE, kind, reason, rule)
            continue
        good.append(complete_invoice_lines(client, obj) if kind == "invoices" else obj)
    if good:
        yield good


def listed_resource(client: RESTClient, kind: str, params: dict[str, Any], expand: list[str]):
    """New objects of `kind` since the last run (`created[gte]`, so the boundary second is read again)."""

    @dlt.resource(name=kind, primary_key="id", write_disposition="merge")
    def objects(
        created=dlt.sources.incremental("created", initial_value=0, on_cursor_value_missing="include"),
    ) -> Iterator[Any]:
        query = {"limit": PAGE, "created[gte]": created.last_value, **params}
        if expand:
            query["expand[]"] = [f"data.{path}" for path in expand]
        for page in client.paginate(f"/v1/{kind}", params=query, paginator=stripe_paginator(), data_selector="data"):
            yield from screened(client, kind, list(page), page.response)

    return objects


def catalogue_resource(client: RESTClient, kind: str):
    """Small reference lists (coupons, prices, products): read whole every run."""

    @dlt.resource(name=kind, primary_key="id", write_disposition="merge")
    def objects() -> Iterator[Any]:
        for page in client.paginate(
            f"/v1/{kind}", params={"limit": PAGE}, paginator=stripe_paginator(), data_selector="data"
        ):
            yield from screened(client, kind, list(page), page.response)

    return objects


def events_resource(client: RESTClient):
    """The event stream since the last run. On the first run only the newest event is taken, to start the
    cursor: the lists already hold every object's current state."""

    @dlt.resource(name="events", primary_key="id", write_disposition="merge")
    def events(created=dlt.sources.incremental("created", initial_value=None)) -> Iterator[Any]:
        if created.last_value is None:
            params = {"limit": 1}
            response = client.get("/v1/events", params=params)
            response.raise_for_status()
            newest = response.json().get("data") or []
            yield [_event_row(e) for e in newest]
            # The lists hold no deleted customer: the deletions Stripe still keeps (30 days) are all there is.
            query = {"limit": PAGE, "types[]": [CUSTOMER_DELETED]}
            for page in client.paginate("/v1/events", params=query, paginator=stripe_paginator(), data_selector="data"):
                yield [_event_row(e) for e in page]
            return
        query = {"limit": PAGE, "created[gte]": created.last_value, "types[]": sorted(EVENT_OBJECTS)}
        for page in client.paginate("/v1/events", params=query, paginator=stripe_paginator(), data_selector="data"):
            yield [_event_row(e) for e in page]

    return events


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object") or {}
    return {
        "id": event["id"],
        "type": event["type"],
        "created": event["created"],
        "object_id": obj.get("id"),
        "object": obj.get("object"),
    }


def changed_objects_transformer(client: RESTClient, api_version: str):
    """Re-reads every object an event says changed, into that object's own table (current state wins)."""

    @dlt.transformer(name="changed_objects", primary_key="id", write_disposition="merge")
    def changed_objects(events: list[dict[str, Any]]) -> Iterator[Any]:
        seen: set[str] = set()
        for event in sorted(events, key=lambda e: e["type"] != CUSTOMER_DELETED):  # a deletion is the last word
            target = EVENT_OBJECTS.get(event["type"])
            if target is None or not event.get("object_id") or event["object_id"] in seen:
                continue
            seen.add(event["object_id"])
            kind, path = target
            if event["type"] == CUSTOMER_DELETED:
                obj, response = deleted_customer(client, event)
            else:
                params = {"expand[]": discount_expansions(api_version)} if kind in DISCOUNTED else None
                response = client.get(f"{path}/{event['object_id']}", params=params)
                if response.status_code == 404:
                    continue  # deleted since; nothing to refresh
                response.raise_for_status()
                obj = response.json()
                if obj.get("deleted"):
                    continue  # a deleted customer's stub: its deletion event carries the customer
            if obj is None:
                continue  # the deletion event is past Stripe's retention
            for item in screened(client, kind, [obj], response):
                yield dlt.mark.with_table_name(item, kind) if isinstance(item, list) else item

    return changed_objects


def deleted_customer(client: RESTClient, event: dict[str, Any]) -> tuple[dict[str, Any] | None, Response]:
    """The customer as it was when deleted (the event's object), marked `deleted` at the event's time; None once
    Stripe no longer keeps the event."""
    response = client.get(f"/v1/events/{event['id']}")
    if response.status_code == 404:
        return None, response
    response.raise_for_status()
    customer = dict(((response.json().get("data") or {}).get("object")) or {})
    if not customer.get("id"):
        return None, response
    customer.update(deleted=True, deleted_at=event["created"])
    return customer, response


@dlt.source(name="stripe", section="stripe", schema_contract=FROZEN_TYPES)
def stripe_source(
    api_key: str = dlt.secrets.value,
    base_url: str = "https://api.stripe.com",
    requests_per_second: float | None = None,
    api_version: str = STRIPE_API_VERSION,
) -> Any:
    """Stripe billing objects, incremental by creation time plus the event stream for updates. The request rate
    stays under Stripe's read limit (25 per second in test mode, 100 live): by default 20 with a test key, 80 with
    a live one (ingestion/rate_limit.py). Every request pins `api_version`."""
    rate = stripe_requests_per_second(api_key) if requests_per_second is None else requests_per_second
    limiter = RateLimiter(SOURCE, {"default": Limit.per_second(rate)})
    client = vendor_client(SOURCE, base_url, api_key, TOKEN_VARIABLE, limiter=limiter)
    client.headers = {**(client.headers or {}), "Stripe-Version": api_version}
    events = events_resource(client)
    discounts = discount_expansions(api_version)
    return [
        catalogue_resource(client, "products"),
        catalogue_resource(client, "prices"),
        catalogue_resource(client, "coupons"),
        listed_resource(client, "customers", {}, []),
        listed_resource(client, "subscriptions", {"status": "all"}, discounts),
        listed_resource(client, "invoices", {}, discounts),
        events,
        events | changed_objects_transformer(client, api_version),
    ]
