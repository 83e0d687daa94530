"""HTTP for CRM adapters: `requests` for the transport, tenacity for retries, and the client-side rate limiter the
dlt sources use too (ingestion/rate_limit.py, pyrate-limiter), so the sync stays under the vendor's rate limit
instead of discovering it through 429s; where the vendor reports its remaining budget in response headers (shared
with every other app on the account), a spent budget holds the limiter until it refills.

Retries: 429 always (the request was not processed); 5xx and timeouts only for idempotent requests (updates, list
changes, reads). For creates those raise `AmbiguousWrite` instead: the caller looks the rows up before trying
again. `Retry-After` is honoured when present, otherwise exponential backoff with jitter, for at most
`max_retry_seconds` per request. Secrets never appear in messages: errors quote the method, path and body only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from activation.crm.base import AmbiguousWrite, CrmAuthError, CrmUnavailable
from ingestion.rate_limit import RateLimiter


class _Transient(Exception):
    """A response worth retrying (429, or 5xx on an idempotent request)."""

    def __init__(self, response: requests.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = _retry_after(response)


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare for APIs; fall back to backoff


def describe(response: requests.Response, limit: int = 500) -> str:
    """`HTTP 400 POST /crm/v3/...: <body>` without query strings or headers (no secrets)."""
    request = response.request
    path = requests.utils.urlparse(request.url or "").path if request is not None else ""
    body = (response.text or "").strip().replace("\n", " ")
    if len(body) > limit:
        body = body[:limit] + "..."
    return f"HTTP {response.status_code} {request.method if request is not None else ''} {path}: {body}"


class ApiSession:
    """One authenticated session with retries and the vendor's rate limiter (one window per kind of request)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        limiter: RateLimiter,
        timeout_seconds: float,
        max_retry_seconds: float,
        backoff_initial_seconds: float,
        backoff_max_seconds: float,
        auth_hint: str,
        log: Callable[[str], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
        hopeless_429: Callable[[requests.Response], str | None] = lambda _: None,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.limiter = limiter
        self.timeout = timeout_seconds
        self.max_retry_seconds = max_retry_seconds
        self.backoff = wait_exponential_jitter(
            multiplier=backoff_initial_seconds, max=backoff_max_seconds, jitter=backoff_initial_seconds
        )
        self.auth_hint = auth_hint
        self.log = log
        self.sleep = sleep
        self.hopeless_429 = hopeless_429  # a 429 no retry within this run can cure (e.g. a daily limit)
        self.requests_sent = 0

    def close(self) -> None:
        self.session.close()
        self.limiter.close()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        return self.backoff(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        what = describe(error.response, 200) if isinstance(error, _Transient) else type(error).__name__
        wait = state.next_action.sleep if state.next_action else 0
        self.log(f"retrying in {wait:.1f}s after {what} (attempt {state.attempt_number})")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        kind: str = "default",
        idempotent: bool = True,
    ) -> requests.Response:
        """The response of the first attempt that is neither 429 nor (when idempotent) 5xx / timeout.

        Raises CrmAuthError on 401/403, CrmUnavailable when retries run out, AmbiguousWrite for a non-idempotent
        request that failed after it may have been applied. Other 4xx are returned to the caller."""
        url = f"{self.base_url}{path}"

        def retryable(error: BaseException) -> bool:
            if isinstance(error, _Transient):
                return True
            if isinstance(error, requests.ConnectTimeout):
                return True  # never reached the server
            return idempotent and isinstance(error, requests.ConnectionError | requests.Timeout)

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=self._wait,
            stop=stop_after_delay(self.max_retry_seconds),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.limiter.acquire(kind)
                    self.requests_sent += 1
                    response = self.session.request(method, url, json=json, params=params, timeout=self.timeout)
                    self.limiter.observe(response)
                    status = response.status_code
                    if status == 429:
                        reason = self.hopeless_429(response)
                        if reason:
                            raise CrmUnavailable(f"{reason}: {describe(response)}")
                        raise _Transient(response)
                    if status >= 500:
                        if not idempotent:
                            raise AmbiguousWrite(describe(response))
                        raise _Transient(response)
        except _Transient as error:
            raise CrmUnavailable(
                f"{describe(error.response)} (still failing after {self.max_retry_seconds:g}s of retries)"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            if not idempotent and not isinstance(error, requests.ConnectTimeout):
                raise AmbiguousWrite(f"{method} {path}: {type(error).__name__}") from None
            raise CrmUnavailable(
                f"{method} {path}: {type(error).__name__} (still failing after {self.max_retry_seconds:g}s)"
            ) from None
        if response.status_code in (401, 403):
            raise CrmAuthError(f"{describe(response)}. {self.auth_hint}")
        return response
