"""HubSpot-compatible endpoints under `/hubspot` (CRM v3 objects, search, owners, properties, lists; v4
associations).

Contract sources: HubSpot's public OpenAPI specs (HubSpot/HubSpot-public-api-spec-collection) and the official
Python SDK (hubspot-api-client 12). Error bodies are HubSpot's `{"status": "error", "message",
"correlationId", "category", ...}`; 429s carry `policyName` and the `X-HubSpot-RateLimit-*` headers.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from sandbox.server.common import ApiError, bearer_token
from sandbox.server.faults import VendorFaults
from sandbox.server.hubspot.errors import HubSpotError
from sandbox.server.hubspot.lists import ListEndpoints
from sandbox.server.hubspot.object_writes import ObjectWriteEndpoints
from sandbox.server.hubspot.objects import ObjectReadEndpoints
from sandbox.server.hubspot.owners import OwnerEndpoints
from sandbox.server.hubspot.properties import PropertyEndpoints
from sandbox.server.store import World
from sandbox.server.vendor import Ctx, Vendor

DAILY_LIMIT = 1_000_000
RATE_LIMIT_CATEGORY = "RATE_LIMITS"  # the `category` of every 429 body (the spec's Error requires one)
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


class HubSpotApi(OwnerEndpoints, ObjectReadEndpoints, ObjectWriteEndpoints, PropertyEndpoints, ListEndpoints, Vendor):
    """HubSpot's edges (auth, rate limits, headers) and route table; the endpoints live in their groups' modules."""

    name = "hubspot"

    def __init__(self) -> None:
        super().__init__()
        self.daily_used = 0

    # ------------------------------------------------------------------------------------------------- edges
    def authenticated(self, request: Request, world: World) -> bool:
        return bearer_token(request) == world.manifest.tokens["hubspot"]

    def unauthorized(self, request: Request) -> ApiError:
        return HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def rate_limited(self, request: Request, faults: VendorFaults, policy: str) -> ApiError:
        if policy == "search":
            return HubSpotError(
                429,
                "You have reached your secondly limit.",
                RATE_LIMIT_CATEGORY,
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
                groupName="publicapi:crm-search",
            )
        if policy == "forced" and faults.rate_limit_policy == "daily":
            return HubSpotError(
                429,
                "You have reached your daily limit.",
                RATE_LIMIT_CATEGORY,
                errorType="RATE_LIMIT",
                policyName="DAILY",
                groupName="publicapi:private-app:sandbox",
            )
        return HubSpotError(
            429,
            "You have reached your ten_secondly_rolling limit.",
            RATE_LIMIT_CATEGORY,
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
            groupName="publicapi:private-app:sandbox",
        )

    def server_error(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        message = {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
        return HubSpotError(status, message, None, headers)

    def not_found(self, request: Request) -> ApiError:
        return HubSpotError(404, f"Unable to route {request.method} {request.url.path}", "OBJECT_NOT_FOUND")

    @staticmethod
    def _is_search(request: Request) -> bool:
        return request.method == "POST" and request.url.path.endswith("/search")

    def windows(self, request: Request, faults: VendorFaults) -> list[tuple[str, Any]]:
        if self._is_search(request):  # search is exempt from the ten-secondly window but has its own limit
            return [("search", faults.search_window)] if faults.search_window else []
        return [("window", faults.window)] if faults.window else []

    def headers(self, request: Request, faults: VendorFaults, status: int) -> dict[str, str]:
        headers = {"X-HubSpot-Correlation-Id": str(uuid.uuid4())}
        if self._is_search(request):
            return headers
        self.daily_used += 1
        headers.update(
            {
                "X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY_LIMIT - self.daily_used)),
            }
        )
        window = faults.window
        if window:
            # The rolling window, and its per-second share (HubSpot: Secondly = Max / interval in seconds).
            secondly = max(1, round(window.limit / window.seconds))
            headers.update(
                {
                    "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.seconds * 1000)),
                    "X-HubSpot-RateLimit-Max": str(window.limit),
                    "X-HubSpot-RateLimit-Remaining": str(window.remaining()),
                    "X-HubSpot-RateLimit-Secondly": str(secondly),
                    "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - window.recent(1.0))),
                }
            )
        return headers

    def account_details(self, ctx: Ctx) -> dict[str, Any]:
        """`GET /account-info/v3/details`: the portal a token belongs to (clients record it as their source's
        identity)."""
        return {
            "portalId": ctx.world.manifest.hubspot_portal_id,
            "accountType": "STANDARD",
            "timeZone": "UTC",
            "companyCurrency": ctx.world.manifest.reporting_currency,
            "additionalCurrencies": ["EUR", "GBP"],
            "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }

    def routes(self) -> list[Route]:
        r = self.route
        return [
            r("/account-info/v3/details", self.account_details, ["GET"]),
            r("/crm/v3/owners", self.list_owners, ["GET"]),
            r("/crm/v3/owners/", self.list_owners, ["GET"]),  # the official SDK asks with the slash
            r("/crm/v3/owners/{ownerId}", self.get_owner, ["GET"]),
            r("/crm/v3/objects/{objectType}/search", self.search, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/read", self.batch_read, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/update", self.batch_update, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/create", self.batch_create, ["POST"]),
            r("/crm/v3/objects/{objectType}", self.list_objects, ["GET"]),
            r("/crm/v3/objects/{objectType}", self.create_object, ["POST"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.get_object, ["GET"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.update_object, ["PATCH"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.archive_object, ["DELETE"]),
            r(
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                self.associations_batch_read,
                ["POST"],
            ),
            r("/crm/v3/properties/{objectType}/batch/create", self.batch_create_properties, ["POST"]),
            r("/crm/v3/properties/{objectType}/groups", self.list_groups, ["GET"]),
            r("/crm/v3/properties/{objectType}/groups", self.create_group, ["POST"]),
            r("/crm/v3/properties/{objectType}/groups/{groupName}", self.get_group, ["GET"]),
            r("/crm/v3/properties/{objectType}", self.list_properties, ["GET"]),
            r("/crm/v3/properties/{objectType}", self.create_property, ["POST"]),
            r("/crm/v3/properties/{objectType}/{propertyName}", self.get_property, ["GET"]),
            r("/crm/v3/lists", self.create_list, ["POST"]),
            r("/crm/v3/lists/", self.create_list, ["POST"]),
            r("/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}", self.get_list_by_name, ["GET"]),
            r("/crm/v3/lists/{listId}/memberships/add", self.add_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships/remove", self.remove_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships/add-and-remove", self.add_and_remove_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships", self.list_members, ["GET"]),
            r("/crm/v3/lists/{listId}/memberships", self.clear_members, ["DELETE"]),
            r("/crm/v3/lists/{listId}", self.get_list, ["GET"]),
            r("/crm/v3/lists/{listId}", self.delete_list, ["DELETE"]),
            self.fallback(),
        ]
