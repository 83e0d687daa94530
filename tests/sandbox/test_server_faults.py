"""Faults on demand (CLI `--fault` / `POST /_admin/faults`), the admin API and `csops sandbox serve`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
import stripe

from sandbox.server.faults import FaultError, Faults

COMPANIES = "/crm/v3/objects/companies"


def statuses(call, n: int) -> list[int]:
    return [call().status_code for _ in range(n)]


def test_stripe_429_for_the_next_n_requests(api, manifest):
    api.faults("stripe:rate_limit:2")
    first = api.stripe("/v1/customers")
    assert first.status_code == 429
    assert first.json()["error"]["code"] == "rate_limit" and first.json()["error"]["type"] == "invalid_request_error"
    assert first.headers["Stripe-Should-Retry"] == "true" and first.headers["Request-Id"].startswith("req_")
    assert statuses(lambda: api.stripe("/v1/customers"), 2) == [429, 200]
    api.faults("stripe:rate_limit:1")  # the official SDK retries what Stripe says it should
    client = stripe.StripeClient(
        manifest["tokens"]["stripe"], base_addresses={"api": api.base + "/stripe"}, max_network_retries=1
    )
    assert len(client.v1.customers.list({"limit": 3}).data) == 3
    api.faults("stripe:rate_limit:1")
    with pytest.raises(stripe.RateLimitError):
        stripe.StripeClient(
            manifest["tokens"]["stripe"], base_addresses={"api": api.base + "/stripe"}, max_network_retries=0
        ).v1.customers.list()


def test_a_fraction_of_429s_is_the_same_on_every_run(api):
    api.faults("stripe:rate_limit:0.3")
    first = statuses(lambda: api.stripe("/v1/products"), 60)
    api.faults(*["hubspot:window:off", "hubspot:search_window:off", "typeform:window:off"], reset=True)
    api.faults("stripe:rate_limit:0.3")
    second = statuses(lambda: api.stripe("/v1/products"), 60)
    assert first == second and 8 <= first.count(429) <= 30 and set(first) == {200, 429}


def test_hubspot_ten_second_window(api):
    api.faults("hubspot:window:3/10")
    responses = [api.hubspot("GET", COMPANIES) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in responses[:3]] == ["2", "1", "0"]
    limited = responses[3]
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = limited.json()
    assert body["status"] == "error" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT" and body["correlationId"] and body["category"] == "RATE_LIMITS"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    search = api.hubspot("POST", f"{COMPANIES}/search", json={"limit": 1})
    assert search.status_code == 200  # search is outside the ten-secondly window


def test_hubspot_daily_limit_can_be_forced(api):
    api.faults("hubspot:rate_limit:1:daily")
    limited = api.hubspot("GET", COMPANIES)
    assert limited.status_code == 429 and limited.json()["policyName"] == "DAILY"
    assert api.hubspot("GET", COMPANIES).status_code == 200


def test_hubspot_responses_carry_every_rate_limit_header(api):
    api.clear_faults()  # the vendor's defaults: 190 per rolling 10 s, 19 a second
    first, second = (api.hubspot("GET", COMPANIES, params={"limit": 1}) for _ in range(2))
    headers = second.headers
    assert (
        headers["X-HubSpot-RateLimit-Max"] == "190" and headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    )
    assert int(headers["X-HubSpot-RateLimit-Remaining"]) < int(first.headers["X-HubSpot-RateLimit-Remaining"]) < 190
    assert headers["X-HubSpot-RateLimit-Secondly"] == "19"
    assert 0 <= int(headers["X-HubSpot-RateLimit-Secondly-Remaining"]) < 19
    assert int(headers["X-HubSpot-RateLimit-Daily"]) > int(headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0


def test_hubspot_default_window_is_190_per_10_seconds(api):
    api.clear_faults()  # back to the vendor defaults
    assert api.faults()["hubspot"]["window"] == "190/10"
    codes = statuses(lambda: api.hubspot("GET", COMPANIES, params={"limit": 1}), 191)
    assert codes[:190] == [200] * 190 and codes[190] == 429


def test_hubspot_search_has_its_own_limit(api):
    api.clear_faults()
    api.faults("hubspot:search_window:2/10")
    codes = statuses(lambda: api.hubspot("POST", f"{COMPANIES}/search", json={"limit": 1}), 3)
    assert codes == [200, 200, 429]
    limited = api.hubspot("POST", f"{COMPANIES}/search", json={"limit": 1}).json()
    assert limited["policyName"] == "SECONDLY"
    assert api.hubspot("GET", COMPANIES).status_code == 200


def test_typeform_two_requests_per_second_by_default(api):
    api.clear_faults()
    path = f"/forms/{api.form_id}/responses"
    codes = statuses(lambda: api.typeform(path, params={"page_size": 1}), 3)
    assert codes == [200, 200, 429]
    time.sleep(1.05)
    assert api.typeform(path, params={"page_size": 1}).status_code == 200


def test_server_error_bursts(api):
    api.faults("hubspot:server_error:2:503:7", "stripe:server_error:3:mixed", "typeform:server_error:1")
    first = api.hubspot("GET", COMPANIES)
    assert first.status_code == 503 and first.headers["Retry-After"] == "7" and first.json()["status"] == "error"
    assert statuses(lambda: api.hubspot("GET", COMPANIES), 2) == [503, 200]
    stripe_codes = statuses(lambda: api.stripe("/v1/coupons"), 4)
    assert stripe_codes == [500, 502, 503, 200]
    failed = api.stripe("/v1/coupons")
    assert failed.status_code == 200
    api.faults("stripe:server_error:1")
    assert api.stripe("/v1/coupons").json()["error"]["type"] == "api_error"
    assert statuses(lambda: api.typeform(f"/forms/{api.form_id}"), 2) == [500, 200]


def test_latency(api):
    api.faults("typeform:latency:300")
    started = time.monotonic()
    assert api.typeform(f"/forms/{api.form_id}").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.stripe("/v1/products")
    assert time.monotonic() - started < 0.3  # only the faulted vendor is slow


def test_malformed_rows_every_object_with_a_named_field(api):
    api.faults("hubspot:malformed:1:numberofemployees", "stripe:malformed:1:quantity", "typeform:malformed:1:score")
    companies = api.hubspot("GET", COMPANIES, params={"limit": 20, "properties": "numberofemployees"}).json()
    assert {c["properties"]["numberofemployees"] for c in companies["results"]} == {"about 120"}
    subs = api.stripe("/v1/subscriptions", params={"limit": 20}).json()["data"]
    assert all(s["items"]["data"][0]["quantity"] < 0 for s in subs)
    items = api.typeform(f"/forms/{api.form_id}/responses", params={"page_size": 20}).json()["items"]
    assert {a["number"] for i in items for a in i["answers"] if a["type"] == "number"} == {11}


def test_malformed_rows_are_a_deterministic_fraction(api):
    api.faults("hubspot:malformed:0.3", "stripe:malformed:0.3")
    params = {"limit": 100, "properties": "numberofemployees,name"}
    first = api.hubspot("GET", COMPANIES, params=params).json()["results"]
    again = api.hubspot("GET", COMPANIES, params=params).json()["results"]
    assert first == again  # the same objects are broken the same way on every read
    bad = [
        c
        for c in first
        if "id" not in c
        or not c["properties"]["numberofemployees"].isdigit()
        or not c["properties"]["hs_lastmodifieddate"].endswith("Z")
    ]
    assert 10 <= len(bad) <= 50 and any("id" not in c for c in bad)
    invoices = api.stripe("/v1/invoices", params={"limit": 100}).json()["data"]
    odd = [i for i in invoices if "id" not in i or isinstance(i["amount_due"], str) or i["currency"].isupper()]
    assert 10 <= len(odd) <= 50


def test_renamed_fields(api):
    api.faults("typeform:rename:account_id=accountid", "hubspot:rename:numberofemployees=employees")
    item = api.typeform(f"/forms/{api.form_id}/responses", params={"page_size": 1}).json()["items"][0]
    assert "accountid" in item["hidden"] and "account_id" not in item["hidden"]
    company = api.hubspot("GET", COMPANIES, params={"limit": 1, "properties": "numberofemployees"}).json()
    assert "employees" in company["results"][0]["properties"]
    assert "numberofemployees" not in company["results"][0]["properties"]


def test_bad_fault_specs_are_rejected():
    for spec in (
        "stripe",
        "paypal:rate_limit:1",
        "stripe:explode:1",
        "stripe:rate_limit:-1",
        "stripe:window:x",
        "typeform:search_cap:5",
        "hubspot:server_error:1:418",
        "hubspot:rename:oops",
    ):
        with pytest.raises(FaultError):
            Faults(specs=[spec])


def test_admin_rejects_bad_specs_and_describes_faults(api):
    response = api.http.post(f"{api.base}/_admin/faults", json={"faults": ["stripe:explode"]})
    assert response.status_code == 400 and "unknown kind" in response.json()["error"]
    described = api.faults("all:latency:5")
    assert {v["latency_ms"] for v in described.values()} == {5}
    api.http.delete(f"{api.base}/_admin/faults", params={"vendor": "stripe"})
    assert api.faults()["stripe"]["latency_ms"] == 0 and api.faults()["hubspot"]["latency_ms"] == 5


def test_request_counters(api):
    api.reset_requests()
    api.hubspot("GET", COMPANIES)
    api.hubspot("GET", COMPANIES)
    api.stripe("/v1/nothing")
    api.typeform("/forms/x", headers={"Authorization": "bearer nope"})
    counts = api.requests()
    assert counts["total"] == 4
    assert counts["paths"]["GET /hubspot/crm/v3/objects/companies"] == {
        "vendor": "hubspot",
        "count": 2,
        "statuses": {"200": 2},
    }
    assert counts["vendors"]["stripe"]["statuses"] == {"404": 1}
    assert counts["vendors"]["typeform"]["statuses"] == {"401": 1}
    api.reset_requests()
    assert api.requests()["total"] == 0
    assert api.http.get(f"{api.base}/_admin/health").json()["status"] == "ok"


def test_faults_given_at_start(own_world, serve):
    with serve(own_world, faults=["stripe:rate_limit:1", "hubspot:window:off"]) as api:
        assert statuses(lambda: api.stripe("/v1/products"), 2) == [429, 200]


def test_cli_serve_prints_its_urls_and_applies_faults(own_world, manifest):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csops",
            "sandbox",
            "serve",
            "--dir",
            str(own_world),
            "--port",
            "0",
            "--fault",
            "stripe:rate_limit:1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(
            r"sandbox serving (http://127\.0\.0\.1:(\d+)) \(hubspot: \1/hubspot, stripe: \1/stripe, "
            r"typeform: \1/typeform\)\n",
            line,
        )
        assert match, line
        url = match.group(1) + "/stripe/v1/products"
        headers = {"Authorization": f"Bearer {manifest['tokens']['stripe']}"}
        assert requests.get(url, headers=headers, timeout=30).status_code == 429  # the socket listens already
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
