"""Stripe-compatible endpoints under `/stripe` (`/v1/...`): lists, single objects, invoice lines, events.

List semantics mirrored: newest first (created desc), `limit` 1..100 (default 10), `starting_after` /
`ending_before` object-id cursors, `created` as an integer or `created[gt|gte|lt|lt]`, `expand[]`, unknown
parameters rejected (`parameter_unknown`), `{"object": "list", "url", "has_more", "data"}` envelopes; errors
as `{"error": {"type", "code", "message", "param", "doc_url"}}`, every response with a `Request-Id` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from sandbox.server.common import ApiError, Query, basic_user, bearer_token, parse_int, request_id
from sandbox.server.faults import VendorFaults
from sandbox.server.store import Table, World
from sandbox.server.stripe_render import EVENT_RETENTION_SECONDS, STRIPE_API_VERSION, StripeData, stripe_data
from sandbox.server.vendor import Ctx, Vendor

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


class StripeError(ApiError):
    """Stripe's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, headers)
        self.message, self.type, self.code, self.param = message, type_, code, param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error["type"] = self.type
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def invalid_integer(param: str, value: str) -> StripeError:
    return StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)


class StripeApi(Vendor):
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
        return {"Request-Id": request_id(), "Stripe-Version": STRIPE_API_VERSION}

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
        routes = [r("/v1/invoices/{id}/lines", self.invoice_lines, ["GET"])]
        for plural, kind in lists:
            routes.append(r(f"/v1/{plural}", self._lister(plural), ["GET"]))
            routes.append(r(f"/v1/{plural}/{{id}}", self._getter(kind), ["GET"]))
        return [*routes, self.fallback()]

    # -------------------------------------------------------------------------------------------- parameters
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
            return [StripeApi._expand_value(data, target, v) for v in value]
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
                items.append(self.finish(ctx, data, obj, expansions))
        return {"object": "list", "data": items, "has_more": has_more, "url": f"/v1/{plural}"}

    @staticmethod
    def window(
        q: Query, ordered: np.ndarray, rank: np.ndarray, row_of: Callable[[str], int | None], kind: str
    ) -> tuple[np.ndarray, bool]:
        """The page of `ordered` (rows in list order) after/before the cursor objects, and has_more."""
        limit = StripeApi.limit(q)
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

    # ---------------------------------------------------------------------------------------------- filters
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

    # ---------------------------------------------------------------------------------------------- objects
    def get_object(self, ctx: Ctx, kind: str) -> dict[str, Any]:
        self.check_params(ctx.query, {"expand"})
        data = stripe_data(ctx.world)
        object_id = ctx.params["id"]
        obj = data.render(kind, object_id)
        if kind == "event" and obj is not None and obj["created"] < data.cutoff - EVENT_RETENTION_SECONDS:
            obj = None  # past Stripe's 30-day event retention
        if obj is None:
            raise missing(kind.replace("_", " "), object_id)
        return self.finish(ctx, data, obj, self.expansions(ctx.query, ""))

    def invoice_lines(self, ctx: Ctx) -> dict[str, Any]:
        q = ctx.query
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
        items = [self.finish(ctx, data, data.line(int(r)), expansions) for r in page]
        return {
            "object": "list",
            "data": items,
            "has_more": has_more,
            "url": f"/v1/invoices/{invoice_id}/lines",
        }
