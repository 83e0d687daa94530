"""HubSpot CRM v3 (private-app token): owners, companies, contacts, deals, tickets and CSM engagements.

Objects are read incrementally through the search API on their last-modified property, in windows that restart
from the last seen value before the 10,000-result cap, so no row is lost however much changed. Each object's
company association (v4 batch read) lands as `company_id`. Property values are kept as HubSpot sends them
(strings), except timestamps, which are parsed so the incremental cursor compares correctly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from ingestion.contracts import FROZEN_TYPES, contract
from ingestion.http import vendor_client
from ingestion.quarantine import quarantined

SOURCE = "hubspot"
TOKEN_VARIABLE = "SOURCES__HUBSPOT__ACCESS_TOKEN"
SEARCH_PAGE = 200
SEARCH_CAP = 10_000  # HubSpot's search API never returns more than 10,000 results for one query
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CrmObject:
    name: str
    cursor: str
    properties: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    associate: bool = True
    extra_properties: tuple[str, ...] = field(default=())


OBJECTS: dict[str, CrmObject] = {
    "companies": CrmObject(
        "companies",
        "hs_lastmodifieddate",
        (
            "name",
            "domain",
            "industry",
            "numberofemployees",
            "country",
            "lifecyclestage",
            "hubspot_owner_id",
            "account_id",
            "cs_segment",
            "createdate",
            "hs_lastmodifieddate",
        ),
        timestamps=("createdate", "hs_lastmodifieddate"),
        associate=False,
    ),
    "contacts": CrmObject(
        "contacts",
        "lastmodifieddate",
        (
            "email",
            "firstname",
            "lastname",
            "jobtitle",
            "cs_is_champion",
            "cs_left_company",
            "cs_left_company_date",
            "createdate",
            "lastmodifieddate",
        ),
        timestamps=("createdate", "lastmodifieddate"),
    ),
    "deals": CrmObject(
        "deals",
        "hs_lastmodifieddate",
        (
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "dealtype",
            "cs_deal_kind",
            "closedate",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
        ),
        timestamps=("closedate", "createdate", "hs_lastmodifieddate"),
    ),
    "tickets": CrmObject(
        "tickets",
        "hs_lastmodifieddate",
        (
            "subject",
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "closed_date",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
        ),
        timestamps=("closed_date", "createdate", "hs_lastmodifieddate"),
    ),
    "notes": CrmObject(
        "notes",
        "hs_lastmodifieddate",
        ("hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_lastmodifieddate"),
        timestamps=("hs_timestamp", "hs_lastmodifieddate"),
    ),
    "calls": CrmObject(
        "calls",
        "hs_lastmodifieddate",
        ("hs_timestamp", "hs_call_title", "hs_call_body", "hubspot_owner_id", "hs_lastmodifieddate"),
        timestamps=("hs_timestamp", "hs_lastmodifieddate"),
    ),
    "meetings": CrmObject(
        "meetings",
        "hs_lastmodifieddate",
        ("hs_timestamp", "hs_meeting_title", "hs_meeting_body", "hubspot_owner_id", "hs_lastmodifieddate"),
        timestamps=("hs_timestamp", "hs_lastmodifieddate"),
    ),
}


def parse_timestamp(value: Any) -> datetime | None:
    """HubSpot sends ISO-8601 strings (and epoch millis in some places)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    text = str(value).replace("Z", "+00:00")
    if len(text) == 10:  # a date property
        text += "T00:00:00+00:00"
    return datetime.fromisoformat(text)


def flatten(obj: CrmObject, result: dict[str, Any]) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """One search result as a row (id, archived, properties...), or the (rule, reason) it cannot be loaded: its
    table's contract (ingestion/contracts.py) decides beyond the id, the timestamps and the cursor."""
    object_id = result.get("id")
    if not isinstance(object_id, str) or not object_id.isdigit():
        return None, ("id not a HubSpot record id", f"id {object_id!r} is not a HubSpot record id")
    properties = result.get("properties") or {}
    row: dict[str, Any] = {"id": object_id, "archived": bool(result.get("archived", False))}
    for name in obj.properties + obj.extra_properties:
        row[name] = properties.get(name)
    for name in obj.timestamps:
        try:
            row[name] = parse_timestamp(row.get(name))
        except (TypeError, ValueError):
            return None, (f"{name} not a timestamp", f"property {name!r} is not a timestamp: {row.get(name)!r}")
    if row.get(obj.cursor) is None:
        return None, (f"missing {obj.cursor}", f"missing {obj.cursor!r}, the incremental cursor")
    declared = contract(SOURCE, obj.name)
    broken = declared.violation(row) if declared else None
    return (None, broken) if broken else (row, None)


def search_body(obj: CrmObject, since: datetime, after: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filterGroups": [
            {"filters": [{"propertyName": obj.cursor, "operator": "GTE", "value": str(int(since.timestamp() * 1000))}]}
        ],
        "sorts": [{"propertyName": obj.cursor, "direction": "ASCENDING"}],
        "properties": list(obj.properties + obj.extra_properties),
        "limit": SEARCH_PAGE,
    }
    if after:
        body["after"] = after
    return body


def search_changed(
    client: RESTClient, obj: CrmObject, since: datetime, cap: int = SEARCH_CAP
) -> Iterator[list[dict[str, Any]]]:
    """Pages of raw results modified at or after `since`, in windows under the search API's result cap."""
    lower = since
    page_size = min(SEARCH_PAGE, cap)
    while True:
        fetched, last_seen, cut_short = 0, lower, False
        paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_body_path="after")
        body = search_body(obj, lower) | {"limit": page_size}
        for page in client.paginate(
            f"/crm/v3/objects/{obj.name}/search",
            method="POST",
            json=body,
            paginator=paginator,
            data_selector="results",
        ):
            if not page:
                break
            fetched += len(page)
            stamp = parse_timestamp((page[-1].get("properties") or {}).get(obj.cursor))
            last_seen = stamp or last_seen
            yield list(page)
            if fetched >= cap:
                cut_short = True  # the API refuses to page past the cap: start a new window instead
                break
        if not cut_short:
            return
        if last_seen <= lower:
            raise RuntimeError(
                f"hubspot: more than {cap} {obj.name} share the modification time {lower.isoformat()}; "
                "the search API cannot page past them"
            )
        lower = last_seen  # restart the window; rows at the boundary come again and merge away


def company_associations(client: RESTClient, object_type: str, ids: Sequence[str]) -> dict[str, str]:
    """The associated company of each record (the first one HubSpot lists), via the v4 batch read."""
    if not ids:
        return {}
    response = client.post(
        f"/crm/v4/associations/{object_type}/companies/batch/read", json={"inputs": [{"id": i} for i in ids]}
    )
    response.raise_for_status()
    links: dict[str, str] = {}
    for result in response.json().get("results", []):
        targets = result.get("to") or []
        if targets:
            links[str(result["from"]["id"])] = str(targets[0]["toObjectId"])
    return links


def crm_object_resource(client: RESTClient, obj: CrmObject, cap: int = SEARCH_CAP):
    @dlt.resource(name=obj.name, primary_key="id", write_disposition="merge")
    def records(
        modified=dlt.sources.incremental(obj.cursor, initial_value=EPOCH, on_cursor_value_missing="include"),
    ) -> Iterator[Any]:
        declared = contract(SOURCE, obj.name)
        for page in search_changed(client, obj, modified.last_value or EPOCH, cap):
            if declared:  # before any row of the page reaches dlt: a renamed property must not merge as NULL
                declared.check_drift([result.get("properties") or {} for result in page])
            rows, bad = [], []
            for result in page:
                row, broken = flatten(obj, result)
                if broken is not None:
                    rule, reason = broken
                    bad.append(quarantined(result, SOURCE, obj.name, reason, rule))
                else:
                    rows.append(row)
            if obj.associate and rows:
                links = company_associations(client, obj.name, [r["id"] for r in rows])
                for row in rows:
                    row["company_id"] = links.get(row["id"])
            yield from bad
            yield rows

    return records


def owners_resource(client: RESTClient):
    @dlt.resource(name="owners", primary_key="id", write_disposition="merge")
    def owners() -> Iterator[Any]:
        paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
        for page in client.paginate(
            "/crm/v3/owners", params={"limit": 100}, paginator=paginator, data_selector="results"
        ):
            for owner in page:
                if not isinstance(owner.get("id"), str) or not owner.get("email"):
                    yield quarantined(owner, SOURCE, "owners", "owner without a string id or an email")
                    continue
                teams = owner.get("teams") or []
                primary = next((t for t in teams if t.get("primary")), teams[0] if teams else {})
                yield {
                    "id": owner["id"],
                    "email": owner["email"],
                    "first_name": owner.get("firstName"),
                    "last_name": owner.get("lastName"),
                    "user_id": owner.get("userId"),
                    "team": primary.get("name"),
                    "archived": bool(owner.get("archived", False)),
                    "created_at": parse_timestamp(owner.get("createdAt")),
                    "updated_at": parse_timestamp(owner.get("updatedAt")),
                }

    return owners


@dlt.source(name="hubspot", section="hubspot", max_table_nesting=0, schema_contract=FROZEN_TYPES)
def hubspot_source(
    access_token: str = dlt.secrets.value,
    base_url: str = "https://api.hubapi.com",
    company_properties: Sequence[str] = (),
    objects: Sequence[str] = tuple(OBJECTS),
    search_requests_per_second: float = 4.0,
    search_result_cap: int = SEARCH_CAP,
    requests_per_second: float = 15.0,
) -> Any:
    """HubSpot CRM objects. `company_properties` adds custom company properties to load, by name. The request
    rates stay under HubSpot's limits for private apps: 5 search requests per second and 190 per 10 seconds."""
    client = vendor_client(
        SOURCE,
        base_url,
        access_token,
        TOKEN_VARIABLE,
        rate_limits=[("/search", search_requests_per_second), ("", requests_per_second)],
    )
    resources = [owners_resource(client)]
    for name in objects:
        obj = OBJECTS[name]
        if name == "companies" and company_properties:
            extra = tuple(p for p in company_properties if p not in obj.properties)
            obj = replace(obj, extra_properties=extra)
        resources.append(crm_object_resource(client, obj, search_result_cap))
    return resources
