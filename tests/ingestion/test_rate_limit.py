"""The one client-side rate limiter (ingestion/rate_limit.py, shared with the CRM push) against the sandbox's own
rolling windows: the server counts every request per window and answers 429 past its limit, so zero 429s on the
server's side proves the client never sent more than the window allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ingestion.http import vendor_client
from ingestion.rate_limit import Limit, RateLimiter
from sandbox.connect import environment
from sandbox.server.app import running_server

REQUESTS = 16
OWNERS = "/crm/v3/owners/"


@pytest.fixture(scope="module")
def hubspot(sandbox_dir: Path) -> Iterator[tuple[str, str, str]]:
    """(sandbox URL, HubSpot base URL, token) of a server of the session's company (read only here) whose portal
    allows 5 requests per rolling second."""
    with running_server(sandbox_dir, faults=["hubspot:window:5/1"]) as url:
        env = environment(sandbox_dir, url)
        yield url, env["SOURCES__HUBSPOT__BASE_URL"], env["SOURCES__HUBSPOT__ACCESS_TOKEN"]


def served(url: str) -> dict[str, int]:
    """The HTTP statuses the sandbox's HubSpot answered since the last reset, by status."""
    return requests.get(f"{url}/_admin/requests", timeout=10).json()["vendors"]["hubspot"]["statuses"]


def reset(url: str) -> None:
    requests.delete(f"{url}/_admin/requests", timeout=10).raise_for_status()


def test_without_a_client_limit_the_server_window_rejects_a_burst(hubspot: tuple[str, str, str]) -> None:
    url, base, token = hubspot
    time.sleep(1)  # nothing of an earlier test left in the window
    reset(url)
    with requests.Session() as session:
        for _ in range(REQUESTS):
            session.get(base + OWNERS, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert served(url).get("429", 0) > 0  # the server's window does count: the test below can fail


def test_the_limiter_keeps_a_source_under_the_window_the_server_counts(hubspot: tuple[str, str, str]) -> None:
    url, base, token = hubspot
    limiter = RateLimiter("hubspot", {"default": Limit.per_second(4)})
    client = vendor_client("hubspot", base, token, "SOURCES__HUBSPOT__ACCESS_TOKEN", limiter=limiter)
    time.sleep(1)
    reset(url)
    for _ in range(REQUESTS):
        assert client.get(OWNERS).status_code == 200
    assert served(url) == {"200": REQUESTS}


def test_a_portal_budget_spent_by_other_apps_holds_the_source_instead_of_meeting_429s(
    hubspot: tuple[str, str, str],
) -> None:
    url, base, token = hubspot
    time.sleep(1)
    reset(url)
    with requests.Session() as other_app:  # another app of the same portal spends all but one request
        for _ in range(4):
            other_app.get(base + OWNERS, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    roomy = RateLimiter("hubspot", {"default": [Limit(100, 10)]})  # far above the portal's 5/1: only headers help
    client = vendor_client("hubspot", base, token, "SOURCES__HUBSPOT__ACCESS_TOKEN", limiter=roomy)
    for _ in range(REQUESTS - 4):
        assert client.get(OWNERS).status_code == 200
    assert served(url) == {"200": REQUESTS}  # the last request of the window said Remaining: 0, and it held


def spent(header: str) -> requests.Response:
    """A HubSpot response saying one of the portal's windows is spent."""
    response = requests.Response()
    response.status_code = 200
    response.headers["X-HubSpot-RateLimit-Remaining"] = "0" if header == "window" else "50"
    response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
    response.headers["X-HubSpot-RateLimit-Secondly-Remaining"] = "0" if header == "secondly" else "5"
    return response


@pytest.mark.parametrize(("header", "window"), [("secondly", 1.0), ("window", 10.0)])
def test_a_spent_window_holds_until_our_earliest_request_in_it_has_left_not_a_window_from_now(
    header: str, window: float
) -> None:
    """Holding a whole window from the response idles up to a window after every burst (a full HubSpot load ran at 12
    requests/s against the portal's 19): the hold ends when the earliest of our requests in the window leaves it."""
    limiter = RateLimiter("hubspot", {"default": ()})
    limiter.acquire()
    first = time.monotonic()
    time.sleep(0.4)
    limiter.acquire()
    limiter.observe(spent(header))
    answered = time.monotonic()
    assert first + window <= limiter._not_before <= first + window + 0.1
    assert limiter._not_before < answered + window - 0.3  # not a whole window from the answer
