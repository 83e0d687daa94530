"""Throughput of the sandbox server: a full paging of every object, in requests and rows per second.

    python -m sandbox.server.bench DIR

Runs the server in-process with the vendors' rate limits off (they would measure the limits, not the server)
and pages like a client would (HubSpot limit 100 / search 200, Stripe limit 100, Typeform page_size 1000) over
one keep-alive HTTP connection. The client's JSON decoding is part of the figures, as it is for a real loader.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from sandbox.server.stripe.versions import CURRENT_VERSION

NO_LIMITS = ["hubspot:window:off", "hubspot:search_window:off", "typeform:window:off", "stripe:window:off"]
HUBSPOT_OBJECTS = ("companies", "contacts", "deals", "tickets", "notes", "calls", "meetings")
STRIPE_OBJECTS = ("customers", "products", "prices", "coupons", "subscriptions", "invoices", "events")


@dataclass
class Result:
    vendor: str
    what: str
    rows: int
    requests: int
    seconds: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _timed(vendor: str, what: str, pages: Iterator[int]) -> Result:
    started, rows, count = time.perf_counter(), 0, 0
    for n in pages:
        rows, count = rows + n, count + 1
    return Result(vendor, what, rows, count, time.perf_counter() - started)


def bench(directory: Path) -> list[Result]:
    """Page every object of the sandbox in `directory` once; one Result per object."""
    manifest = Manifest.read(directory)
    tokens = manifest.tokens
    results = []
    with running_server(directory, faults=NO_LIMITS) as base, requests.Session() as http:

        def get(url: str, token: str, **params: Any) -> dict[str, Any]:
            # Stripe in the current version, as the product pins it (the account default is an older one).
            headers = {"Authorization": f"Bearer {token}", "Stripe-Version": CURRENT_VERSION}
            response = http.get(url, params=params, headers=headers, timeout=60)
            response.raise_for_status()
            return response.json()

        def hubspot_list(kind: str) -> Iterator[int]:
            after = None
            while True:
                page = get(
                    f"{base}/hubspot/crm/v3/objects/{kind}",
                    tokens["hubspot"],
                    limit=100,
                    **({"after": after} if after else {}),
                )
                yield len(page["results"])
                after = page.get("paging", {}).get("next", {}).get("after")
                if not after:
                    return

        def hubspot_search(kind: str) -> Iterator[int]:
            after = None
            while True:
                response = http.post(
                    f"{base}/hubspot/crm/v3/objects/{kind}/search",
                    headers={"Authorization": f"Bearer {tokens['hubspot']}"},
                    json={"limit": 200, **({"after": after} if after else {})},
                    timeout=60,
                )
                if response.status_code == 400:  # the 10,000-result cap
                    return
                page = response.json()
                yield len(page["results"])
                after = page.get("paging", {}).get("next", {}).get("after")
                if not after:
                    return

        def stripe_list(kind: str) -> Iterator[int]:
            params: dict[str, Any] = {"limit": 100, **({"status": "all"} if kind == "subscriptions" else {})}
            while True:
                page = get(f"{base}/stripe/v1/{kind}", tokens["stripe"], **params)
                yield len(page["data"])
                if not page["has_more"]:
                    return
                params["starting_after"] = page["data"][-1]["id"]

        def typeform_responses() -> Iterator[int]:
            params: dict[str, Any] = {"page_size": 1000, "sort": "submitted_at,asc"}
            url = f"{base}/typeform/forms/{manifest.typeform_form_id}/responses"
            while True:
                items = get(url, tokens["typeform"], **params)["items"]
                yield len(items)
                if not items:
                    return
                params = {"page_size": 1000, "after": items[-1]["token"]}

        plan: list[tuple[str, str, Callable[[], Iterator[int]]]] = []
        plan += [("hubspot", f"{k} (list)", lambda k=k: hubspot_list(k)) for k in HUBSPOT_OBJECTS]
        plan += [("hubspot", f"{k} (search)", lambda k=k: hubspot_search(k)) for k in ("companies", "tickets")]
        plan += [("stripe", k, lambda k=k: stripe_list(k)) for k in STRIPE_OBJECTS]
        plan += [("typeform", "responses", typeform_responses)]
        for vendor, what, pages in plan:
            results.append(_timed(vendor, what, pages()))
    return results


def report(results: list[Result]) -> str:
    lines = [f"{'vendor':9} {'object':22} {'rows':>8} {'requests':>8} {'seconds':>8} {'req/s':>7} {'rows/s':>8}"]
    for r in results:
        lines.append(
            f"{r.vendor:9} {r.what:22} {r.rows:8d} {r.requests:8d} {r.seconds:8.2f} "
            f"{r.requests_per_second:7.0f} {r.rows_per_second:8.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="a generated sandbox (csops sandbox generate --out DIR)")
    print(report(bench(parser.parse_args().directory)), flush=True)


if __name__ == "__main__":
    main()
