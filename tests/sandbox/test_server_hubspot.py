"""The HubSpot side of the sandbox, read through HubSpot's official Python SDK and raw HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import hubspot
import pyarrow.compute as pc
import pytest
from hubspot.crm.objects import PublicObjectSearchRequest

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def client(api, manifest):
    return hubspot.HubSpot(access_token=manifest["tokens"]["hubspot"], host=api.base + "/hubspot")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize(
    "object_type, table_name",
    [
        ("companies", "hubspot_companies"),
        ("contacts", "hubspot_contacts"),
        ("deals", "hubspot_deals"),
        ("tickets", "hubspot_tickets"),
    ],
)
def test_sdk_get_all_pages_through_every_object(client, table, object_type, table_name):
    objects = getattr(client.crm, object_type).get_all()
    world = table(table_name).to_pylist()
    expected = {row["id"] for row in world if not row["archived"]}  # deleted ones only with archived=true
    assert len(objects) == len(expected)
    assert {o.id for o in objects} == expected


@pytest.mark.parametrize("object_type", ["notes", "calls", "meetings"])
def test_sdk_pages_engagements_with_their_hubspot_property_names(client, table, object_type):
    engagements = table("hubspot_engagements")
    rows = engagements.filter(pc.equal(engagements["object_type"], object_type))
    body = {"notes": "hs_note_body", "calls": "hs_call_body", "meetings": "hs_meeting_body"}[object_type]
    objects = client.crm.objects.get_all(object_type, properties=[body, "hs_timestamp", "hubspot_owner_id"])
    assert {o.id for o in objects} == set(rows.column("id").to_pylist())
    first = rows.slice(0, 1).to_pylist()[0]
    served = next(o for o in objects if o.id == first["id"])
    assert served.properties[body] == first["body"]
    assert ms(served.properties["hs_timestamp"]) == int(first["hs_timestamp"].timestamp() * 1000)


def test_values_are_strings_and_times_iso_with_millis(api, table):
    page = api.hubspot(
        "GET",
        "/crm/v3/objects/companies",
        params={"limit": 5, "properties": "numberofemployees,name,account_id"},
    ).json()
    companies = {r["id"]: r for r in table("hubspot_companies").to_pylist()}
    for obj in page["results"]:
        props = obj["properties"]
        assert all(v is None or isinstance(v, str) for v in props.values())
        assert props["numberofemployees"] == str(companies[obj["id"]]["numberofemployees"])
        assert props["hs_object_id"] == obj["id"]
        assert ISO_MS.match(props["createdate"]) and ISO_MS.match(obj["updatedAt"])
        assert obj["updatedAt"] == props["hs_lastmodifieddate"]
        assert obj["archived"] is False


def test_default_properties_when_none_requested(api):
    contact = api.hubspot("GET", "/crm/v3/objects/contacts", params={"limit": 1}).json()["results"][0]
    assert set(contact["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }


def test_properties_param_accepts_repeated_and_comma_forms(api):
    repeated = api.hubspot(
        "GET",
        "/crm/v3/objects/companies",
        params=[("limit", 2), ("properties", "name"), ("properties", "domain")],
    ).json()
    comma = api.hubspot("GET", "/crm/v3/objects/companies", params={"limit": 2, "properties": "name,domain"}).json()
    assert [r["properties"] for r in repeated["results"]] == [r["properties"] for r in comma["results"]]
    assert {"name", "domain"} <= set(comma["results"][0]["properties"])


def test_paging_next_has_after_and_link_and_disappears_at_the_end(api):
    first = api.hubspot("GET", "/crm/v3/objects/companies", params={"limit": 100}).json()
    nxt = first["paging"]["next"]
    assert nxt["link"].endswith(f"after={nxt['after']}") and "/hubspot/crm/v3/objects/companies" in nxt["link"]
    last = api.hubspot("GET", "/crm/v3/objects/companies", params={"limit": 100, "after": "99999999999"}).json()
    assert last == {"results": []}
    assert api.hubspot("GET", "/crm/v3/objects/companies", params={"limit": 101}).status_code == 400


def test_associations_param_lists_primary_and_unlabeled(api, table):
    contact = table("hubspot_contacts").slice(0, 1).to_pylist()[0]
    obj = api.hubspot("GET", f"/crm/v3/objects/contacts/{contact['id']}", params={"associations": "companies"}).json()
    links = obj["associations"]["companies"]["results"]
    assert {(a["id"], a["type"]) for a in links} == {
        (contact["company_id"], "contact_to_company"),
        (contact["company_id"], "contact_to_company_unlabeled"),
    }


def test_get_by_id_property_and_404(api, table):
    company = table("hubspot_companies").slice(3, 1).to_pylist()[0]
    found = api.hubspot(
        "GET",
        f"/crm/v3/objects/companies/{company['account_id']}",
        params={"idProperty": "account_id", "properties": "account_id"},
    )
    assert found.status_code == 200 and found.json()["id"] == company["id"]
    missing = api.hubspot("GET", "/crm/v3/objects/companies/123")
    assert missing.status_code == 404
    assert missing.json()["status"] == "error" and missing.json()["category"] == "OBJECT_NOT_FOUND"
    unknown = api.hubspot("GET", "/crm/v3/objects/widgets")
    assert unknown.status_code == 400 and "Unable to infer object type from: widgets" in unknown.json()["message"]


def test_owners_with_teams(api, table):
    owners = table("hubspot_owners").to_pylist()
    page = api.hubspot("GET", "/crm/v3/owners", params={"limit": 5}).json()
    assert len(page["results"]) == 5 and "paging" in page
    everyone = api.hubspot("GET", "/crm/v3/owners", params={"limit": 500}).json()["results"]
    assert {o["id"] for o in everyone} == {o["id"] for o in owners}
    first = next(o for o in everyone if o["id"] == owners[0]["id"])
    assert first["teams"][0]["name"] == owners[0]["team"] and first["teams"][0]["primary"] is True
    assert first["userId"] == owners[0]["userId"] and first["type"] == "PERSON"


def test_sdk_pages_through_every_owner(client, table):
    """The SDK's owners get_all, and its get_page followed `after` by `after` in small pages, see every owner."""
    expected = set(table("hubspot_owners").column("id").to_pylist())
    assert {o.id for o in client.crm.owners.get_all()} == expected
    seen, after, pages = [], None, 0
    while True:
        page = client.crm.owners.owners_api.get_page(limit=3, after=after)
        seen += [o.id for o in page.results]
        pages += 1
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(expected) and set(seen) == expected and pages >= len(expected) // 3


def test_sdk_search_pages_a_modified_date_window(client, table):
    tickets = table("hubspot_tickets")
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    modified = tickets["hs_lastmodifieddate"]
    expected = set(
        tickets.filter(pc.and_(pc.greater_equal(modified, start), pc.less(modified, end))).column("id").to_pylist()
    )
    filters = [
        {
            "propertyName": "hs_lastmodifieddate",
            "operator": "GTE",
            "value": str(int(start.timestamp() * 1000)),
        },
        {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": end.isoformat()},
    ]
    seen, after = [], None
    while True:
        page = client.crm.tickets.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[{"filters": filters}],
                sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                properties=["subject", "hs_lastmodifieddate"],
                limit=200,
                after=after,
            )
        )
        assert page.total == len(expected)
        seen += page.results
        if page.paging is None:
            break
        after = page.paging.next.after
    assert [o.id for o in seen] and {o.id for o in seen} == expected and len(seen) == len(expected)
    stamps = [o.properties["hs_lastmodifieddate"] for o in seen]
    assert stamps == sorted(stamps)


def test_contacts_search_uses_lastmodifieddate(api, table):
    contacts = table("hubspot_contacts")
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    live = pc.invert(contacts["archived"])  # search never returns deleted records
    expected = pc.sum(pc.and_(pc.greater(contacts["lastmodifieddate"], cutoff), live)).as_py()
    _, total = api.search_all(
        "contacts",
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GT",
                            "value": "2026-01-01T00:00:00Z",
                        }
                    ]
                }
            ],
            "limit": 200,
        },
    )
    assert total == expected > 0
    bad = api.hubspot(
        "POST",
        "/crm/v3/objects/contacts/search",
        json={"filterGroups": [{"filters": [{"propertyName": "hs_nonexistent", "operator": "EQ", "value": "1"}]}]},
    )
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "operator, filt, predicate",
    [
        ("EQ", {"value": "HIGH"}, lambda p: p == "HIGH"),
        ("NEQ", {"value": "high"}, lambda p: p != "HIGH"),
        ("IN", {"values": ["urgent", "LOW"]}, lambda p: p in ("URGENT", "LOW")),
        ("NOT_IN", {"values": ["LOW"]}, lambda p: p != "LOW"),
        ("HAS_PROPERTY", {}, lambda p: p is not None),
        ("NOT_HAS_PROPERTY", {}, lambda p: p is None),
    ],
)
def test_search_operators_on_an_enumeration(api, table, operator, filt, predicate):
    priorities = table("hubspot_tickets").column("hs_ticket_priority").to_pylist()
    _, total = api.search_all(
        "tickets",
        {
            "filterGroups": [{"filters": [{"propertyName": "hs_ticket_priority", "operator": operator, **filt}]}],
            "limit": 200,
        },
    )
    assert total == sum(1 for p in priorities if predicate(p))


def test_search_between_or_groups_and_numbers(api, table):
    companies = table("hubspot_companies").to_pylist()
    _, total = api.search_all(
        "companies",
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "numberofemployees",
                            "operator": "BETWEEN",
                            "value": "100",
                            "highValue": "999",
                        }
                    ]
                },
                {"filters": [{"propertyName": "cs_segment", "operator": "EQ", "value": "enterprise"}]},
            ],
            "limit": 200,
        },
    )
    assert total == sum(1 for c in companies if 100 <= c["numberofemployees"] <= 999 or c["cs_segment"] == "enterprise")


def test_search_caps_paging_at_ten_thousand_by_default(api):
    body = {"limit": 100}
    assert api.hubspot("POST", "/crm/v3/objects/tickets/search", json={**body, "after": "9999"}).status_code == 200
    capped = api.hubspot("POST", "/crm/v3/objects/tickets/search", json={**body, "after": "10000"})
    assert capped.status_code == 400
    assert capped.json()["category"] == "VALIDATION_ERROR" and capped.json()["status"] == "error"
    assert api.faults()["hubspot"]["search_cap"] == 10_000


def test_paging_a_search_past_the_cap_fails_like_hubspot(api, table):
    api.faults("hubspot:search_cap:500")
    total_tickets = table("hubspot_tickets").num_rows
    after, pages = None, 0
    while True:
        page = api.hubspot(
            "POST",
            "/crm/v3/objects/tickets/search",
            json={"limit": 200, **({"after": after} if after else {})},
        )
        if page.status_code != 200:
            break
        pages += 1
        assert page.json()["total"] == total_tickets  # total keeps counting past the cap
        after = page.json()["paging"]["next"]["after"]
    assert pages == 3 and after == "600"
    assert page.status_code == 400 and page.json()["message"] == "There was a problem with the request."


def test_v4_association_batch_read(api, table):
    contacts = table("hubspot_contacts").slice(0, 20).to_pylist()
    inputs = [{"id": c["id"]} for c in contacts] + [{"id": "1"}]
    response = api.hubspot("POST", "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert body["errors"][0]["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    by_id = {r["from"]["id"]: r["to"] for r in body["results"]}
    links = table("hubspot_company_associations").to_pylist()
    for contact in contacts:  # the world's company links, their types included (several companies: see untidy)
        expected_types: dict[str, set[int]] = {}
        for link in links:
            if link["object_type"] == "contacts" and link["object_id"] == contact["id"]:
                expected_types.setdefault(link["company_id"], set()).add(link["type_id"])
        served = {str(to["toObjectId"]): {t["typeId"] for t in to["associationTypes"]} for to in by_id[contact["id"]]}
        assert served == expected_types and contact["company_id"] in served
    company_id = contacts[0]["company_id"]
    reverse = api.hubspot(
        "POST", "/crm/v4/associations/companies/contacts/batch/read", json={"inputs": [{"id": company_id}]}
    ).json()
    expected = {link["object_id"] for link in links if link["object_type"] == "contacts"}
    expected = {i for i in expected if any(k["object_id"] == i and k["company_id"] == company_id for k in links)}
    assert {str(t["toObjectId"]) for t in reverse["results"][0]["to"]} == expected
    too_many = api.hubspot(
        "POST", "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": [{"id": "1"}] * 1001}
    )
    assert too_many.status_code == 400


def test_unauthenticated_requests_get_hubspots_401(api):
    for headers in ({}, {"Authorization": "Bearer pat-wrong"}):
        response = api.http.get(f"{api.base}/hubspot/crm/v3/objects/companies", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert "correlationId" in body and "Authentication credentials not found" in body["message"]
