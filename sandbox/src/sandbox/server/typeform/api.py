"""Typeform-compatible endpoints under `/typeform`: the NPS form definition and its Responses API.

`GET /forms/{form_id}/responses` pages like Typeform's: `page_size` (1..1000, default 25), `since` / `until`
(ISO-8601 or unix seconds, on `submitted_at`), `before` / `after` response tokens (with `after`, results come
in processing order; the default order is `submitted_at,desc`, which the official client pages with `before`),
`sort`, `completed`, `included_response_ids`, `excluded_response_ids`, `query`, `fields`. Errors are Typeform's
`{"code", "description", "details"}`.

As on Typeform, the most recent responses may not be returned yet: a response is served only once its
`visible_at` (the generator's, up to 48 hours after submission) is before the sandbox's today, and processing
order is the order responses became visible (`visible_at`, then token), not submission order. The
`typeform:late_visibility:off` fault serves every submitted response at once.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from sandbox.server.common import ApiError, bearer_token, iso_seconds, parse_instant_ms, parse_int
from sandbox.server.faults import VendorFaults
from sandbox.server.store import Table, World
from sandbox.server.vendor import Ctx, Vendor

MAX_PAGE_SIZE = 1000


def field_id(form_id: str, ref: str) -> str:
    """Typeform-looking field ids (12 characters), stable per form and ref."""
    return hashlib.sha1(f"{form_id}:{ref}".encode()).hexdigest()[:12]


class TypeformError(ApiError):
    def __init__(
        self,
        status: int,
        code: str,
        description: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, headers)
        self.code, self.description, self.details = code, description, details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "description": self.description}
        if self.details:
            body["details"] = self.details
        return body


def invalid(field: str, description: str) -> TypeformError:
    return TypeformError(
        400,
        "VALIDATION_ERROR",
        "Bad Request",
        [{"code": "INVALID_QUERY_PARAM", "description": description, "field": field, "in": "query"}],
    )


@dataclass
class Responses:
    """The responses of one world render with their processing order (visible_at, then response id), which
    `after` follows, and their submission order (submitted_at, then response id), which sorting and `before`
    follow."""

    table: Table
    order: np.ndarray  # rows in processing order
    rank: np.ndarray  # row -> position in processing order
    submitted_order: np.ndarray  # rows in submission order
    submitted_rank: np.ndarray  # row -> position in submission order
    submitted_s: np.ndarray  # submitted_at truncated to seconds (what is served and filtered on)
    visible: np.ndarray  # processed by the sandbox's today (what Typeform would return)

    @classmethod
    def of(cls, world: World) -> Responses:
        table = world.table("typeform_responses")
        submitted = table.col("submitted_at").values
        processed = table.col("visible_at").values if "visible_at" in table.columns else submitted
        _, id_rank = (
            np.unique(table.col("response_id").values.astype(str), return_inverse=True)
            if table.n
            else (None, np.array([], dtype=np.int64))
        )
        order, submitted_order = np.lexsort((id_rank, processed)), np.lexsort((id_rank, submitted))
        rank, submitted_rank = np.empty(table.n, dtype=np.int64), np.empty(table.n, dtype=np.int64)
        rank[order] = np.arange(table.n)
        submitted_rank[submitted_order] = np.arange(table.n)
        return cls(table, order, rank, submitted_order, submitted_rank, submitted // 1000, processed < world.cutoff_ms)


class TypeformApi(Vendor):
    name = "typeform"

    def authenticated(self, request: Request, world: World) -> bool:
        return bearer_token(request) == world.manifest.tokens["typeform"]

    def unauthorized(self, request: Request) -> ApiError:
        return TypeformError(
            401, "AUTHENTICATION_FAILED", "Authentication credentials not found on the Request Headers"
        )

    def rate_limited(self, request: Request, faults: VendorFaults, policy: str) -> ApiError:
        limit = f" ({faults.window.describe()} requests/seconds)" if faults.window else ""
        return TypeformError(429, "RATE_LIMITED", f"Too many requests: rate limit exceeded{limit}")

    def server_error(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        code = {500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}[status]
        return TypeformError(status, code, "Something went wrong, please try again", headers=headers)

    def not_found(self, request: Request) -> ApiError:
        return TypeformError(404, "NOT_FOUND", f"Endpoint not found: {request.method} {request.url.path}")

    def routes(self) -> list[Route]:
        return [
            self.route("/forms/{form_id}/responses", self.responses, ["GET"]),
            self.route("/forms/{form_id}", self.form, ["GET"]),
            self.fallback(),
        ]

    # ------------------------------------------------------------------------------------------------ form
    @staticmethod
    def _form_id(ctx: Ctx) -> str:
        form_id = ctx.params["form_id"]
        if form_id != ctx.world.manifest.typeform_form_id:
            raise TypeformError(404, "FORM_NOT_FOUND", f"Non existing form with uid {form_id}")
        return form_id

    def form(self, ctx: Ctx) -> dict[str, Any]:
        form_id = self._form_id(ctx)
        created = f"{ctx.world.manifest.start_date.isoformat()}T00:00:00Z"
        return {
            "id": form_id,
            "type": "form",
            "title": "Acme Analytics customer NPS",
            "language": "en",
            "workspace": {"href": "https://api.typeform.com/workspaces/acmecs"},
            "theme": {"href": "https://api.typeform.com/themes/qHWOQ7"},
            "settings": {
                "language": "en",
                "progress_bar": "proportion",
                "meta": {"allow_indexing": False},
                "is_public": True,
                "is_trial": False,
                "show_progress_bar": True,
                "show_typeform_branding": True,
                "are_uploads_public": False,
                "show_time_to_complete": True,
                "hide_navigation": False,
            },
            "hidden": ["account_id", "email"],
            "welcome_screens": [],
            "thankyou_screens": [
                {
                    "id": "DefaultTyScreen",
                    "ref": "default_tys",
                    "title": "Thanks for your feedback!",
                    "type": "thankyou_screen",
                    "properties": {"show_button": False, "share_icons": False},
                }
            ],
            "fields": [
                {
                    "id": field_id(form_id, "nps_score"),
                    "ref": "nps_score",
                    "type": "nps",
                    "title": "How likely are you to recommend Acme Analytics to a friend or colleague?",
                    "properties": {
                        "steps": 11,
                        "start_at_one": False,
                        "labels": {"left": "Not at all likely", "right": "Extremely likely"},
                    },
                    "validations": {"required": True},
                },
                {
                    "id": field_id(form_id, "nps_reason"),
                    "ref": "nps_reason",
                    "type": "long_text",
                    "title": "What is the main reason for your score?",
                    "properties": {},
                    "validations": {"required": False},
                },
            ],
            "created_at": created,
            "last_updated_at": created,
            "published_at": created,
            "_links": {
                "display": f"https://acme.typeform.com/to/{form_id}",
                "responses": f"https://api.typeform.com/forms/{form_id}/responses",
            },
        }

    # ------------------------------------------------------------------------------------------- responses
    def responses(self, ctx: Ctx) -> dict[str, Any]:
        form_id = self._form_id(ctx)
        q = ctx.query
        data: Responses = ctx.world.derive("typeform:responses", Responses.of)
        table = data.table
        page_size = 25
        if q.get("page_size") not in (None, ""):
            page_size = parse_int(q.get("page_size"))
            if page_size is None or not 1 <= page_size <= MAX_PAGE_SIZE:
                raise invalid("page_size", f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}")
        mask = table.col("form_id").values == form_id
        if ctx.faults.late_visibility:
            mask &= data.visible
        for name, compare in (("since", np.greater_equal), ("until", np.less_equal)):
            raw = q.get(name)
            if raw:
                ms = parse_instant_ms(raw) if not raw.isdigit() else int(raw) * 1000
                if ms is None:
                    raise invalid(name, f"{name} must be an ISO-8601 date-time or a unix timestamp")
                mask &= compare(data.submitted_s, ms // 1000)
        completed = q.get("completed")
        if completed is not None:
            if completed not in ("true", "false"):
                raise invalid("completed", "completed must be true or false")
            if completed == "false":  # the sandbox only holds submitted (completed) responses
                mask &= False
        ids = table.col("response_id").values.astype(str)
        for name, keep in (("included_response_ids", True), ("excluded_response_ids", False)):
            raw = q.get(name)
            if raw:
                hit = np.isin(ids, [s.strip() for s in raw.split(",") if s.strip()])
                mask &= hit if keep else ~hit
        if q.get("query"):
            needle = q.get("query").lower()
            texts = zip(
                table.col("comment").values.tolist(),
                table.col("email").values.tolist(),
                table.col("account_id").values.tolist(),
                strict=True,
            )
            mask &= np.array([any(needle in (t or "").lower() for t in row) for row in texts], dtype=bool)
        total = int(mask.sum())
        after, before, sort = q.get("after"), q.get("before"), q.get("sort")
        if (after or before) and sort:
            raise invalid("sort", "sort cannot be used together with after or before")
        if after and before:
            raise invalid("after", "after and before cannot be used together")
        if after:  # processing order, ascending
            ordered = data.order[mask[data.order]]
            position = data.rank[self._token(data, after, "after")]
            ordered = ordered[data.rank[ordered] > position]
        else:
            field_name, direction = self._sort(sort)
            column = "landed_at" if field_name == "landed_at" else "submitted_at"
            ordered = data.submitted_order[mask[data.submitted_order]]
            if field_name == "landed_at":
                ordered = ordered[np.argsort(table.col(column).values[ordered], kind="stable")]
            if direction == "desc":
                ordered = ordered[::-1]
            if before:  # responses submitted before the token, newest first
                position = data.submitted_rank[self._token(data, before, "before")]
                ordered = ordered[data.submitted_rank[ordered] < position]
        page = ordered[:page_size]
        fields = q.get("fields")
        only = {f.strip() for f in fields.split(",")} if fields else None
        items = [self.item(ctx, form_id, int(row), only) for row in page]
        return {"total_items": total, "page_count": math.ceil(total / page_size), "items": items}

    @staticmethod
    def _token(data: Responses, token: str, name: str) -> int:
        """The row of the response `token` names."""
        row = data.table.index("response_id").get(token)
        if row is None:
            raise invalid(name, f"{name} must be the token of an existing response")
        return int(row)

    @staticmethod
    def _sort(sort: str | None) -> tuple[str, str]:
        if not sort:
            return "submitted_at", "desc"
        field_name, _, direction = sort.partition(",")
        direction = direction or "desc"
        if field_name not in ("submitted_at", "landed_at") or direction not in ("asc", "desc"):
            raise invalid("sort", "sort must be {submitted_at|landed_at},{asc|desc}")
        return field_name, direction

    def item(self, ctx: Ctx, form_id: str, row: int, only: set[str] | None) -> dict[str, Any]:
        t = ctx.world.table("typeform_responses")
        token = t.col("response_id").values[row]
        account_id, email = t.col("account_id").value(row), t.col("email").value(row)
        score, comment = t.col("score").value(row), t.col("comment").value(row)
        nps_id, reason_id = field_id(form_id, "nps_score"), field_id(form_id, "nps_reason")
        answers = (
            [
                {
                    "field": {"id": nps_id, "type": "nps", "ref": "nps_score"},
                    "type": "number",
                    "number": int(score),
                }
            ]
            if score is not None
            else []
        )
        if comment:
            answers.append(
                {
                    "field": {"id": reason_id, "type": "long_text", "ref": "nps_reason"},
                    "type": "text",
                    "text": comment,
                }
            )
        if only is not None:
            answers = [a for a in answers if a["field"]["id"] in only or a["field"]["ref"] in only]
        item = {
            "landing_id": token,
            "token": token,
            "response_id": token,
            "response_type": "completed",
            "landed_at": iso_seconds(t.col("landed_at").values[row]),
            "submitted_at": iso_seconds(t.col("submitted_at").values[row]),
            "metadata": {
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
                "platform": "other",
                "browser": "default",
                "network_id": token[:10],
                "referer": f"https://acme.typeform.com/to/{form_id}#account_id={account_id}",
            },
            "hidden": {"account_id": account_id, "email": email},
            "calculated": {"score": 0},
            "answers": answers,
        }
        self._corrupt(ctx.faults, item)
        return item

    @staticmethod
    def _corrupt(faults: VendorFaults, item: dict[str, Any]) -> None:
        kind = faults.corruption(item["response_id"], ("score", "id", "submitted_at"))
        if kind == "score":
            for answer in item["answers"]:
                if answer["type"] == "number":
                    answer["number"] = 11
        elif kind == "id":
            for key in ("response_id", "token", "landing_id"):
                item.pop(key, None)
        elif kind == "submitted_at":
            item["submitted_at"] = "2026-13-45T99:99:99Z"
        elif kind and kind in item.get("hidden", {}):
            item["hidden"].pop(kind)
