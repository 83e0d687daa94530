"""Faults on demand: rate limits, 5xx bursts, latency, malformed rows and renamed fields, per vendor.

Syntax (CLI `--fault`, admin `POST /_admin/faults`): `vendor:kind[:arg[:arg]]`, vendor one of hubspot, stripe,
typeform (or `all`). The full list is documented in sandbox/README.md ("Faults"). Everything random is
deterministic by the world's seed: the same request sequence meets the same 429s, the same objects are
malformed on every read (bad data is persistent, like in a real system).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

VENDORS = ("hubspot", "stripe", "typeform")

# Vendors' real limits, on by default (configurable by the `window` / `search_window` faults).
DEFAULT_WINDOWS: dict[str, tuple[int, float] | None] = {
    "hubspot": (190, 10.0),  # private apps: 190 requests per rolling 10 seconds (TEN_SECONDLY_ROLLING)
    "stripe": None,  # Stripe's limits (100 read req/s live) are far above what tests do: off unless asked
    "typeform": (2, 1.0),  # 2 requests per second per account
}
DEFAULT_SEARCH_WINDOW = (5, 1.0)  # HubSpot CRM search: 5 requests per second, outside the 10-second window
DEFAULT_SEARCH_CAP = 10_000  # HubSpot search never pages past 10,000 results
# HubSpot's search index lags writes by seconds: a record written through the API becomes searchable up to this
# many seconds later (each record its own seeded delay in [0, lag), so records can appear out of write order).
DEFAULT_SEARCH_LAG = 2.0
SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultError(ValueError):
    """A fault specification that cannot be parsed; the message says what is accepted."""


class RollingWindow:
    """At most `limit` requests in any rolling `seconds` (HubSpot's TEN_SECONDLY_ROLLING semantics)."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.hits: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()

    def admit(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self.hits) >= self.limit:
            return False
        self.hits.append(now)
        return True

    def remaining(self, now: float | None = None) -> int:
        self._trim(time.monotonic() if now is None else now)
        return max(0, self.limit - len(self.hits))

    def recent(self, seconds: float, now: float | None = None) -> int:
        """Requests admitted in the last `seconds` (within the window)."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        return sum(1 for hit in self.hits if hit > now - seconds)

    def describe(self) -> str:
        return f"{self.limit}/{self.seconds:g}"


@dataclass
class VendorFaults:
    """The live fault state of one vendor."""

    vendor: str
    seed: int = 0
    window: RollingWindow | None = None
    search_window: RollingWindow | None = None
    search_cap: int = DEFAULT_SEARCH_CAP
    search_lag: float = DEFAULT_SEARCH_LAG
    rate_limit_next: int = 0
    rate_limit_fraction: float = 0.0
    rate_limit_policy: str = "window"  # which limit a forced 429 claims (HubSpot: window | daily)
    server_errors_next: int = 0
    server_error_status: str = "500"  # 500 | 502 | 503 | mixed
    server_error_retry_after: int | None = None
    latency_ms: int = 0
    malformed_fraction: float = 0.0
    malformed_field: str | None = None
    renames: dict[str, str] = field(default_factory=dict)
    late_visibility: bool = True  # Typeform: hide responses until their `visible_at` (on by default, as Typeform)
    specs: list[str] = field(default_factory=list)
    _served_errors: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"csops-faults:{self.seed}:{self.vendor}")
        default = DEFAULT_WINDOWS[self.vendor]
        self.window = RollingWindow(*default) if default else None
        if self.vendor == "hubspot":
            self.search_window = RollingWindow(*DEFAULT_SEARCH_WINDOW)

    # -------------------------------------------------------------------------------- per-request decisions
    def forced_rate_limit(self) -> bool:
        """A 429 forced by `rate_limit:N` (the next N requests) or `rate_limit:F` (a seeded fraction)."""
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        return self.rate_limit_fraction > 0 and self._rng.random() < self.rate_limit_fraction

    def server_error(self) -> int | None:
        if self.server_errors_next <= 0:
            return None
        self.server_errors_next -= 1
        self._served_errors += 1
        if self.server_error_status == "mixed":
            return SERVER_ERROR_STATUSES[(self._served_errors - 1) % len(SERVER_ERROR_STATUSES)]
        return int(self.server_error_status)

    def is_malformed(self, object_id: Any) -> bool:
        return self.malformed_fraction > 0 and unit_hash(self.seed, self.vendor, object_id) < self.malformed_fraction

    def corruption(self, object_id: Any, kinds: tuple[str, ...]) -> str | None:
        """Which corruption an object gets (None: served intact). Deterministic in (seed, vendor, id)."""
        if not self.is_malformed(object_id):
            return None
        if self.malformed_field:
            return self.malformed_field
        digest = hashlib.sha1(f"kind:{self.seed}:{self.vendor}:{object_id}".encode()).digest()
        return kinds[digest[0] % len(kinds)] if kinds else None

    def describe(self) -> dict[str, Any]:
        return {
            "specs": list(self.specs),
            "window": self.window.describe() if self.window else "off",
            **(
                {
                    "search_window": self.search_window.describe() if self.search_window else "off",
                    "search_cap": self.search_cap,
                    "search_lag": self.search_lag,
                }
                if self.vendor == "hubspot"
                else {}
            ),
            **({"late_visibility": self.late_visibility} if self.vendor == "typeform" else {}),
            "rate_limit_next": self.rate_limit_next,
            "rate_limit_fraction": self.rate_limit_fraction,
            "rate_limit_policy": self.rate_limit_policy,
            "server_errors_next": self.server_errors_next,
            "server_error_status": self.server_error_status,
            "server_error_retry_after": self.server_error_retry_after,
            "latency_ms": self.latency_ms,
            "malformed_fraction": self.malformed_fraction,
            "malformed_field": self.malformed_field,
            "renames": dict(self.renames),
        }


def unit_hash(*parts: Any) -> float:
    """A uniform number in [0, 1) from the parts (stable across runs and machines)."""
    digest = hashlib.sha1(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Faults:
    """All vendors' fault states; `apply` parses one spec, `reset` returns a vendor to its defaults."""

    def __init__(self, seed: int = 0, specs: list[str] | None = None):
        self.seed = seed
        self.vendors = {v: VendorFaults(v, seed) for v in VENDORS}
        for spec in specs or []:
            self.apply(spec)

    def __getitem__(self, vendor: str) -> VendorFaults:
        return self.vendors[vendor]

    def reset(self, vendor: str | None = None) -> None:
        for name in [vendor] if vendor else list(VENDORS):
            self.vendors[name] = VendorFaults(name, self.seed)

    def describe(self) -> dict[str, Any]:
        return {name: state.describe() for name, state in self.vendors.items()}

    def apply(self, spec: str) -> None:
        parts = [p.strip() for p in spec.strip().split(":")]
        if len(parts) < 2:
            raise FaultError(f"fault {spec!r}: expected vendor:kind[:arg], e.g. stripe:rate_limit:0.2")
        vendor, kind, args = parts[0].lower(), parts[1].lower(), parts[2:]
        targets = list(VENDORS) if vendor in ("all", "*") else [vendor]
        if vendor not in VENDORS and vendor not in ("all", "*"):
            raise FaultError(f"fault {spec!r}: unknown vendor {vendor!r} (hubspot, stripe, typeform or all)")
        handler = _KINDS.get(kind)
        if handler is None:
            raise FaultError(f"fault {spec!r}: unknown kind {kind!r}; one of {', '.join(sorted(_KINDS))}")
        for target in targets:
            state = self.vendors[target]
            handler(state, args, spec)
            state.specs.append(spec)


# ------------------------------------------------------------------------------------------------------ kinds
def _need(args: list[str], count: int, spec: str, usage: str) -> None:
    if len(args) < count:
        raise FaultError(f"fault {spec!r}: expected {usage}")


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultError(f"fault {spec!r}: {text!r} is not a number") from None


def _window(text: str, spec: str) -> RollingWindow | None:
    if text.lower() in ("off", "none", "0"):
        return None
    limit, _, seconds = text.partition("/")
    try:
        window = RollingWindow(int(limit), float(seconds or 1))
    except ValueError:
        raise FaultError(f"fault {spec!r}: window must be LIMIT/SECONDS (e.g. 190/10) or off") from None
    if window.limit < 1 or window.seconds <= 0:
        raise FaultError(f"fault {spec!r}: window needs LIMIT >= 1 and SECONDS > 0")
    return window


def _rate_limit(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "rate_limit:N (next N requests) or rate_limit:F (fraction 0<F<1)[:daily]")
    value = _number(args[0], spec)
    if len(args) > 1 and args[1]:
        if state.vendor != "hubspot" or args[1] not in ("window", "daily"):
            raise FaultError(f"fault {spec!r}: only HubSpot 429s name a policy (window or daily)")
        state.rate_limit_policy = args[1]
    if 0 < value < 1:
        state.rate_limit_fraction = value
    elif value >= 1 and value == int(value):
        state.rate_limit_next += int(value)
    elif value == 0:
        state.rate_limit_fraction, state.rate_limit_next = 0.0, 0
    else:
        raise FaultError(f"fault {spec!r}: rate_limit takes a count >= 1 or a fraction in (0, 1)")


def _window_kind(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "window:LIMIT/SECONDS or window:off")
    state.window = _window(args[0], spec)


def _search_window(state: VendorFaults, args: list[str], spec: str) -> None:
    if state.vendor != "hubspot":
        raise FaultError(f"fault {spec!r}: search_window is a HubSpot fault")
    _need(args, 1, spec, "search_window:LIMIT/SECONDS or search_window:off")
    state.search_window = _window(args[0], spec)


def _search_cap(state: VendorFaults, args: list[str], spec: str) -> None:
    if state.vendor != "hubspot":
        raise FaultError(f"fault {spec!r}: search_cap is a HubSpot fault")
    _need(args, 1, spec, "search_cap:N")
    state.search_cap = int(_number(args[0], spec))


def _late_visibility(state: VendorFaults, args: list[str], spec: str) -> None:
    if state.vendor != "typeform":
        raise FaultError(f"fault {spec!r}: late_visibility is a Typeform fault")
    _need(args, 1, spec, "late_visibility:on or late_visibility:off")
    if args[0] not in ("on", "off"):
        raise FaultError(f"fault {spec!r}: late_visibility is on or off")
    state.late_visibility = args[0] == "on"


def _search_lag(state: VendorFaults, args: list[str], spec: str) -> None:
    if state.vendor != "hubspot":
        raise FaultError(f"fault {spec!r}: search_lag is a HubSpot fault")
    _need(args, 1, spec, "search_lag:SECONDS (0: writes are searchable at once)")
    lag = _number(args[0], spec)
    if lag < 0:
        raise FaultError(f"fault {spec!r}: the search lag cannot be negative")
    state.search_lag = lag


def _server_error(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "server_error:N[:500|502|503|mixed[:RETRY_AFTER_SECONDS]]")
    state.server_errors_next += int(_number(args[0], spec))
    if len(args) > 1 and args[1]:
        if args[1] not in ("500", "502", "503", "mixed"):
            raise FaultError(f"fault {spec!r}: status must be 500, 502, 503 or mixed")
        state.server_error_status = args[1]
    if len(args) > 2 and args[2]:
        state.server_error_retry_after = int(_number(args[2], spec))


def _latency(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "latency:MILLISECONDS")
    state.latency_ms = int(_number(args[0], spec))


def _malformed(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "malformed:FRACTION[:FIELD]")
    fraction = _number(args[0], spec)
    if not 0 <= fraction <= 1:
        raise FaultError(f"fault {spec!r}: malformed fraction must be within [0, 1]")
    state.malformed_fraction = fraction
    state.malformed_field = args[1] if len(args) > 1 and args[1] else None


def _rename(state: VendorFaults, args: list[str], spec: str) -> None:
    _need(args, 1, spec, "rename:OLD=NEW")
    old, sep, new = args[0].partition("=")
    if not sep or not old or not new:
        raise FaultError(f"fault {spec!r}: rename takes OLD=NEW, e.g. typeform:rename:account_id=accountid")
    state.renames[old] = new


_KINDS = {
    "rate_limit": _rate_limit,
    "window": _window_kind,
    "search_window": _search_window,
    "search_cap": _search_cap,
    "late_visibility": _late_visibility,
    "search_lag": _search_lag,
    "server_error": _server_error,
    "latency": _latency,
    "malformed": _malformed,
    "rename": _rename,
}
