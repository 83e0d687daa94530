"""CRM writes through the HubSpot API (properties, company updates, tasks, lists), kept in crm.sqlite."""

from __future__ import annotations

import json
import subprocess
import sys

HEALTH = {
    "name": "cs_health_score",
    "label": "Health score",
    "type": "number",
    "fieldType": "number",
    "groupName": "companyinformation",
}
STATUS = {
    "name": "cs_health_status",
    "label": "Health status",
    "type": "enumeration",
    "fieldType": "select",
    "groupName": "companyinformation",
    "options": [
        {"label": "Green", "value": "green"},
        {"label": "Yellow", "value": "yellow"},
        {"label": "Red", "value": "red"},
    ],
}


def companies(api, n: int) -> list[str]:
    return [c["id"] for c in api.hubspot("GET", "/crm/v3/objects/companies", params={"limit": n}).json()["results"]]


def test_custom_properties_are_created_once(own_api):
    created = own_api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
    assert created.status_code == 201
    assert created.json()["name"] == "cs_health_score" and created.json()["hubspotDefined"] is False
    again = own_api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
    assert again.status_code == 409 and again.json()["status"] == "error"
    fetched = own_api.hubspot("GET", "/crm/v3/properties/companies/cs_health_score")
    assert fetched.status_code == 200 and fetched.json()["type"] == "number"
    names = {p["name"] for p in own_api.hubspot("GET", "/crm/v3/properties/companies").json()["results"]}
    assert {"cs_health_score", "name", "numberofemployees", "account_id", "cs_segment"} <= names
    assert own_api.hubspot("GET", "/crm/v3/properties/companies/cs_nothing").status_code == 404
    invalid = own_api.hubspot("POST", "/crm/v3/properties/companies", json={**HEALTH, "name": "Bad Name"})
    assert invalid.status_code == 400


def test_unknown_property_is_rejected_and_nothing_is_written(own_api):
    ids = companies(own_api, 3)
    own_api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
    inputs = [
        {"id": ids[0], "properties": {"cs_health_score": "55"}},
        {"id": ids[1], "properties": {"cs_not_a_property": "x"}},
    ]
    response = own_api.hubspot("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR" and "PROPERTY_DOESNT_EXIST" in body["message"]
    assert "cs_not_a_property" in body["message"]
    first = own_api.hubspot("GET", f"/crm/v3/objects/companies/{ids[0]}", params={"properties": "cs_health_score"})
    assert first.json()["properties"]["cs_health_score"] is None  # the valid row was not applied either
    single = own_api.hubspot(
        "PATCH", f"/crm/v3/objects/companies/{ids[0]}", json={"properties": {"cs_not_a_property": "1"}}
    )
    assert single.status_code == 400 and "PROPERTY_DOESNT_EXIST" in single.json()["message"]


def test_invalid_values_are_rejected_like_hubspot(own_api):
    own_api.hubspot("POST", "/crm/v3/properties/companies", json=STATUS)
    company = companies(own_api, 1)[0]
    for props, code in (
        ({"cs_health_status": "purple"}, "INVALID_OPTION"),
        ({"numberofemployees": "many"}, "INVALID_FLOAT"),
        ({"hs_lastmodifieddate": "2026-01-01"}, "READ_ONLY_VALUE"),
    ):
        response = own_api.hubspot("PATCH", f"/crm/v3/objects/companies/{company}", json={"properties": props})
        assert response.status_code == 400 and code in response.json()["message"], props


def test_batch_update_applies_good_rows_and_reports_missing_ids(own_api):
    own_api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
    ids = companies(own_api, 3)
    before = own_api.hubspot("GET", f"/crm/v3/objects/companies/{ids[0]}").json()["properties"]["hs_lastmodifieddate"]
    inputs = [
        {"id": ids[0], "properties": {"cs_health_score": "42"}},
        {"id": ids[1], "properties": {"cs_health_score": "77.5"}},
        {"id": "9999999999", "properties": {"cs_health_score": "1"}},
    ]
    response = own_api.hubspot("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"] == {
        "ids": ["9999999999"]
    }
    assert {r["id"]: r["properties"]["cs_health_score"] for r in body["results"]} == {
        ids[0]: "42",
        ids[1]: "77.5",
    }
    read = own_api.hubspot("GET", f"/crm/v3/objects/companies/{ids[0]}", params={"properties": "cs_health_score"})
    props = read.json()["properties"]
    assert props["cs_health_score"] == "42" and props["hs_lastmodifieddate"] > before
    assert read.json()["updatedAt"] == props["hs_lastmodifieddate"]
    found, total = own_api.search_all(
        "companies",
        {
            "filterGroups": [{"filters": [{"propertyName": "cs_health_score", "operator": "LT", "value": "50"}]}],
            "properties": ["cs_health_score"],
        },
    )
    assert total == 1 and found[0]["id"] == ids[0]
    since, _ = own_api.search_all(
        "companies",
        {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": before}]}]},
    )
    assert {ids[0], ids[1]} <= {c["id"] for c in since}


def test_batch_limits(own_api):
    ids = companies(own_api, 2)
    too_many = [{"id": ids[0], "properties": {"name": "x"}}] * 101
    response = own_api.hubspot("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": too_many})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"
    dupes = [{"id": ids[0], "properties": {"name": "a"}}, {"id": ids[0], "properties": {"name": "b"}}]
    response = own_api.hubspot("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": dupes})
    assert response.status_code == 400 and "Duplicate IDs" in response.json()["message"]


def test_tasks_need_hs_timestamp_and_associate_to_companies(own_api, table):
    company = table("hubspot_companies").slice(0, 1).to_pylist()[0]
    missing = own_api.hubspot("POST", "/crm/v3/objects/tasks", json={"properties": {"hs_task_subject": "Call"}})
    assert missing.status_code == 400 and "hs_timestamp" in missing.json()["message"]
    task = {
        "properties": {
            "hs_timestamp": "2026-11-08T09:00:00Z",
            "hs_task_subject": "Renewal rescue",
            "hs_task_body": "Usage down 45%",
            "hs_task_priority": "HIGH",
            "hubspot_owner_id": company["hubspot_owner_id"],
        },
        "associations": [
            {
                "to": {"id": company["id"]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
            }
        ],
    }
    created = own_api.hubspot("POST", "/crm/v3/objects/tasks", json=task)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["properties"]["hs_task_status"] == "NOT_STARTED"
    assert body["properties"]["hs_timestamp"] == "2026-11-08T09:00:00.000Z"
    task_id = body["id"]
    wrong_type = {
        **task,
        "associations": [
            {
                "to": {"id": company["id"]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 191}],
            }
        ],
    }
    assert own_api.hubspot("POST", "/crm/v3/objects/tasks", json=wrong_type).status_code == 400
    bad_owner = {"properties": {**task["properties"], "hubspot_owner_id": "1"}}
    assert "INVALID_OWNER_ID" in own_api.hubspot("POST", "/crm/v3/objects/tasks", json=bad_owner).json()["message"]

    links = own_api.hubspot(
        "POST", "/crm/v4/associations/companies/tasks/batch/read", json={"inputs": [{"id": company["id"]}]}
    ).json()
    assert [str(t["toObjectId"]) for t in links["results"][0]["to"]] == [task_id]
    assert links["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 191
    read = own_api.hubspot("GET", f"/crm/v3/objects/tasks/{task_id}", params={"associations": "companies"}).json()
    assert read["associations"]["companies"]["results"] == [{"id": company["id"], "type": "task_to_company"}]
    open_tasks, _ = own_api.search_all(
        "tasks",
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "associations.company", "operator": "EQ", "value": company["id"]},
                        {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
                    ]
                }
            ]
        },
    )
    assert [t["id"] for t in open_tasks] == [task_id]

    done = own_api.hubspot(
        "PATCH", f"/crm/v3/objects/tasks/{task_id}", json={"properties": {"hs_task_status": "COMPLETED"}}
    )
    assert done.status_code == 200 and done.json()["properties"]["hs_task_status"] == "COMPLETED"
    open_tasks, _ = own_api.search_all(
        "tasks",
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "associations.company", "operator": "EQ", "value": company["id"]},
                        {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
                    ]
                }
            ]
        },
    )
    assert open_tasks == []


def test_task_batches(own_api, table):
    owners = table("hubspot_owners").column("id").to_pylist()
    inputs = [
        {
            "properties": {
                "hs_timestamp": str(1_794_000_000_000 + i),
                "hs_task_subject": f"Task {i}",
                "hubspot_owner_id": owners[0],
            }
        }
        for i in range(3)
    ]
    created = own_api.hubspot("POST", "/crm/v3/objects/tasks/batch/create", json={"inputs": inputs})
    assert created.status_code == 201 and len(created.json()["results"]) == 3
    ids = [t["id"] for t in created.json()["results"]]
    updated = own_api.hubspot(
        "POST",
        "/crm/v3/objects/tasks/batch/update",
        json={"inputs": [{"id": i, "properties": {"hs_task_priority": "LOW"}} for i in ids]},
    )
    assert updated.status_code == 200 and {t["properties"]["hs_task_priority"] for t in updated.json()["results"]} == {
        "LOW"
    }
    listed = own_api.hubspot(
        "GET", "/crm/v3/objects/tasks", params={"limit": 100, "properties": "hs_task_subject"}
    ).json()
    assert [t["id"] for t in listed["results"]] == ids


def test_list_memberships_add_remove_and_page(own_api):
    created = own_api.hubspot(
        "POST",
        "/crm/v3/lists",
        json={"name": "At-risk accounts (nightly)", "objectTypeId": "0-2", "processingType": "MANUAL"},
    )
    assert created.status_code == 200
    the_list = created.json()["list"]
    list_id = the_list["listId"]
    assert the_list["processingType"] == "MANUAL" and the_list["objectTypeId"] == "0-2" and the_list["size"] == 0
    by_name = own_api.hubspot("GET", "/crm/v3/lists/object-type-id/0-2/name/at-risk accounts (nightly)")
    assert by_name.status_code == 200 and by_name.json()["list"]["listId"] == list_id
    dup = own_api.hubspot(
        "POST",
        "/crm/v3/lists",
        json={"name": "At-risk accounts (nightly)", "objectTypeId": "0-2", "processingType": "MANUAL"},
    )
    assert dup.status_code == 400

    ids = companies(own_api, 5)
    added = own_api.hubspot("PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=[*ids, "123"]).json()
    assert sorted(added["recordIdsAdded"]) == sorted(ids) and added["recordIdsMissing"] == ["123"]
    again = own_api.hubspot("PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=ids[:2]).json()
    assert again["recordIdsAdded"] == []
    removed = own_api.hubspot("PUT", f"/crm/v3/lists/{list_id}/memberships/remove", json=ids[:2]).json()
    assert sorted(removed["recordIdsRemoved"]) == sorted(ids[:2])

    members, after = [], None
    while True:
        page = own_api.hubspot(
            "GET",
            f"/crm/v3/lists/{list_id}/memberships",
            params={"limit": 2, **({"after": after} if after else {})},
        ).json()
        members += [m["recordId"] for m in page["results"]]
        assert page["total"] == 3
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert members == sorted(ids[2:], key=int)
    assert own_api.hubspot("GET", f"/crm/v3/lists/{list_id}").json()["list"]["size"] == 3
    assert own_api.hubspot("GET", "/crm/v3/lists/999").status_code == 404


def test_dynamic_lists_cannot_be_changed(own_api):
    dynamic = own_api.hubspot(
        "POST", "/crm/v3/lists", json={"name": "Dyn", "objectTypeId": "0-2", "processingType": "DYNAMIC"}
    )
    assert dynamic.status_code == 400  # the sandbox does not evaluate list filters


def test_writes_survive_a_restart(own_world, serve):
    with serve(own_world) as api:
        api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
        company = companies(api, 1)[0]
        api.hubspot("PATCH", f"/crm/v3/objects/companies/{company}", json={"properties": {"cs_health_score": "12"}})
        list_id = api.hubspot(
            "POST",
            "/crm/v3/lists",
            json={"name": "Keep", "objectTypeId": "0-2", "processingType": "SNAPSHOT"},
        ).json()["list"]["listId"]
        api.hubspot("PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=[company])
        task = api.hubspot(
            "POST",
            "/crm/v3/objects/tasks",
            json={"properties": {"hs_timestamp": "2026-11-09T00:00:00Z", "hs_task_subject": "Persist me"}},
        ).json()["id"]
    with serve(own_world) as api:
        read = api.hubspot("GET", f"/crm/v3/objects/companies/{company}", params={"properties": "cs_health_score"})
        assert read.json()["properties"]["cs_health_score"] == "12"
        assert api.hubspot("GET", f"/crm/v3/lists/{list_id}/memberships").json()["results"][0]["recordId"] == company
        assert "hs_task_subject" not in api.hubspot("GET", f"/crm/v3/objects/tasks/{task}").json()["properties"]
        assert (
            api.hubspot("GET", f"/crm/v3/objects/tasks/{task}", params={"properties": "hs_task_subject"}).json()[
                "properties"
            ]["hs_task_subject"]
            == "Persist me"
        )
        found, _ = api.search_all(
            "companies",
            {"filterGroups": [{"filters": [{"propertyName": "cs_health_score", "operator": "EQ", "value": "12"}]}]},
        )
        assert [c["id"] for c in found] == [company]


def test_world_reloads_after_advance_and_keeps_writes(own_world, serve):
    with serve(own_world) as api:
        url = api.base
        api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH)
        company = companies(api, 1)[0]
        api.hubspot("PATCH", f"/crm/v3/objects/companies/{company}", json={"properties": {"cs_health_score": "33"}})
        before = api.http.get(f"{url}/_admin/health").json()
        tickets_before = api.hubspot("POST", "/crm/v3/objects/tickets/search", json={"limit": 1}).json()["total"]
        done = subprocess.run(
            [sys.executable, "-m", "csops", "sandbox", "advance", "--dir", str(own_world), "--days", "7"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        after = api.http.get(f"{url}/_admin/health").json()
        assert after["today"] == "2026-11-08" and after["reloads"] == before["reloads"] + 1
        assert api.hubspot("POST", "/crm/v3/objects/tickets/search", json={"limit": 1}).json()["total"] > tickets_before
        read = api.hubspot("GET", f"/crm/v3/objects/companies/{company}", params={"properties": "cs_health_score"})
        assert read.json()["properties"]["cs_health_score"] == "33"
    assert json.loads((own_world / "manifest.json").read_text())["today"] == "2026-11-08"


def test_a_regenerated_sandbox_starts_with_an_empty_crm(own_world, serve):
    with serve(own_world) as api:
        assert api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH).status_code == 201
        (own_world / "crm.sqlite").unlink()  # what `csops sandbox generate` does to the CRM
        assert api.hubspot("GET", "/crm/v3/properties/companies/cs_health_score").status_code == 404
        assert api.hubspot("POST", "/crm/v3/properties/companies", json=HEALTH).status_code == 201
    assert (own_world / "crm.sqlite").exists() and not (own_world / "crm.sqlite-wal").exists()
