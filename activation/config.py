"""Every setting of the CRM sync, read from the environment in this one place.

- ACTIVATION__HUBSPOT__ACCESS_TOKEN (falls back to SOURCES__HUBSPOT__ACCESS_TOKEN): HubSpot private-app token
  (company read/write, company and task schema write, task write, lists read/write).
- ACTIVATION__HUBSPOT__BASE_URL (falls back to SOURCES__HUBSPOT__BASE_URL, then https://api.hubapi.com).
- ACTIVATION__HUBSPOT__RATE_LIMIT (150/10): client-side limit, requests/seconds (HubSpot private apps: 190/10 s).
- ACTIVATION__HUBSPOT__SEARCH_RATE_LIMIT (4/1): client-side limit of CRM search requests (HubSpot: 5/s).
- ACTIVATION__HUBSPOT__TIMEOUT_SECONDS (30): per-request timeout.
- ACTIVATION__HUBSPOT__MAX_RETRY_SECONDS (120): how long one request keeps retrying 429 / 5xx / timeouts.
- CSOPS_SYNC_MAX_CHANGE_SHARE (0.25): circuit breaker, the largest share of synced accounts whose health status
  or at-risk flag may flip in one run (override once with `csops sync --force`).
- CSOPS_SYNC_MAX_TASKS_PER_CSM (10): new tasks one CSM receives per night at most, most urgent first; the rest
  are created on the following nights. 0 = no cap.
- CSOPS_SYNC_SPREAD_REVIEWS (true): spread the first periodic review of each account over its cadence (by a stable
  hash of the account id) instead of creating every review on the first night.
- CSOPS_SYNC_LIST_NAME ("At-risk accounts (nightly)"): the MANUAL company list mirrored from at_risk_accounts.
- CSOPS_DBT_TARGET_DIR (dbt_project/target): where the preflight reads dbt's run_results.json / manifest.json.

Secrets are held here and in the HTTP session only; `SyncConfig.__repr__` masks the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_LIST_NAME = "At-risk accounts (nightly)"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable to set."""


def _rate(text: str, name: str) -> tuple[int, float]:
    limit, _, seconds = text.partition("/")
    try:
        parsed = int(limit), float(seconds or 1)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected REQUESTS/SECONDS, e.g. 150/10") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ConfigError(f"{name}={text!r}: needs REQUESTS >= 1 and SECONDS > 0")
    return parsed


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")


def _cap(env: Mapping[str, str], name: str, default: int) -> int | None:
    raw = (env.get(name) or "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number of tasks (0 = no cap)") from None
    if value < 0:
        raise ConfigError(f"{name}={value}: must be 0 (no cap) or more")
    return value or None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class SyncConfig:
    access_token: str | None
    base_url: str = DEFAULT_BASE_URL
    rate_limit: tuple[int, float] = (150, 10.0)
    search_rate_limit: tuple[int, float] = (4, 1.0)
    timeout_seconds: float = 30.0
    max_retry_seconds: float = 120.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    ambiguous_write_pause_seconds: float = 10.0  # before looking up tasks a failed create may have made (search lags)
    max_change_share: float = 0.25
    max_tasks_per_csm: int | None = 10  # None: no cap
    spread_reviews: bool = True
    list_name: str = DEFAULT_LIST_NAME
    dbt_target_dir: Path = field(default_factory=lambda: REPO_ROOT / "dbt_project" / "target")

    def __repr__(self) -> str:  # never print the token
        token = "***" if self.access_token else None
        return (
            f"SyncConfig(base_url={self.base_url!r}, access_token={token!r}, rate_limit={self.rate_limit}, "
            f"search_rate_limit={self.search_rate_limit}, max_change_share={self.max_change_share}, "
            f"max_tasks_per_csm={self.max_tasks_per_csm}, spread_reviews={self.spread_reviews}, "
            f"list_name={self.list_name!r}, dbt_target_dir={str(self.dbt_target_dir)!r})"
        )

    __str__ = __repr__

    def with_(self, **changes: object) -> SyncConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SyncConfig:
        env = os.environ if env is None else env
        token = env.get("ACTIVATION__HUBSPOT__ACCESS_TOKEN") or env.get("SOURCES__HUBSPOT__ACCESS_TOKEN") or None
        base_url = env.get("ACTIVATION__HUBSPOT__BASE_URL") or env.get("SOURCES__HUBSPOT__BASE_URL") or DEFAULT_BASE_URL
        share = _float(env, "CSOPS_SYNC_MAX_CHANGE_SHARE", 0.25)
        if not 0 <= share <= 1:
            raise ConfigError(f"CSOPS_SYNC_MAX_CHANGE_SHARE={share} must be within [0, 1] (e.g. 0.25)")
        target = env.get("CSOPS_DBT_TARGET_DIR")
        return cls(
            access_token=token,
            base_url=base_url.rstrip("/"),
            rate_limit=_rate(env.get("ACTIVATION__HUBSPOT__RATE_LIMIT") or "150/10", "ACTIVATION__HUBSPOT__RATE_LIMIT"),
            search_rate_limit=_rate(
                env.get("ACTIVATION__HUBSPOT__SEARCH_RATE_LIMIT") or "4/1", "ACTIVATION__HUBSPOT__SEARCH_RATE_LIMIT"
            ),
            timeout_seconds=_float(env, "ACTIVATION__HUBSPOT__TIMEOUT_SECONDS", 30.0),
            max_retry_seconds=_float(env, "ACTIVATION__HUBSPOT__MAX_RETRY_SECONDS", 120.0),
            max_change_share=share,
            max_tasks_per_csm=_cap(env, "CSOPS_SYNC_MAX_TASKS_PER_CSM", 10),
            spread_reviews=_bool(env, "CSOPS_SYNC_SPREAD_REVIEWS", True),
            list_name=env.get("CSOPS_SYNC_LIST_NAME") or DEFAULT_LIST_NAME,
            dbt_target_dir=Path(target) if target else REPO_ROOT / "dbt_project" / "target",
        )
