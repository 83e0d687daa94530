"""The Typeform side of the sandbox, read through Typeform's official JS client (run by node) and raw HTTP.

The official client is JavaScript (@typeform/api-client); its exact version is pinned by the committed
package-lock.json and installed with `npm ci` into a temporary copy (the npm registry is the only network
used).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tests.support import install_typeform_client


@pytest.fixture(scope="session")
def typeform_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_typeform_client(tmp_path_factory.mktemp("typeform-client"))


def test_official_js_client_pages_every_response(typeform_client, api, manifest, table):
    done = subprocess.run(
        [
            "node",
            "list_responses.cjs",
            api.base + "/typeform",
            manifest["tokens"]["typeform"],
            manifest["typeform_form_id"],
        ],
        cwd=typeform_client,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    responses = table("typeform_responses")
    expected = set(responses.column("response_id").to_pylist())

    assert seen["form"]["id"] == manifest["typeform_form_id"]
    assert {f["ref"]: f["type"] for f in seen["form"]["fields"]} == {
        "nps_score": "nps",
        "nps_reason": "long_text",
    }
    assert seen["form"]["hidden"] == ["account_id", "email"]

    assert seen["auto"]["total_items"] == len(expected) and set(seen["auto"]["ids"]) == expected
    assert len(seen["before"]) == len(expected) and set(seen["before"]) == expected
    assert len(seen["after"]) == len(expected) and set(seen["after"]) == expected  # nothing repeats

    first = seen["first"]
    row = responses.filter(pc.equal(responses["response_id"], first["response_id"])).to_pylist()[0]
    assert first["token"] == first["landing_id"] == row["response_id"]
    assert first["hidden"] == {"account_id": row["account_id"], "email": row["email"]}
    nps = next(a for a in first["answers"] if a["field"]["ref"] == "nps_score")
    assert nps["type"] == "number" and nps["number"] == row["score"]

    since = datetime(2026, 8, 1, tzinfo=UTC)
    assert seen["since"]["total_items"] == pc.sum(pc.greater_equal(responses["submitted_at"], since)).as_py()
    assert all(s >= "2026-08-01T00:00:00Z" for s in seen["since"]["submitted"])
    assert seen["authError"]["code"] == "AUTHENTICATION_FAILED"


def test_default_order_is_newest_first_and_before_continues(api):
    path = f"/forms/{api.form_id}/responses"
    first = api.typeform(path, params={"page_size": 10}).json()
    stamps = [i["submitted_at"] for i in first["items"]]
    assert stamps == sorted(stamps, reverse=True) and first["page_count"] == -(-first["total_items"] // 10)
    older = api.typeform(path, params={"page_size": 10, "before": first["items"][-1]["token"]}).json()
    assert older["items"][0]["submitted_at"] <= stamps[-1]
    assert not {i["token"] for i in older["items"]} & {i["token"] for i in first["items"]}


def test_after_traversal_is_in_processing_order(api, table):
    """An incremental reader remembers the newest token and later asks for what came `after` it."""
    path = f"/forms/{api.form_id}/responses"
    tokens, after = [], None
    while True:  # oldest first: sorted ascending, then `after` the last token
        params = {"after": after} if after else {"sort": "submitted_at,asc"}
        page = api.typeform(path, params={"page_size": 200, **params}).json()
        if not page["items"]:
            break
        tokens += [i["token"] for i in page["items"]]
        after = tokens[-1]
    assert len(tokens) == len(set(tokens)) == table("typeform_responses").num_rows
    stamps = [
        api.typeform(path, params={"included_response_ids": t}).json()["items"][0]["submitted_at"] for t in tokens[:5]
    ]
    assert stamps == sorted(stamps)


def test_since_and_until_bound_submitted_at(api, table):
    path = f"/forms/{api.form_id}/responses"
    responses = table("typeform_responses")
    low, high = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    expected = pc.sum(
        pc.and_(pc.greater_equal(responses["submitted_at"], low), pc.less_equal(responses["submitted_at"], high))
    ).as_py()
    iso = api.typeform(path, params={"since": "2025-06-01T00:00:00Z", "until": "2025-12-31T00:00:00Z"}).json()
    unix = api.typeform(path, params={"since": int(low.timestamp()), "until": int(high.timestamp())}).json()
    assert iso["total_items"] == unix["total_items"] == expected > 0


def test_invalid_parameters_and_unknown_form(api):
    path = f"/forms/{api.form_id}/responses"
    for params in (
        {"page_size": 1001},
        {"page_size": "x"},
        {"since": "last week"},
        {"sort": "score,asc"},
        {"after": "nope"},
        {"after": "x", "sort": "submitted_at,asc"},
    ):
        response = api.typeform(path, params=params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "VALIDATION_ERROR" and response.json()["details"]
    missing = api.typeform("/forms/nope/responses")
    assert missing.status_code == 404 and missing.json()["code"] == "FORM_NOT_FOUND"


def test_auth_failure_gets_typeforms_401(api):
    for headers in ({}, {"Authorization": "bearer tfp_wrong"}):
        response = api.http.get(f"{api.base}/typeform/forms/{api.form_id}/responses", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "code": "AUTHENTICATION_FAILED",
            "description": "Authentication credentials not found on the Request Headers",
        }


def test_recent_responses_stay_hidden_until_processed_and_after_follows_processing_order(tmp_path):
    """Inside a survey wave some responses are submitted but not yet returned; `after` pages in the order
    responses became visible, which is not submission order."""
    from datetime import date

    import pyarrow.parquet as pq
    import requests

    from sandbox.generator.world import generate
    from sandbox.manifest import Manifest, resolve_scale
    from sandbox.server.app import running_server

    generate(tmp_path, 42, resolve_scale("tiny"), date(2026, 11, 16))
    manifest = Manifest.read(tmp_path)
    rows = pq.read_table(tmp_path / "world" / "typeform_responses.parquet").to_pylist()
    cutoff = datetime(2026, 11, 16, tzinfo=UTC)
    shown = sorted((r for r in rows if r["visible_at"] < cutoff), key=lambda r: (r["visible_at"], r["response_id"]))
    hidden = [r for r in rows if r["visible_at"] >= cutoff]
    assert hidden and all(r["submitted_at"] < cutoff for r in hidden)
    with running_server(tmp_path, faults=["typeform:window:off"]) as url:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {manifest.tokens['typeform']}"
        path = f"{url}/typeform/forms/{manifest.typeform_form_id}/responses"
        assert http.get(path, params={"page_size": 1}).json()["total_items"] == len(shown)
        page = http.get(path, params={"page_size": 1000, "after": shown[0]["response_id"]}).json()
        assert [i["token"] for i in page["items"]] == [r["response_id"] for r in shown[1:]]
        submitted = [i["submitted_at"] for i in page["items"]]
        assert submitted != sorted(submitted)  # processing order is not submission order
        http.post(f"{url}/_admin/faults", json={"faults": ["typeform:late_visibility:off"]}).raise_for_status()
        assert http.get(path, params={"page_size": 1}).json()["total_items"] == len(rows)


def test_the_hubspot_portal_and_the_stripe_account_identify_the_company(api, manifest):
    from sandbox.manifest import Manifest

    company = Manifest(**{**manifest, "start_date": date.fromisoformat(manifest["start_date"])})
    details = api.hubspot("GET", "/account-info/v3/details")
    assert details.status_code == 200 and details.json()["portalId"] == company.hubspot_portal_id
    account = api.stripe("/v1/account")
    assert account.status_code == 200 and account.json()["id"] == company.stripe_account_id
    assert account.json()["object"] == "account"
    other = Manifest(**{**manifest, "seed": manifest["seed"] + 1, "start_date": company.start_date})
    assert other.hubspot_portal_id != company.hubspot_portal_id
    assert other.stripe_account_id != company.stripe_account_id
