"""Which vendor contract each recorded exchange is checked against: (method, path pattern) → the SDK package and
the model names for the request body and for the response body by status, as the SDK's own API classes declare
them (`response_types_map` in hubspot-api-client's generated `*_api.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType

import hubspot.crm.associations.v4 as associations_v4
import hubspot.crm.lists as lists
import hubspot.crm.objects as objects
import hubspot.crm.objects.tasks as tasks
import hubspot.crm.owners as owners
import hubspot.crm.properties as properties

from tests.contracts.recorder import Exchange


@dataclass(frozen=True)
class Contract:
    method: str
    pattern: str  # a regex over the vendor path
    package: ModuleType
    request: str | None  # the request body's model, None when the product sends no body
    responses: dict[int, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method} {self.pattern}"

    def matches(self, exchange: Exchange) -> bool:
        return exchange.method == self.method and re.fullmatch(self.pattern, exchange.path) is not None


OBJECT = r"(companies|contacts|deals|tickets|notes|calls|meetings|emails|tasks)"
HUBSPOT: list[Contract] = [
    Contract("GET", r"/crm/v3/owners/?", owners, None, {200: "CollectionResponsePublicOwnerForwardPaging"}),
    Contract(
        "POST",
        rf"/crm/v3/objects/{OBJECT}/search",
        objects,
        "PublicObjectSearchRequest",
        {200: "CollectionResponseWithTotalSimplePublicObjectForwardPaging"},
    ),
    Contract(
        "GET",
        rf"/crm/v3/objects/{OBJECT}",
        objects,
        None,
        {200: "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"},
    ),
    Contract(
        "POST",
        rf"/crm/v4/associations/{OBJECT}/companies/batch/read",
        associations_v4,
        "BatchInputPublicFetchAssociationsBatchRequest",
        {200: "BatchResponsePublicAssociationMultiWithLabel", 207: "BatchResponsePublicAssociationMultiWithLabel"},
    ),
    Contract(
        "POST",
        r"/crm/v3/objects/companies/batch/update",
        objects,
        "BatchInputSimplePublicObjectBatchInput",
        {200: "BatchResponseSimplePublicObject", 207: "BatchResponseSimplePublicObjectWithErrors"},
    ),
    Contract(
        "POST",
        r"/crm/v3/objects/tasks/batch/create",
        tasks,
        "BatchInputSimplePublicObjectBatchInputForCreate",
        {201: "BatchResponseSimplePublicObject", 207: "BatchResponseSimplePublicObjectWithErrors"},
    ),
    Contract("GET", r"/crm/v3/properties/\w+", properties, None, {200: "CollectionResponsePropertyNoPaging"}),
    Contract("GET", r"/crm/v3/properties/\w+/groups/\w+", properties, None, {200: "PropertyGroup", 404: "Error"}),
    Contract("GET", r"/crm/v3/properties/\w+/(?!groups$)\w+", properties, None, {200: "Property", 404: "Error"}),
    Contract("POST", r"/crm/v3/properties/\w+/groups", properties, "PropertyGroupCreate", {201: "PropertyGroup"}),
    Contract(
        "POST",
        r"/crm/v3/properties/\w+/batch/create",
        properties,
        "BatchInputPropertyCreate",
        {201: "BatchResponseProperty", 207: "BatchResponsePropertyWithErrors"},
    ),
    Contract(
        "GET", r"/crm/v3/lists/object-type-id/[^/]+/name/[^/]+", lists, None, {200: "ListFetchResponse", 404: "Error"}
    ),
    Contract("POST", r"/crm/v3/lists/?", lists, "ListCreateRequest", {200: "ListCreateResponse"}),
    Contract("GET", r"/crm/v3/lists/\d+/memberships", lists, None, {200: "ApiCollectionResponseJoinTimeAndRecordId"}),
    Contract("PUT", r"/crm/v3/lists/\d+/memberships/add", lists, "list[str]", {200: "MembershipsUpdateResponse"}),
    Contract("PUT", r"/crm/v3/lists/\d+/memberships/remove", lists, "list[str]", {200: "MembershipsUpdateResponse"}),
]


# Endpoints hubspot-api-client 12 has no API class for: their documented fields and JSON types instead (HubSpot's
# account-info v3 reference). The product reads `portalId` only, as the source's identity.
UNMODELLED: dict[tuple[str, str], dict[str, type]] = {
    ("GET", r"/account-info/v3/details"): {
        "portalId": int,
        "accountType": str,
        "timeZone": str,
        "companyCurrency": str,
        "additionalCurrencies": list,
        "utcOffset": str,
        "utcOffsetMilliseconds": int,
        "uiDomain": str,
        "dataHostingLocation": str,
    },
}


def unmodelled_problems(exchange: Exchange) -> list[str] | None:
    """Problems of an exchange with an endpoint listed in UNMODELLED (None when it is not one of them)."""
    for (method, pattern), declared in UNMODELLED.items():
        if exchange.method == method and re.fullmatch(pattern, exchange.path):
            body = exchange.response_body if isinstance(exchange.response_body, dict) else {}
            problems = [f"{pattern}: {name} missing" for name in declared if name not in body]
            problems += [
                f"{pattern}: {name} is {type(body[name]).__name__}, documented {kind.__name__}"
                for name, kind in declared.items()
                if name in body and not (isinstance(body[name], kind) and not isinstance(body[name], bool))
            ]
            problems += [f"{pattern}: {name} is not a documented field" for name in body if name not in declared]
            return problems
    return None


def contract_for(exchange: Exchange, contracts: list[Contract]) -> Contract | None:
    return next((c for c in contracts if c.matches(exchange)), None)
