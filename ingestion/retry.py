"""Waiting out vendor outages: one retry policy for every API source, with a budget of minutes, not attempts.

dlt's default (5 attempts with exponential backoff) gives up after about 15 seconds, so a short HubSpot or Stripe
incident failed the nightly load. Vendors ask clients to back off exponentially with jitter and to honour
`Retry-After`; Stripe also says per response whether a retry can succeed (`Stripe-Should-Retry`), and HubSpot's
DAILY rate-limit policy will not lift before midnight. This module turns that guidance into a decision per response.

Settings (environment):
- CSOPS_RETRY_BUDGET_SECONDS (300): how long one request may keep retrying before the load fails.
- RUNTIME__REQUEST_BACKOFF_FACTOR (dlt's, 1): the first wait in seconds; each further wait doubles.
- RUNTIME__REQUEST_MAX_RETRY_DELAY (dlt's, 300): the longest single wait, and never more than a fifth of the budget
  (60 s by default), so a load notices within a minute that an outage is over.
- RUNTIME__REQUEST_TIMEOUT (dlt's, 60): a request that hangs longer counts as a failed attempt.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from requests import Response
from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout

from ingestion.errors import SourceError
from ingestion.settings import RetrySettings

BUDGET_VARIABLE = "CSOPS_RETRY_BUDGET_SECONDS"
DEFAULT_BUDGET_SECONDS = 300.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (ConnectionError, Timeout, ChunkedEncodingError)


class SourceUnavailableError(SourceError):
    """A vendor API kept failing (5xx, 429, timeouts) for longer than the retry budget, or said not to retry."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (waits of base, 2*base, 4*base... each drawn from its upper half, capped at
    `max_delay`), never shorter than the vendor's `Retry-After`, until `budget` seconds have passed for a request;
    an attempt that hangs `timeout` seconds counts as failed."""

    budget: float = DEFAULT_BUDGET_SECONDS
    base: float = 1.0
    max_delay: float = 300.0
    timeout: float = 60.0

    @classmethod
    def from_environment(cls) -> RetryPolicy:
        budget = RetrySettings.read().budget_seconds
        runtime = resolve_configuration(RuntimeConfiguration())
        return cls(
            budget,
            float(runtime.request_backoff_factor),
            min(float(runtime.request_max_retry_delay), budget / 5),
            float(runtime.request_timeout),
        )

    def backoff(self, attempt: int) -> float:
        """The wait after the `attempt`-th failure (1-based), jittered so many clients do not retry in step."""
        ceiling = min(self.max_delay, self.base * 2 ** min(attempt - 1, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after_seconds(response: Response) -> float | None:
    """The `Retry-After` header as seconds (delta-seconds or an HTTP date), or None."""
    header = (response.headers.get("Retry-After") or "").strip()
    if not header:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", header):
        return float(header)
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def refusal(response: Response) -> str | None:
    """Why the vendor says a retry cannot succeed soon, else None (then a retryable status is retried)."""
    if response.headers.get("Stripe-Should-Retry", "").lower() == "false":
        return "Stripe says this request should not be retried (Stripe-Should-Retry: false)"
    if response.status_code == 429:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("policyName") == "DAILY":
            return "HubSpot's daily request limit is used up (policyName DAILY); it resets at midnight (portal time)"
    return None


def send_with_retries(
    send: Callable[[], Response],
    describe: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Response:
    """`send()` until it answers with a status not worth retrying, the vendor refuses, or the budget is spent.

    `send` returns the response or raises; an HTTPError that carries a response (dlt's response hooks raise inside
    `send`) is judged by that response. `describe` names the source and endpoint in the error.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        error: BaseException | None = None
        try:
            response: Response | None = send()
        except TRANSIENT_ERRORS as exc:
            response, error = None, exc
        except Exception as exc:
            response = getattr(exc, "response", None)
            if not isinstance(response, Response) or response.status_code not in RETRY_STATUSES:
                raise
            error = exc
        if response is not None and response.status_code not in RETRY_STATUSES:
            return response
        last = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        reason = refusal(response) if response is not None else None
        if reason:
            raise SourceUnavailableError(f"{describe}: {reason} ({last}).") from error
        wait = policy.backoff(attempt)
        asked = retry_after_seconds(response) if response is not None else None
        if asked is not None:
            wait = max(wait, asked)
        elapsed = time.monotonic() - started
        if elapsed + wait > policy.budget:
            raise SourceUnavailableError(
                f"{describe}: still failing after {attempt} attempt(s) over {elapsed:.0f} s ({last}"
                + (f", Retry-After {asked:g} s" if asked is not None else "")
                + f"); the retry budget is {policy.budget:g} s. What earlier runs loaded is kept and the next run "
                f"resumes from there; to wait longer through an outage, raise {BUDGET_VARIABLE}."
            ) from error
        sleep(wait)


def describe_request(source: str, method: Any, url: Any) -> str:
    """'stripe: GET /v1/invoices' — the source and endpoint, without query strings (they may carry cursors)."""
    return f"{source}: {method or 'GET'} {urlsplit(str(url or '')).path}"
