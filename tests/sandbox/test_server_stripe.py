"""The Stripe side of the sandbox, read through Stripe's official Python SDK and raw HTTP."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest
import stripe

RETENTION = 30 * 86_400


@pytest.fixture
def client(api, manifest):
    return stripe.StripeClient(manifest["tokens"]["stripe"], base_addresses={"api": api.base + "/stripe"})


def cutoff(manifest) -> int:
    from datetime import UTC, date, datetime

    return int(datetime.combine(date.fromisoformat(manifest["today"]), datetime.min.time(), UTC).timestamp())


@pytest.mark.parametrize(
    "resource, table_name, params",
    [
        ("customers", "stripe_customers", {}),
        ("products", "stripe_products", {}),
        ("prices", "stripe_prices", {}),
        ("coupons", "stripe_coupons", {}),
        ("subscriptions", "stripe_subscriptions", {"status": "all"}),
        ("invoices", "stripe_invoices", {}),
    ],
)
def test_sdk_auto_paging_lists_every_object(client, table, resource, table_name, params):
    listed = list(getattr(client.v1, resource).list({"limit": 100, **params}).auto_paging_iter())
    expected = table(table_name).column("id").to_pylist()
    assert len(listed) == len(expected) and {o.id for o in listed} == set(expected)
    created = [o.created for o in listed]
    assert created == sorted(created, reverse=True)  # newest first


def test_subscriptions_default_excludes_canceled(client, table):
    statuses = table("stripe_subscriptions").column("status").to_pylist()
    default = list(client.v1.subscriptions.list({"limit": 100}).auto_paging_iter())
    assert len(default) == sum(1 for s in statuses if s != "canceled")
    canceled = list(client.v1.subscriptions.list({"limit": 100, "status": "canceled"}).auto_paging_iter())
    assert len(canceled) == statuses.count("canceled") > 0
    assert all(s.status == "canceled" and s.ended_at for s in canceled)


def test_sdk_events_cover_the_last_30_days_only(client, table, manifest):
    events = table("stripe_events")
    end = cutoff(manifest)
    created = events["created"]
    recent = events.filter(pc.and_(pc.greater_equal(created, end - RETENTION), pc.less(created, end)))
    listed = list(client.v1.events.list({"limit": 100}).auto_paging_iter())
    assert {e.id for e in listed} == set(recent.column("id").to_pylist()) and len(listed) == recent.num_rows
    old = events.filter(pc.less(created, end - RETENTION)).column("id")[0].as_py()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve(old)


def test_events_filter_by_type_and_render_current_objects(api, table, manifest):
    updated = api.stripe("/v1/events", params={"type": "customer.subscription.updated", "limit": 100}).json()
    assert updated["data"] and all(e["type"] == "customer.subscription.updated" for e in updated["data"])
    event = updated["data"][0]
    assert event["object"] == "event" and event["data"]["object"]["object"] == "subscription"
    assert "current_period_start" not in event["data"]["previous_attributes"]  # moved onto the item
    assert "current_period_start" in event["data"]["previous_attributes"]["items"]["data"][0]
    wildcard = api.stripe("/v1/events", params={"type": "invoice.*", "limit": 100}).json()["data"]
    several = api.stripe(
        "/v1/events", params=[("types[]", "invoice.paid"), ("types[]", "invoice.created"), ("limit", 100)]
    ).json()["data"]
    assert {e["type"].split(".")[0] for e in wildcard} == {"invoice"}
    assert {e["type"] for e in several} <= {"invoice.paid", "invoice.created"} and several
    created = api.stripe("/v1/events", params={"type": "invoice.created", "limit": 1}).json()["data"][0]
    assert "previous_attributes" not in created["data"]


def test_created_filters(client, table):
    created = table("stripe_invoices")["created"]
    pivot = int(pc.approximate_median(created).as_py())
    expected = pc.sum(pc.greater_equal(created, pivot)).as_py()
    listed = list(client.v1.invoices.list({"limit": 100, "created": {"gte": pivot}}).auto_paging_iter())
    assert len(listed) == expected and all(i.created >= pivot for i in listed)
    lt = list(client.v1.invoices.list({"limit": 100, "created": {"lt": pivot}}).auto_paging_iter())
    assert len(lt) + len(listed) == len(created)
    exact = list(client.v1.invoices.list({"limit": 100, "created": int(created[0].as_py())}).auto_paging_iter())
    assert exact and all(i.created == created[0].as_py() for i in exact)


def test_invoice_filters_and_current_shapes(api, table):
    invoices = table("stripe_invoices").to_pylist()
    sub = invoices[0]["subscription"]
    listed = api.stripe("/v1/invoices", params={"subscription": sub, "limit": 100}).json()["data"]
    assert {i["id"] for i in listed} == {i["id"] for i in invoices if i["subscription"] == sub}
    for invoice in listed:
        assert "subscription" not in invoice
        assert invoice["parent"]["subscription_details"]["subscription"] == sub
        assert set(invoice["status_transitions"]) == {
            "finalized_at",
            "marked_uncollectible_at",
            "paid_at",
            "voided_at",
        }
    paid = api.stripe("/v1/invoices", params={"status": "paid", "limit": 3}).json()["data"]
    assert paid and all(i["status"] == "paid" and i["status_transitions"]["paid_at"] for i in paid)
    assert api.stripe("/v1/invoices", params={"status": "bogus"}).status_code == 400


def test_invoice_lines_via_sdk(client, table):
    lines = table("stripe_invoice_lines")
    counts = pc.value_counts(lines["invoice"]).to_pylist()
    invoice_id = max(counts, key=lambda c: c["counts"])["values"]
    expected = lines.filter(pc.equal(lines["invoice"], invoice_id)).to_pylist()
    listed = list(client.v1.invoices.line_items.list(invoice_id, {"limit": 1}).auto_paging_iter())
    assert [ln.id for ln in listed] == [ln["id"] for ln in expected]
    for served, row in zip(listed, expected, strict=True):
        assert served.amount == row["amount"] and served.pricing.price_details.price == row["price"]
        assert served.parent.type == row["parent_type"]
        if row["parent_type"] == "subscription_item_details":
            details = served.parent.subscription_item_details
            assert details.subscription == row["subscription"] and details.proration is row["proration"]
        discounts = json.loads(row["discount_amounts"])
        assert [d.amount for d in served.discount_amounts] == [d["amount"] for d in discounts]


def test_subscription_shape_and_expansions(api, table):
    candidates = [s for s in table("stripe_subscriptions").to_pylist() if json.loads(s["discount_ids"])]
    served = {s["id"]: api.stripe(f"/v1/subscriptions/{s['id']}").json() for s in candidates}
    with_discount = next(s for s in candidates if served[s["id"]]["discounts"])  # a discount still running
    assert any(not served[s["id"]]["discounts"] for s in candidates)  # ended repeating ones leave
    plain = served[with_discount["id"]]
    item = plain["items"]["data"][0]
    assert isinstance(item["price"], dict) and item["price"]["object"] == "price"  # expanded by default
    assert {"current_period_start", "current_period_end"} <= set(item) and "current_period_start" not in plain
    assert all(isinstance(d, str) for d in plain["discounts"])
    expanded = api.stripe(
        "/v1/subscriptions",
        params=[
            ("customer", with_discount["customer"]),
            ("status", "all"),
            ("expand[]", "data.discounts"),
            ("expand[]", "data.customer"),
            ("expand[]", "data.items.data.price"),
        ],
    ).json()["data"]
    sub = next(s for s in expanded if s["id"] == with_discount["id"])
    assert sub["customer"]["object"] == "customer" and sub["customer"]["metadata"]["account_id"]
    assert sub["discounts"] and sub["discounts"][0]["object"] == "discount"
    assert isinstance(sub["discounts"][0]["source"]["coupon"], str)
    deep = api.stripe(f"/v1/subscriptions/{with_discount['id']}", params={"expand[]": "discounts.source.coupon"}).json()
    assert deep["discounts"][0]["source"]["coupon"]["object"] == "coupon"
    bad = api.stripe("/v1/subscriptions", params={"expand[]": "data.nothing"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "expand"


def test_cursor_paging_both_ways(api):
    first = api.stripe("/v1/customers", params={"limit": 5}).json()
    second = api.stripe("/v1/customers", params={"limit": 5, "starting_after": first["data"][-1]["id"]}).json()
    back = api.stripe("/v1/customers", params={"limit": 5, "ending_before": second["data"][0]["id"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]]
    assert back["has_more"] is False and first["has_more"] is True
    assert first["object"] == "list" and first["url"] == "/v1/customers"
    missing = api.stripe("/v1/customers", params={"starting_after": "cus_missing"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    "params, code, param",
    [
        ({"limit": "ten"}, "parameter_invalid_integer", "limit"),
        ({"limit": "0"}, None, "limit"),
        ({"limit": "101"}, None, "limit"),
        ({"created[gte]": "soon"}, "parameter_invalid_integer", "created[gte]"),
        ({"colour": "blue"}, "parameter_unknown", "colour"),
    ],
)
def test_invalid_parameters_get_stripes_400(api, params, code, param):
    response = api.stripe("/v1/customers", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error.get("code") == code


def test_single_objects_and_404(api, table):
    customer = table("stripe_customers").slice(0, 1).to_pylist()[0]
    served = api.stripe(f"/v1/customers/{customer['id']}")
    assert served.status_code == 200 and served.headers["Request-Id"].startswith("req_")
    body = served.json()
    assert body["metadata"]["account_id"] == customer["account_id"] and body["currency"] == customer["currency"]
    assert body["currency"] == body["currency"].lower()
    missing = api.stripe("/v1/invoices/in_nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such invoice: 'in_nope'",
        "param": "id",
        "type": "invalid_request_error",
    }


def test_deleted_customers_and_coupons_answer_as_stripe_does(api, table, manifest):
    customers = table("stripe_customers", live=False).to_pylist()
    deleted = [c for c in customers if c["deleted_at"] is not None]
    assert deleted and len(deleted) < len(customers)
    stub = api.stripe(f"/v1/customers/{deleted[0]['id']}")
    assert stub.status_code == 200 and stub.json() == {"id": deleted[0]["id"], "object": "customer", "deleted": True}
    listed = {
        c["id"] for c in api.stripe("/v1/customers", params={"limit": 100, "email": deleted[0]["email"]}).json()["data"]
    }
    assert deleted[0]["id"] not in listed
    # Its subscriptions stay, canceled, and still say whose they are.
    subs = api.stripe("/v1/subscriptions", params={"customer": deleted[0]["id"], "status": "all"}).json()["data"]
    assert all(s["metadata"]["account_id"] == deleted[0]["account_id"] for s in subs)
    recent = [c for c in deleted if c["deleted_at"] >= cutoff(manifest) - RETENTION]
    for customer in recent:  # the deletion event (30 days) carries the customer as it was
        events = api.stripe("/v1/events", params={"type": "customer.deleted"}).json()["data"]
        event = next(e for e in events if e["data"]["object"]["id"] == customer["id"])
        assert event["data"]["object"]["metadata"]["account_id"] == customer["account_id"]
        assert event["created"] == customer["deleted_at"]

    coupons = table("stripe_coupons", live=False).to_pylist()
    gone = next(c for c in coupons if c["deleted_at"] is not None)
    missing = api.stripe(f"/v1/coupons/{gone['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    assert gone["id"] not in {c["id"] for c in api.stripe("/v1/coupons", params={"limit": 100}).json()["data"]}
    # ...but the discounts that redeemed it still hold it, whole when expanded.
    discount = next(d for d in table("stripe_discounts").to_pylist() if d["coupon"] == gone["id"])
    invoices = api.stripe(
        "/v1/invoices",
        params={"subscription": discount["subscription"], "limit": 100, "expand[]": ["data.discounts.source.coupon"]},
    ).json()["data"]
    embedded = [d["source"]["coupon"] for i in invoices for d in i["discounts"] if isinstance(d, dict)]
    assert embedded and all(c["id"] == gone["id"] and c["duration"] == gone["duration"] for c in embedded)

    prices = table("stripe_prices", live=False).to_pylist()
    archived = next(p for p in prices if p["archived_at"] is not None)
    served = api.stripe(f"/v1/prices/{archived['id']}").json()
    assert served["active"] is False  # archived, still listed and retrievable


def test_amounts_are_integer_minor_units(api):
    invoice = api.stripe("/v1/invoices", params={"limit": 1, "status": "paid"}).json()["data"][0]
    for key in ("amount_due", "amount_paid", "amount_remaining", "subtotal", "total", "total_excluding_tax"):
        assert isinstance(invoice[key], int)
    assert invoice["total"] == invoice["total_excluding_tax"] + sum(t["amount"] for t in invoice["total_taxes"])


def test_auth_failures_get_stripes_401(api, manifest):
    url = f"{api.base}/stripe/v1/customers"
    assert api.http.get(url, auth=(manifest["tokens"]["stripe"], "")).status_code == 200  # basic auth, key as user
    for kwargs in (
        {},
        {"headers": {"Authorization": "Bearer sk_test_not_the_key_1234"}},
        {"auth": ("sk_bad", "")},
    ):
        response = api.http.get(url, **kwargs)
        assert response.status_code == 401 and response.headers["Request-Id"]
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and "api key" in error["message"].lower()
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_test_wrong", base_addresses={"api": api.base + "/stripe"}).v1.customers.list()


# ------------------------------------------------------------------------------------------------ API versions
def test_the_official_sdk_and_the_sandbox_speak_the_same_current_version(api):
    from ingestion.stripe import STRIPE_API_VERSION

    response = api.stripe("/v1/customers", params={"limit": 1})
    assert response.headers["Stripe-Version"] == stripe.api_version == STRIPE_API_VERSION


def test_without_a_version_header_the_account_default_answers_in_the_old_shapes(api, manifest):
    default = manifest["stripe_api_version"]
    assert default < "2025-03-31"  # an account opened before basil, as many are
    response = api.stripe("/v1/invoices", params={"limit": 20}, headers={"Stripe-Version": ""})
    assert response.headers["Stripe-Version"] == default
    invoice = next(i for i in response.json()["data"] if i["lines"]["data"] and i["subscription"])
    assert "parent" not in invoice
    line = invoice["lines"]["data"][0]
    assert "pricing" not in line and "parent" not in line
    assert line["price"]["object"] == "price" and line["type"] in ("subscription", "invoiceitem")
    assert isinstance(line["proration"], bool) and line["subscription"]


def test_an_old_version_moves_the_period_to_the_subscription_and_names_the_coupon_on_the_discount(api):
    old = {"Stripe-Version": "2024-06-20"}
    subs = api.stripe(
        "/v1/subscriptions", params={"limit": 100, "status": "all", "expand[]": "data.discounts"}, headers=old
    ).json()["data"]
    current = {
        s["id"]: s
        for s in api.stripe(
            "/v1/subscriptions", params={"limit": 100, "status": "all", "expand[]": "data.discounts"}
        ).json()["data"]
    }
    for sub in subs:
        item = current[sub["id"]]["items"]["data"][0]
        assert sub["current_period_end"] == item["current_period_end"]
        assert "current_period_end" not in sub["items"]["data"][0]
        assert "current_period_end" not in current[sub["id"]]
    discounted = [s for s in subs if s["discounts"]]
    assert discounted
    for sub in discounted:
        assert sub["discount"]["coupon"]["object"] == "coupon" and "source" not in sub["discount"]
        assert sub["discounts"][0]["coupon"]["id"] == current[sub["id"]]["discounts"][0]["source"]["coupon"]


def test_an_old_version_renders_events_in_that_version(api):
    event = api.stripe(
        "/v1/events",
        params={"type": "customer.subscription.updated", "limit": 1},
        headers={"Stripe-Version": "2024-06-20"},
    ).json()["data"][0]
    assert event["api_version"] == "2024-06-20"
    assert "current_period_end" in event["data"]["object"]


def test_an_unknown_version_is_stripes_400(api):
    response = api.stripe("/v1/customers", headers={"Stripe-Version": "2099-01-01"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid Stripe API version: 2099-01-01"
