"""The validators are only worth their pass if they fail on a broken body: recorded bodies, each broken in one way
a vendor contract forbids, must be reported (so a 100% share means something)."""

from __future__ import annotations

import copy

import hubspot.crm.objects as objects
import hubspot.crm.owners as owners

from tests.contracts.recorder import of_vendor
from tests.contracts.sdk_models import validate
from tests.contracts.test_stripe_contract import response_problems


def first(recorded, vendor: str, method: str, path_part: str):
    return next(e for e in of_vendor(recorded, vendor) if e.method == method and path_part in e.path)


def test_hubspot_wrong_types_and_missing_required_fields_are_reported(recorded):
    owners_page = first(recorded, "hubspot", "GET", "/crm/v3/owners").response_body
    assert validate(owners_page, "CollectionResponsePublicOwnerForwardPaging", owners) == []
    broken = copy.deepcopy(owners_page)
    broken["results"][0]["archived"] = "false"  # a string where the spec says boolean
    assert any(
        "archived: expected bool" in p for p in validate(broken, "CollectionResponsePublicOwnerForwardPaging", owners)
    )

    search = first(recorded, "hubspot", "POST", "/objects/companies/search").response_body
    model = "CollectionResponseWithTotalSimplePublicObjectForwardPaging"
    broken = copy.deepcopy(search)
    del broken["results"][0]["createdAt"]  # required by SimplePublicObject
    assert any("created_at" in p for p in validate(broken, model, objects))
    broken = copy.deepcopy(search)
    broken["results"][0]["properties"]["name"] = 7  # property values are strings
    assert any("properties.name: expected str" in p for p in validate(broken, model, objects))


def test_stripe_wrong_types_and_missing_reads_are_reported(recorded):
    invoices = copy.deepcopy(first(recorded, "stripe", "GET", "/v1/invoices").response_body)
    assert response_problems(invoices, "/v1/invoices") == []
    invoices["data"][0]["total"] = "100"
    line = invoices["data"][0]["lines"]["data"][0]
    line["period"]["start"] = "2026-10-01"  # a timestamp is an integer
    del line["pricing"]
    problems = "\n".join(response_problems(invoices, "/v1/invoices"))
    assert ".total: expected int" in problems and "period.start: expected int" in problems
    assert "pricing: missing (the product reads it)" in problems
