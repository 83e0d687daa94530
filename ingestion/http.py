"""One way to talk to a vendor API: dlt's RESTClient with our retry policy (ingestion/retry.py: a budget of minutes,
exponential backoff with jitter, Retry-After and the vendors' own retry guidance), the client-side rate limiter
shared with the CRM push (ingestion/rate_limit.py), clear authentication errors and the "cursor = last item" paging
Stripe and Typeform share."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dlt.sources.helpers.requests.session import Session
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import HTTPError, PreparedRequest, Request, Response

from ingestion.errors import SourceAuthError
from ingestion.rate_limit import RateLimiter
from ingestion.retry import RetryPolicy, describe_request, send_with_retries


class LastItemCursorPaginator(BasePaginator):
    """Next page = the same request with `cursor_param` set to the last item's `item_key`.

    Stripe pages with `starting_after=<last id>` while `has_more` is true; Typeform with `after=<last token>`
    until a page comes back shorter than the page size.
    """

    def __init__(
        self,
        cursor_param: str,
        item_key: str,
        has_more_key: str | None = None,
        page_size: int | None = None,
        items_key: str = "data",
        first_page_only: tuple[str, ...] = (),
    ):
        super().__init__()
        self.cursor_param, self.item_key = cursor_param, item_key
        self.has_more_key, self.page_size, self.items_key = has_more_key, page_size, items_key
        self.first_page_only = first_page_only  # parameters the API refuses together with the cursor
        self._cursor: Any = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        items = response.json().get(self.items_key) or []
        if not items:
            self._has_next_page = False
            return
        if self.has_more_key is not None:
            self._has_next_page = bool(response.json().get(self.has_more_key))
        else:
            self._has_next_page = self.page_size is not None and len(items) >= self.page_size
        self._cursor = items[-1][self.item_key]

    def update_request(self, request: Request) -> None:
        request.params = {k: v for k, v in (request.params or {}).items() if k not in self.first_page_only}
        request.params[self.cursor_param] = self._cursor


@dataclass
class RequestStats:
    """What a source's HTTP client did in this process: requests sent (attempts, retries included), seconds spent
    waiting for its client-side rate limits and seconds waiting for the vendor's answers (from sending a request to
    its response, network included), so a benchmark can tell waiting from working."""

    requests: int = 0
    throttle_wait_s: float = 0.0
    response_wait_s: float = 0.0
    by_path: dict[str, int] = field(default_factory=dict)  # requests per rate-limit kind ("" = no limiter)


REQUEST_STATS: dict[str, RequestStats] = {}  # per source name, since the process started
STATS_LOCK = threading.Lock()


def vendor_client(
    source: str,
    base_url: str,
    token: str,
    token_variable: str,
    paginator: BasePaginator | None = None,
    data_selector: str | None = None,
    limiter: RateLimiter | None = None,
) -> RESTClient:
    """A RESTClient for `source` whose 401/403 become a SourceAuthError naming `token_variable`, every attempt
    waiting on `limiter` (ingestion/rate_limit.py), retrying 429/5xx/timeouts under `RetryPolicy.from_environment()`."""
    if not token:
        raise SourceAuthError(f"{source}: no credentials configured. Set {token_variable}.")

    def check_auth(response: Response) -> None:
        if response.status_code in (401, 403):
            detail = response.text[:300].replace("\n", " ")
            raise SourceAuthError(
                f"{source}: the API at {base_url} rejected the credentials (HTTP {response.status_code}: {detail}). "
                f"Set {token_variable} to a valid key."
            )

    policy = RetryPolicy.from_environment()
    # A plain session: dlt's own retry wrapper (a fixed number of attempts) would give up long before our budget.
    session = Session(timeout=policy.timeout, raise_for_status=False)
    client = RESTClient(
        base_url=base_url.rstrip("/"),
        auth=BearerTokenAuth(token),
        paginator=paginator,
        data_selector=data_selector,
        session=session,
    )
    send = client.session.send
    stats = REQUEST_STATS.setdefault(source, RequestStats())

    def attempt(request: PreparedRequest, kwargs: dict[str, Any]) -> Response:
        kind = limiter.kind_of(request.url or "") if limiter is not None else ""
        started = time.monotonic()
        if limiter is not None:
            limiter.acquire(kind)
        waited = time.monotonic() - started
        with STATS_LOCK:
            stats.requests += 1
            stats.throttle_wait_s += waited
            stats.by_path[kind] = stats.by_path.get(kind, 0) + 1
        sent = time.monotonic()
        try:
            response = send(request, **kwargs)
        except HTTPError as error:  # dlt's hooks raise inside send, before the response comes back
            if error.response is not None:
                if limiter is not None:
                    limiter.observe(error.response)
                check_auth(error.response)
            raise
        finally:
            with STATS_LOCK:
                stats.response_wait_s += time.monotonic() - sent
        if limiter is not None:
            limiter.observe(response)
        check_auth(response)
        return response

    # At the transport, beneath dlt's paging and hooks: every attempt is throttled, a rejected key stops the load at
    # once with a message that says what to set (401/403 are never worth retrying), outages are waited out.
    def guarded_send(request: PreparedRequest, **kwargs: Any) -> Response:
        return send_with_retries(
            lambda: attempt(request, kwargs), describe_request(source, request.method, request.url), policy
        )

    client.session.send = guarded_send  # type: ignore[method-assign]
    return client
