"""Stripe-compatible endpoints under `/stripe` (`/v1/...`): lists, single objects, invoice lines, events.

List semantics mirrored: newest first (created desc), `limit` 1..100 (default 10), `starting_after` /
`ending_before` object-id cursors, `created` as an integer or `created[gt|gte|lt|lt]`, `expand[]`, unknown
parameters rejected (`parameter_unknown`), `{"object": "list", "url", "has_more", "data"}` envelopes; errors
as `{"error": {"type", "code", "message", "param", "doc_url"}}`, every response with a `Request-Id` header.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from sandbox.server.common import ApiError, basic_user, bearer_token, request_id
from sandbox.server.faults import VendorFaults
from sandbox.server.store import World
from sandbox.server.stripe.api_objects import DELETABLE, EVENT_RETENTION_SECONDS, stripe_data
from sandbox.server.stripe.errors import StripeError, missing
from sandbox.server.stripe.expansions import StripeExpansions
from sandbox.server.stripe.filters import StripeFilters
from sandbox.server.stripe.params import LIST_PARAMS
from sandbox.server.stripe.versions import LegacyShapes, echoed_version, requested_version
from sandbox.server.vendor import Ctx, Vendor


class StripeApi(LegacyShapes, StripeFilters, StripeExpansions, Vendor):
    """Stripe's edges (auth, errors, headers), route table, lists and single objects, each answered in the
    request's API version (versions.py)."""

    name = "stripe"

    # ------------------------------------------------------------------------------------------------ edges
    def authenticated(self, request: Request, world: World) -> bool:
        key = bearer_token(request) or basic_user(request)
        return key == world.manifest.tokens["stripe"]

    def unauthorized(self, request: Request) -> ApiError:
        key = bearer_token(request) or basic_user(request)
        headers = {"WWW-Authenticate": 'Basic realm="Stripe"'}
        if not key:
            return StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
                headers=headers,
            )
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "****"
        return StripeError(401, f"Invalid API Key provided: {masked}", headers=headers)

    def rate_limited(self, request: Request, faults: VendorFaults, policy: str) -> ApiError:
        return StripeError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            headers={"Stripe-Should-Retry": "true"},
        )

    def server_error(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Stripe-Should-Retry": "true"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return StripeError(status, "An unknown error occurred", type_="api_error", headers=headers)

    def not_found(self, request: Request) -> ApiError:
        path = request.url.path.removeprefix("/stripe")
        return StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {path}). Please see "
            f"https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def headers(self, request: Request, faults: VendorFaults, status: int) -> dict[str, str]:
        default = request.app.state.sandbox.world().manifest.stripe_api_version
        return {"Request-Id": request_id(), "Stripe-Version": echoed_version(request, default)}

    @staticmethod
    def version(ctx: Ctx) -> str:
        return requested_version(ctx.request, ctx.world.manifest.stripe_api_version)

    def routes(self) -> list[Route]:
        r = self.route
        lists = [
            ("customers", "customer"),
            ("products", "product"),
            ("prices", "price"),
            ("coupons", "coupon"),
            ("subscriptions", "subscription"),
            ("invoices", "invoice"),
            ("events", "event"),
            ("subscription_items", "subscription_item"),
        ]
        routes = [r("/v1/invoices/{id}/lines", self.invoice_lines, ["GET"]), r("/v1/account", self.account, ["GET"])]
        for plural, kind in lists:
            routes.append(r(f"/v1/{plural}", self._lister(plural), ["GET"]))
            routes.append(r(f"/v1/{plural}/{{id}}", self._getter(kind), ["GET"]))
        return [*routes, self.fallback()]

    def account(self, ctx: Ctx) -> dict[str, Any]:
        """`GET /v1/account`: the account the key belongs to (clients record its id as their source's identity)."""
        manifest = ctx.world.manifest
        return {
            "id": manifest.stripe_account_id,
            "object": "account",
            "business_profile": {"name": "Acme Analytics", "url": "https://acme-analytics.example.com"},
            "business_type": "company",
            "charges_enabled": True,
            "country": "US",
            "created": int(datetime.combine(manifest.start_date, datetime.min.time(), UTC).timestamp()),
            "default_currency": "usd",
            "details_submitted": True,
            "email": "billing@acme-analytics.example.com",
            "payouts_enabled": True,
            "type": "standard",
        }

    # -------------------------------------------------------------------------------------------------- lists
    def _lister(self, plural: str) -> Callable[[Ctx], dict[str, Any]]:
        def handler(ctx: Ctx) -> dict[str, Any]:
            return self.list_objects(ctx, plural)

        return handler

    def _getter(self, kind: str) -> Callable[[Ctx], dict[str, Any]]:
        def handler(ctx: Ctx) -> dict[str, Any]:
            return self.get_object(ctx, kind)

        return handler

    def list_objects(self, ctx: Ctx, plural: str) -> dict[str, Any]:
        q = ctx.query
        version = self.version(ctx)
        self.check_params(q, LIST_PARAMS[plural])
        data = stripe_data(ctx.world)
        listing = data.listings[plural]
        table = listing.table
        self.limit(q)  # validated before anything else, as Stripe does
        expansions = self.expansions(q, "data")
        mask = (
            self.range_mask(q, "created", table.col("created").values)
            if "created" in table
            else np.ones(table.n, dtype=bool)
        )
        mask &= getattr(self, f"_filter_{plural}")(q, data) if hasattr(self, f"_filter_{plural}") else True
        if "deleted_at" in table:  # a deleted customer or coupon is never listed again
            mask &= ~table.col("deleted_at").valid
        kind = {
            "customers": "customer",
            "products": "product",
            "prices": "price",
            "coupons": "coupon",
            "subscriptions": "subscription",
            "invoices": "invoice",
            "events": "event",
            "subscription_items": "subscription_item",
        }[plural]
        ordered = listing.order[mask[listing.order]]
        rows, has_more = self.window(q, ordered, listing.rank, lambda object_id: data.row(table, object_id), kind)
        render = getattr(data, kind)
        items = []
        for row in rows:
            obj = render(int(row))
            if obj is not None:
                items.append(self.in_version(data, self.finish(ctx, data, obj, expansions), version))
        return {"object": "list", "data": items, "has_more": has_more, "url": f"/v1/{plural}"}

    # ---------------------------------------------------------------------------------------------- objects
    def get_object(self, ctx: Ctx, kind: str) -> dict[str, Any]:
        version = self.version(ctx)
        self.check_params(ctx.query, {"expand"})
        data = stripe_data(ctx.world)
        object_id = ctx.params["id"]
        if kind in DELETABLE and data.is_deleted(kind, object_id):
            if kind == "customer":  # Stripe keeps answering for a deleted customer, with a stub
                return {"id": object_id, "object": "customer", "deleted": True}
            raise missing(kind, object_id)  # a deleted coupon is gone (its discounts still embed it)
        obj = data.render(kind, object_id)
        if kind == "event" and obj is not None and obj["created"] < data.cutoff - EVENT_RETENTION_SECONDS:
            obj = None  # past Stripe's 30-day event retention
        if obj is None:
            raise missing(kind.replace("_", " "), object_id)
        return self.in_version(data, self.finish(ctx, data, obj, self.expansions(ctx.query, "")), version)

    def invoice_lines(self, ctx: Ctx) -> dict[str, Any]:
        q = ctx.query
        version = self.version(ctx)
        self.check_params(q, LIST_PARAMS["lines"])
        data = stripe_data(ctx.world)
        invoice_id = ctx.params["id"]
        if data.row(data.invoices, invoice_id) is None:
            raise missing("invoice", invoice_id)
        rows = data.lines_by_invoice.rows(invoice_id)
        rank = np.full(data.lines.n, -1, dtype=np.int64)
        rank[rows] = np.arange(len(rows))

        def row_of(line_id: str) -> int | None:
            row = data.row(data.lines, line_id)
            return row if row is not None and rank[row] >= 0 else None

        page, has_more = self.window(q, rows, rank, row_of, "line item")
        expansions = self.expansions(q, "data")
        items = [self.in_version(data, self.finish(ctx, data, data.line(int(r)), expansions), version) for r in page]
        return {
            "object": "list",
            "data": items,
            "has_more": has_more,
            "url": f"/v1/invoices/{invoice_id}/lines",
        }
