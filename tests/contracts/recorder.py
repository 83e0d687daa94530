"""Captures every HTTP exchange the product makes, at the client, over real HTTP: a wrapper around requests'
transport adapter (`HTTPAdapter.send`), through which both dlt's RESTClient (ingestion) and the CRM push's
requests session (activation) send. The sandbox's own request log only counts requests; contract tests need the
bodies, so they are taken where the product sends and receives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.adapters import HTTPAdapter


@dataclass(frozen=True)
class Exchange:
    """One request the product sent and the response it got (bodies parsed as JSON; None when empty)."""

    vendor: str
    method: str
    path: str  # the vendor's own path, without the sandbox's /<vendor> prefix
    query: dict[str, list[str]]
    headers: dict[str, str]
    request_body: Any
    status: int
    response_body: Any

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


def _json(raw: bytes | str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")


@contextmanager
def recording(base_url: str) -> Iterator[list[Exchange]]:
    """Record every exchange with the sandbox at `base_url` while the block runs."""
    exchanges: list[Exchange] = []
    send = HTTPAdapter.send

    def recorded_send(adapter: HTTPAdapter, request, *args: Any, **kwargs: Any):
        response = send(adapter, request, *args, **kwargs)
        if request.url.startswith(base_url + "/"):
            parts = urlsplit(request.url)
            vendor, _, path = parts.path.lstrip("/").partition("/")
            exchanges.append(
                Exchange(
                    vendor=vendor,
                    method=request.method,
                    path="/" + path,
                    query=parse_qs(parts.query),
                    headers=dict(request.headers),
                    request_body=_json(request.body),
                    status=response.status_code,
                    response_body=_json(response.content),
                )
            )
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HTTPAdapter, "send", recorded_send)
        yield exchanges


def of_vendor(exchanges: list[Exchange], vendor: str) -> list[Exchange]:
    """The recorded exchanges with one vendor ("hubspot", "stripe", "typeform")."""
    return [e for e in exchanges if e.vendor == vendor]
