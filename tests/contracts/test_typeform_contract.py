"""Every Typeform exchange of a full load, validated against the types Typeform's official client declares
(@typeform/api-client, the version the committed npm lock pins, installed with `npm ci`): each Responses API page
against `Typeform.API.Responses.List` (items: `Typeform.Response`), each request's query parameters against the
arguments of the client's `responses.list` (camelCase there, snake_case on the wire)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.contracts.recorder import of_vendor
from tests.contracts.shares import Checked, Deviation, report, unexplained
from tests.contracts.ts_types import Declarations, problems
from tests.support import install_typeform_client

KNOWN_DEVIATIONS = [
    Deviation(
        r"\.items\[\d+\]\.(token|landing_id|response_type|metadata\.browser): not declared by the client's types$",
        "The client's `Typeform.Response` type omits `token`, `landing_id`, `response_type` and `metadata.browser`, "
        "which Typeform's Responses API reference documents on every response; `token` is the `after`/`before` "
        "cursor (the official client's own paging reads it). The sandbox serves them as the API does.",
    ),
]
# How the client's `responses.list` arguments are named on the wire (its responses.js renames these two).
WIRE_NAMES = {"pageSize": "page_size", "ids": "included_response_ids"}


@pytest.fixture(scope="module")
def client_types(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_typeform_client(tmp_path_factory.mktemp("typeform-types")) / "node_modules/@typeform/api-client/dist"


def list_arguments(dist: Path) -> set[str]:
    """The query parameters the client's `responses.list` can send, read from its declaration."""
    declaration = (dist / "responses.d.ts").read_text()
    args = re.search(r"list\(args: \{(.*?)\}\)", declaration, re.S).group(1)
    names = re.findall(r"(\w+)\??:", args)
    return {WIRE_NAMES.get(n, n) for n in names if n not in ("uid", "page")}


def test_every_typeform_exchange_validates_against_the_client_types(recorded, client_types, record_property):
    declarations = Declarations(client_types / "typeform-types.d.ts")
    envelope = declarations.interface("Responses.List")
    allowed = list_arguments(client_types)
    results = []
    for exchange in of_vendor(recorded, "typeform"):
        assert exchange.status == 200, f"{exchange.endpoint} answered {exchange.status}"
        endpoint = re.sub(r"/forms/[^/]+/", "/forms/{form_id}/", exchange.endpoint)
        unknown = [f"{k}: not an argument of the client's responses.list" for k in exchange.query if k not in allowed]
        results.append(Checked(endpoint, "request", tuple(unknown)))
        found = problems(exchange.response_body, envelope, declarations, "Responses.List")
        results.append(Checked(endpoint, "response", tuple(found)))
    assert results, "the load made no Typeform request"
    report("Typeform", results, KNOWN_DEVIATIONS, record_property)
    failures = unexplained(results, KNOWN_DEVIATIONS)
    assert not failures, "\n".join(failures)
