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
- CSOPS_DBT_TARGET_DIR (dbt_project/target): dbt's target folder, where the Dagster dbt builds write (one folder
  each) and the preflight reads the newest run_results.json / manifest.json.

Parsed by pydantic-settings (ingestion/settings.py): a bad value is one ConfigError line naming the variable. Secrets
are held here and in the HTTP session only; `SyncConfig.__repr__` masks the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field, field_validator
from pydantic_settings import NoDecode

from ingestion.rate_limit import HUBSPOT_DEFAULT, HUBSPOT_SEARCH_DEFAULT, Limit
from ingestion.settings import CsopsSettings, SettingError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_LIST_NAME = "At-risk accounts (nightly)"


class ConfigError(SettingError):
    """A setting is missing or malformed; the message names the variable to set."""


def _limit(value: Any) -> Any:
    return Limit.parse(value) if isinstance(value, str | int) else value


# "150/10" in the environment: NoDecode keeps pydantic-settings from reading it as JSON.
RateLimit = Annotated[Limit, NoDecode, BeforeValidator(_limit)]


class SyncConfig(CsopsSettings):
    access_token: str | None = Field(
        None, validation_alias=AliasChoices("ACTIVATION__HUBSPOT__ACCESS_TOKEN", "SOURCES__HUBSPOT__ACCESS_TOKEN")
    )
    base_url: str = Field(
        DEFAULT_BASE_URL, validation_alias=AliasChoices("ACTIVATION__HUBSPOT__BASE_URL", "SOURCES__HUBSPOT__BASE_URL")
    )
    rate_limit: RateLimit = Field(HUBSPOT_DEFAULT, validation_alias="ACTIVATION__HUBSPOT__RATE_LIMIT")
    search_rate_limit: RateLimit = Field(
        HUBSPOT_SEARCH_DEFAULT, validation_alias="ACTIVATION__HUBSPOT__SEARCH_RATE_LIMIT"
    )
    timeout_seconds: float = Field(30.0, gt=0, validation_alias="ACTIVATION__HUBSPOT__TIMEOUT_SECONDS")
    max_retry_seconds: float = Field(120.0, ge=0, validation_alias="ACTIVATION__HUBSPOT__MAX_RETRY_SECONDS")
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    ambiguous_write_pause_seconds: float = 10.0  # before looking up tasks a failed create may have made (search lags)
    max_change_share: float = Field(0.25, ge=0, le=1, validation_alias="CSOPS_SYNC_MAX_CHANGE_SHARE")
    max_tasks_per_csm: int | None = Field(10, validation_alias="CSOPS_SYNC_MAX_TASKS_PER_CSM")  # None: no cap
    spread_reviews: bool = Field(True, validation_alias="CSOPS_SYNC_SPREAD_REVIEWS")
    list_name: str = Field(DEFAULT_LIST_NAME, validation_alias="CSOPS_SYNC_LIST_NAME")
    dbt_target_dir: Path = Field(REPO_ROOT / "dbt_project" / "target", validation_alias="CSOPS_DBT_TARGET_DIR")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("max_tasks_per_csm")
    @classmethod
    def _zero_is_no_cap(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must be 0 (no cap) or more")
        return value or None

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
        return self.model_copy(update=changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SyncConfig:
        return cls.read(env, error=ConfigError)
