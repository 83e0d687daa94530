"""HubSpot CRM v3 (private-app token): owners, companies, contacts, deals, tickets, CSM engagements (notes, calls,
meetings, emails) and the tasks csops created.

Objects are read incrementally through the search API on their last-modified property, in windows that restart
from the last seen value before the 10,000-result cap, so no row is lost however much changed. HubSpot's search
index lags writes by seconds, so a record can become searchable after a later-modified one: each run searches
from the cursor minus a look-back window (`lookback_seconds`, SOURCES__HUBSPOT__LOOKBACK_SECONDS) and merges by
id, so a late record still loads and none loads twice.

Search never returns deleted (archived) records: every run also reads `?archived=true` for companies, contacts,
deals and tickets and merges those archived since its search window over the same tables (`archived` true).
Merged records carry `hs_merged_object_ids` on the survivor; dbt maps the merged-away ids to it.

The tasks csops created are read back (`tasks`: those with a `csops_task_key`, filtered in the search itself, so a
portal's other tasks are never loaded): status, completion time, due date and owner, the latest of each (a task
handed to another CSM loads with its new owner; one a CSM deleted comes back from `?archived=true` with `archived`
true). Until the first CRM push created the `csops_task_key` property there is nothing to read, and the resource
loads nothing.

Every company association of a contact, deal, ticket (v4 batch read, labels included) lands in the nested table
`<object>__company_associations` (replaced whenever the record loads again); `company_id` is the primary one, chosen
by `primary_company`. Property values are kept as
HubSpot sends them (strings), except timestamps, which are parsed so the incremental cursor compares correctly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from ingestion.contracts import FROZEN_TYPES, Contract, contract
from ingestion.http import vendor_client
from ingestion.quarantine import quarantined
from ingestion.rate_limit import HUBSPOT_REQUESTS_PER_SECOND, HUBSPOT_SEARCH_REQUESTS_PER_SECOND, Limit, RateLimiter

SOURCE = "hubspot"
TOKEN_VARIABLE = "SOURCES__HUBSPOT__ACCESS_TOKEN"
SEARCH_PAGE = 200
LIST_PAGE = 100  # the most GET /crm/v3/objects/{type} returns per page
ASSOCIATIONS_BATCH = 1000  # the most ids one v4 association batch read takes
SEARCH_CAP = 10_000  # HubSpot's search API never returns more than 10,000 results for one query
LOOKBACK_SECONDS = 3600.0  # HubSpot documents a search index lag of seconds; an hour covers it with room to spare
ASSOCIATIONS_FIELD = "company_associations"  # a nested table per object: contacts__company_associations, ...
# HubSpot-defined "Primary" company association types (contact, deal, ticket -> company).
PRIMARY_COMPANY_TYPE_IDS = {"contacts": 1, "deals": 5, "tickets": 339}
ARCHIVABLE = ("companies", "contacts", "deals", "tickets", "tasks")
TASK_KEY = "csops_task_key"  # the task property the CRM push writes (activation/fields.py)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CrmObject:
    name: str
    cursor: str
    properties: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    associate: bool = True
    extra_properties: tuple[str, ...] = field(default=())
    # Only records that have this property (a search filter; archived reads are screened on it): csops' own tasks.
    # Until the property exists in the portal, the object loads nothing.
    required_property: str | None = None


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
            "hs_merged_object_ids",
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
            "hs_merged_object_ids",
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
            "hs_merged_object_ids",
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
            "hs_merged_object_ids",
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
    "emails": CrmObject(
        "emails",
        "hs_lastmodifieddate",
        ("hs_timestamp", "hs_email_subject", "hs_email_text", "hubspot_owner_id", "hs_lastmodifieddate"),
        timestamps=("hs_timestamp", "hs_lastmodifieddate"),
    ),
    "tasks": CrmObject(
        "tasks",
        "hs_lastmodifieddate",
        (
            TASK_KEY,
            "hs_task_subject",
            "hs_task_body",
            "hs_task_status",
            "hs_task_priority",
            "hs_timestamp",
            "hs_task_completion_date",
            "hubspot_owner_id",
            "hs_createdate",
            "hs_lastmodifieddate",
        ),
        timestamps=("hs_timestamp", "hs_task_completion_date", "hs_createdate", "hs_lastmodifieddate"),
        required_property=TASK_KEY,
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
    filters = [{"propertyName": obj.cursor, "operator": "GTE", "value": str(int(since.timestamp() * 1000))}]
    if obj.required_property:
        filters.append({"propertyName": obj.required_property, "operator": "HAS_PROPERTY"})
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}],
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


def list_all(client: RESTClient, obj: CrmObject, archived: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Pages of every record (live, or archived), through the list endpoint: 100 per page at the general rate
    limit, where search gives 200 per page at 5 requests per second, so a full load needs fewer seconds here."""
    paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
    params = {"limit": LIST_PAGE, "properties": ",".join(obj.properties + obj.extra_properties)}
    if archived:
        params["archived"] = "true"
    for page in client.paginate(
        f"/crm/v3/objects/{obj.name}", params=params, paginator=paginator, data_selector="results"
    ):
        if obj.required_property:  # e.g. only the tasks csops created; search filters these server-side
            page = [r for r in page if (r.get("properties") or {}).get(obj.required_property)]
        yield page


def is_primary(object_type: str, association_type: dict[str, Any]) -> bool:
    """HubSpot marks a record's primary company with its own HUBSPOT_DEFINED type, labelled "Primary"."""
    if association_type.get("category") != "HUBSPOT_DEFINED":
        return False
    return association_type.get("typeId") == PRIMARY_COMPANY_TYPE_IDS.get(object_type) or (
        association_type.get("label") == "Primary"
    )


def primary_company(links: Sequence[dict[str, Any]]) -> str | None:
    """The company a record is attributed to: the one labelled primary; without one, the lowest company id (the
    oldest company record: HubSpot ids grow with creation). Never "the first listed": HubSpot's order is not a
    promise (DECISIONLOG, "Company attribution")."""
    primary = sorted((link["company_id"] for link in links if link["is_primary"]), key=int)
    if primary:
        return primary[0]
    return min((link["company_id"] for link in links), key=int, default=None)


def company_associations(client: RESTClient, object_type: str, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every company association of each record, one row per association type, via the v4 batch read."""
    if not ids:
        return {}
    response = client.post(
        f"/crm/v4/associations/{object_type}/companies/batch/read", json={"inputs": [{"id": i} for i in ids]}
    )
    response.raise_for_status()
    links: dict[str, list[dict[str, Any]]] = {}
    for result in response.json().get("results", []):
        object_id = str(result["from"]["id"])
        for target in result.get("to") or []:
            company_id = str(target["toObjectId"])  # may come as a number
            types = target.get("associationTypes") or [{}]
            primary = any(is_primary(object_type, t) for t in types)
            for association_type in types:
                links.setdefault(object_id, []).append(
                    {
                        "company_id": company_id,
                        "type_id": association_type.get("typeId"),
                        "category": association_type.get("category"),
                        "label": association_type.get("label"),
                        "is_primary": primary,
                    }
                )
    return links


def loadable(obj: CrmObject, page: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The page's rows, and its bad records wrapped for the quarantine (with the contract rule they broke)."""
    rows, bad = [], []
    for result in page:
        row, broken = flatten(obj, result)
        if broken is not None:
            rule, reason = broken
            bad.append(quarantined(result, SOURCE, obj.name, reason, rule))
        else:
            rows.append(row)
    return rows, bad


def crm_object_resource(
    client: RESTClient, obj: CrmObject, cap: int = SEARCH_CAP, lookback_seconds: float = LOOKBACK_SECONDS
):
    # One level of nesting: the company associations become `<object>__company_associations`.
    @dlt.resource(name=obj.name, primary_key="id", write_disposition="merge", max_table_nesting=1)
    def records() -> Iterator[Any]:
        if obj.required_property and not property_exists(client, obj.name, obj.required_property):
            return  # nothing of ours in the portal yet (csops has not pushed a task)
        declared = contract(SOURCE, obj.name) or Contract(SOURCE, obj.name, ())
        requested = obj.properties + obj.extra_properties
        # The cursor lives in the resource's state (loaded with the data, restored from the warehouse). Each run
        # searches from it minus the look-back: records the search index showed late come again, and the merge on
        # id keeps one row each. (dlt's own incremental would drop every row older than its cursor.)
        state = dlt.current.resource_state()
        cursor = parse_timestamp(state.get("last_modified")) or EPOCH
        # A first load (or a full refresh) lists everything: the list endpoint is the cheapest way to read a whole
        # object. Later runs search only the window since the cursor. The list is not ordered by modification, so
        # the cursor is the newest modification seen; a record changed while the list ran is newer than that
        # minus the look-back (a full load takes minutes, the look-back an hour) and comes with the next search.
        since = max(EPOCH, cursor - timedelta(seconds=lookback_seconds)) if cursor > EPOCH else None
        pages = search_changed(client, obj, since, cap) if since is not None else list_all(client, obj)
        waiting: list[dict[str, Any]] = []  # rows whose associations are read with the next batch
        for page in pages:
            # Before any row of the page reaches dlt, so a renamed property never merges as NULL: HubSpot returns
            # every requested property that exists (null when empty), so one missing from the page was renamed or
            # deleted in the portal.
            declared.check_drift([result.get("properties") or {} for result in page], also=requested)
            rows, bad = loadable(obj, page)
            if rows:
                cursor = max(cursor, *(row[obj.cursor] for row in rows))
                state["last_modified"] = cursor.isoformat()
            yield from bad
            if not obj.associate:
                yield rows
                continue
            waiting += rows
            if len(waiting) >= ASSOCIATIONS_BATCH - LIST_PAGE:
                yield with_companies(client, obj, waiting)
                waiting = []
        if waiting:
            yield with_companies(client, obj, waiting)
        if obj.name in ARCHIVABLE:
            yield from archived_records(client, obj, since)

    return records


def with_companies(client: RESTClient, obj: CrmObject, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with their company associations and primary company, read in one v4 batch (at most
    ASSOCIATIONS_BATCH ids): one request per ~1000 records instead of one per page."""
    links = company_associations(client, obj.name, [r["id"] for r in rows])
    for row in rows:
        row[ASSOCIATIONS_FIELD] = links.get(row["id"], [])
        row["company_id"] = primary_company(row[ASSOCIATIONS_FIELD])
    return rows


def property_exists(client: RESTClient, object_type: str, name: str) -> bool:
    """Whether the portal defines the property (`GET /crm/v3/properties/{type}/{name}`; 404 when it does not)."""
    response = client.get(f"/crm/v3/properties/{object_type}/{name}")
    if response.status_code == 404:
        return False
    response.raise_for_status()
    return True


def archived_records(client: RESTClient, obj: CrmObject, since: datetime | None = None) -> Iterator[Any]:
    """Deleted records, merged over the live rows by id. Search cannot see them and the list endpoint has no filter,
    so every run reads the whole `?archived=true` list; only those archived at or after `since` (the run's search
    window, read after the search so none archived meanwhile is missed) are loaded, so a night merges the records
    deleted since the last run, not every record ever deleted (which grows with the history, and whose re-stamped
    rows made each night's load look ten times the nights before it to the volume check). A record without a
    readable `archivedAt` is loaded; a first or full load (`since` None) loads them all."""
    for page in list_all(client, obj, archived=True):
        if since is not None:
            page = [result for result in page if not archived_before(result, since)]
        rows, bad = loadable(obj, page)
        for row in rows:
            row["archived"] = True
        yield from bad
        yield rows


def archived_before(result: dict[str, Any], since: datetime) -> bool:
    """Whether HubSpot says the record was archived before `since` (False when it does not say, or not readably)."""
    try:
        archived_at = parse_timestamp(result.get("archivedAt"))
    except (TypeError, ValueError):
        return False
    return archived_at is not None and archived_at < since


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
    search_requests_per_second: float = HUBSPOT_SEARCH_REQUESTS_PER_SECOND,
    search_result_cap: int = SEARCH_CAP,
    requests_per_second: float = HUBSPOT_REQUESTS_PER_SECOND,
    lookback_seconds: float = LOOKBACK_SECONDS,
) -> Any:
    """HubSpot CRM objects. `company_properties` adds custom company properties to load, by name. The request
    rates stay under HubSpot's limits for private apps (ingestion/rate_limit.py: 5 search requests per second,
    100 to 250 per 10 seconds by tier), and hold while the portal's rate-limit headers say its budget is spent.
    `lookback_seconds` is how far before the last cursor each incremental search starts (the index lag)."""
    limiter = RateLimiter(
        SOURCE,
        {"default": Limit.per_second(requests_per_second), "search": Limit.per_second(search_requests_per_second)},
        kinds=[("/search", "search")],
    )
    client = vendor_client(SOURCE, base_url, access_token, TOKEN_VARIABLE, limiter=limiter)
    resources = [owners_resource(client)]
    for name in objects:
        obj = OBJECTS[name]
        if name == "companies" and company_properties:
            extra = tuple(p for p in company_properties if p not in obj.properties)
            obj = replace(obj, extra_properties=extra)
        resources.append(crm_object_resource(client, obj, search_result_cap, lookback_seconds))
    return resources
