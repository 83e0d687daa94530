"""The one client-side rate limiter of every vendor call: the dlt sources (ingestion/http.py) and the CRM push
(activation/crm/http.py) both wait here before each attempt, so neither discovers a vendor's limit through 429s
(HubSpot counts rejected calls against the window too).

Built on pyrate-limiter. Our HTTP code is synchronous (requests, dlt's RESTClient), so aiolimiter (asyncio only)
does not fit, and `limits` only answers "would this hit pass", leaving the waiting and the locking to us.
pyrate-limiter blocks the calling thread until a request fits, is thread-safe, keeps an exact sliding-window log
(the vendors count rolling windows, not fixed buckets) and checks several rates on one bucket at once (a 10-second
burst and its per-second share).

The vendors' documented limits are below; the clients' defaults stay under them with headroom. HubSpot also says
in every response how much of the portal's budget is left (`X-HubSpot-RateLimit-*`, shared by every app of the
portal, so our own log cannot know it): `RateLimiter.observe` holds further requests while it is spent and lowers
our burst limit to the portal's `X-HubSpot-RateLimit-Max` when that is lower (a Free or Starter portal).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import urlsplit

from pyrate_limiter import InMemoryBucket, Limiter, Rate
from requests import Response


@dataclass(frozen=True)
class Limit:
    """At most `requests` in any rolling `seconds`."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError(f"{self}: needs REQUESTS >= 1 and SECONDS > 0")

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"

    @classmethod
    def parse(cls, text: str) -> Limit:
        """'150/10' (150 requests per 10 seconds); '4' is 4 per second."""
        count, _, seconds = str(text).strip().partition("/")
        try:
            requests, window = int(count), float(seconds or 1)
        except ValueError:
            raise ValueError("expected REQUESTS/SECONDS, e.g. 150/10") from None
        if requests < 1 or window <= 0:
            raise ValueError("needs REQUESTS >= 1 and SECONDS > 0")
        return cls(requests, window)

    @staticmethod
    def per_second(rate: float) -> tuple[Limit, ...]:
        """`rate` requests per second as whole-request limits: 15 -> 15/1; 1.8 -> 2/1 and 9/5 (never more than two
        in a second, nor more than nine in five); 0 -> none (no client-side limit)."""
        if rate < 0:
            raise ValueError(f"{rate!r}: requests per second must be 0 (no limit) or more")
        if rate == 0:
            return ()
        exact = Fraction(rate).limit_denominator(10)
        limits = [Limit(math.ceil(rate), 1.0)]
        if exact.denominator > 1:
            limits.append(Limit(exact.numerator, float(exact.denominator)))
        return tuple(limits)


# What the vendors document (checked 2026-12).
# HubSpot, private apps, per portal: burst per rolling 10 seconds by subscription tier; CRM search has its own limit.
HUBSPOT_BURST_BY_TIER = {
    "free": Limit(100, 10),
    "starter": Limit(100, 10),
    "professional": Limit(190, 10),
    "enterprise": Limit(190, 10),
    "api_limit_increase": Limit(250, 10),  # the API Limit Increase capacity pack, any tier
}
HUBSPOT_SEARCH_LIMIT = Limit(5, 1)  # CRM search endpoints, per account
STRIPE_READ_LIMIT = {"live": Limit(100, 1), "test": Limit(25, 1)}  # read requests per second
TYPEFORM_RESPONSES_LIMIT = Limit(2, 1)  # Responses API, per account

# What our clients send by default: about 80% of a paid HubSpot tier (other apps share the portal), 80% of Stripe's.
HUBSPOT_DEFAULT = Limit(150, 10)
HUBSPOT_SEARCH_DEFAULT = Limit(4, 1)
# How many send times the limiter keeps (more than any vendor's window holds) and the margin after a held window.
SENT_KEPT = 512
HOLD_MARGIN_S = 0.05
HUBSPOT_REQUESTS_PER_SECOND = 18.5  # the ingestion source: at most 19 in a second, 37 in two, so <= 185 in any 10 s
HUBSPOT_SEARCH_REQUESTS_PER_SECOND = 4.0
STRIPE_REQUESTS_PER_SECOND = {"live": 80.0, "test": 20.0}
TYPEFORM_REQUESTS_PER_SECOND = 1.9  # at most 2 in a second and 19 in ten, under Typeform's 2/s (20 in ten)


def stripe_mode(api_key: str) -> str:
    """'test' for test-mode keys (sk_test_..., rk_test_...), whose limit is a quarter of live mode's."""
    return "test" if "_test_" in (api_key or "") else "live"


def stripe_requests_per_second(api_key: str) -> float:
    return STRIPE_REQUESTS_PER_SECOND[stripe_mode(api_key)]


def hubspot_budget_pause(response: Response) -> float | None:
    """The rolling window HubSpot's headers say is spent, in seconds: the portal's window
    (`X-HubSpot-RateLimit-Remaining: 0`, its `Interval-Milliseconds`) or its per-second share
    (`X-HubSpot-RateLimit-Secondly-Remaining: 0`, one second). None when there is budget left."""
    headers = response.headers
    if headers.get("X-HubSpot-RateLimit-Remaining") == "0":
        try:
            return int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")) / 1000
        except ValueError:
            return 10.0
    if headers.get("X-HubSpot-RateLimit-Secondly-Remaining") == "0":
        return 1.0
    return None


def hubspot_portal_limit(response: Response) -> Limit | None:
    """The portal's burst limit as HubSpot reports it (`X-HubSpot-RateLimit-Max` per `Interval-Milliseconds`)."""
    headers = response.headers
    try:
        requests = int(headers["X-HubSpot-RateLimit-Max"])
        seconds = int(headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
        return Limit(requests, seconds)
    except (KeyError, ValueError):
        return None


def _limiter(limits: Sequence[Limit]) -> Limiter:
    """A pyrate-limiter over `limits` (a 50 ms margin after each computed wait). Its bucket wants rates by window,
    with limits growing and requests per second shrinking: a rate implied by another is left out."""
    rates: list[Rate] = []
    for limit in sorted(limits, key=lambda limit: (limit.seconds, limit.requests)):
        rate = Rate(limit.requests, max(1, round(limit.seconds * 1000)))
        if rates and rate.limit / rate.interval >= rates[-1].limit / rates[-1].interval:
            continue  # a longer window that allows as many requests per second adds nothing
        while rates and rate.limit <= rates[-1].limit:
            rates.pop()  # a longer window that allows no more requests makes the shorter one redundant
        rates.append(rate)
    return Limiter(InMemoryBucket(rates), buffer_ms=50)


class RateLimiter:
    """Client-side limits of one vendor, per kind of request.

    `limits` maps a kind ("default", "search", ...) to the limits it must respect at once; `kinds` maps a substring
    of the URL path to its kind (the first match wins, unmatched paths are "default"). Each kind has its own
    window, as the vendors count them (HubSpot's search limit is separate from the 10-second window). A kind with
    no limits is not limited (the vendor's headers still hold it)."""

    def __init__(self, vendor: str, limits: Mapping[str, Sequence[Limit]], kinds: Sequence[tuple[str, str]] = ()):
        if "default" not in limits:
            raise ValueError(f"{vendor}: rate limits need a 'default' kind")
        self.vendor = vendor
        self.limits = {kind: tuple(values) for kind, values in limits.items()}
        self.kinds = tuple(kinds)
        self._limiters = {kind: _limiter(values) for kind, values in self.limits.items() if values}
        self._lock = threading.Lock()
        self._not_before = 0.0
        self._sent: deque[float] = deque(maxlen=SENT_KEPT)  # when recent requests left, for `hold_window`

    def kind_of(self, url: str) -> str:
        path = urlsplit(url).path
        return next((kind for pattern, kind in self.kinds if pattern in path), "default")

    def acquire(self, kind: str = "default") -> None:
        """Block until one more request of `kind` fits every limit, and any hold has passed."""
        while True:
            with self._lock:
                pause = self._not_before - time.monotonic()
            if pause <= 0:
                break
            time.sleep(pause)
        limiter = self._limiters.get(kind if kind in self.limits else "default")
        if limiter is not None:
            limiter.try_acquire(f"{self.vendor}:{kind}", blocking=True)
        with self._lock:
            self._sent.append(time.monotonic())

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (the vendor said its budget is spent, e.g. by other apps on the account)."""
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def hold_window(self, window: float) -> None:
        """The vendor says its rolling `window` is spent: send nothing until it has room again, that is until the
        earliest of our requests still in it has left it (the requests that spent it are no later than ours: the
        vendor counted them before answering ours). Holding a whole window from now instead would idle away up to
        a window after every burst: a full HubSpot load ran at 12 requests/s against a portal allowing 19."""
        now = time.monotonic()
        with self._lock:
            in_window = [sent for sent in self._sent if sent > now - window]
            until = (in_window[0] if in_window else now) + window + HOLD_MARGIN_S
            self._not_before = max(self._not_before, until)

    def observe(self, response: Response) -> None:
        """Learn from a response's rate-limit headers (HubSpot's; other vendors send none)."""
        window = hubspot_budget_pause(response)
        if window:
            self.hold_window(window)
        portal = hubspot_portal_limit(response)
        if portal is not None:
            self._shrink_default(portal)

    def _shrink_default(self, portal: Limit) -> None:
        """Lower the default kind's limit of the same window to the portal's, when the portal's is lower."""
        current = self.limits["default"]
        if not current:
            return  # limiting switched off on purpose
        same_window = [limit for limit in current if limit.seconds == portal.seconds]
        if same_window and all(limit.requests <= portal.requests for limit in same_window):
            return
        with self._lock:
            kept = tuple(limit for limit in current if limit.seconds != portal.seconds)
            lowered = min([portal, *same_window], key=lambda limit: limit.requests)
            self.limits["default"] = (*kept, lowered)
            old, self._limiters["default"] = self._limiters["default"], _limiter(self.limits["default"])
        old.close()

    def close(self) -> None:
        for limiter in self._limiters.values():
            limiter.close()
