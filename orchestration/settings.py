"""Orchestration constants and the schedule / alert settings, read from the environment (and .env, which fills in
only what the environment does not set).

The warehouse (path, engine, DuckDB limits) is a Dagster resource: orchestration/resources.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from ingestion.env_file import load_env_file
from ingestion.settings import CsopsSettings, SettingError

REPO_ROOT = Path(__file__).resolve().parents[1]
# A local .env (see .env.example) fills in what the environment does not set; the environment always wins, and on
# the sandbox (`csops dev`, `csops run --sandbox`) .env never supplies a source's endpoint or key.
load_env_file(REPO_ROOT / ".env")
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# dbt from the same environment as Dagster (its version is the installed dbt-core's: orchestration/dbt_resource.py),
# whether or not the virtualenv is on PATH; another dbt on PATH only when this environment has none.
_OWN_DBT = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_OWN_DBT) if _OWN_DBT.exists() else (shutil.which("dbt") or "dbt")
WAREHOUSE_POOL = "warehouse"  # DuckDB has one writer: every asset that writes it runs in this pool (limit 1)


class Settings(CsopsSettings):
    """When the nightly refresh runs, how stale a raw source or a mart may get, where failures are reported, and the
    raw volume checks' rule (pydantic-settings: ingestion/settings.py)."""

    nightly_cron: str = Field("0 2 * * *", validation_alias="CSOPS_NIGHTLY_CRON")
    timezone: str = Field("UTC", validation_alias="CSOPS_TIMEZONE")
    schedule_running: bool = Field(True, validation_alias="CSOPS_SCHEDULE_RUNNING")
    alert_webhook_url: str | None = Field(None, validation_alias="CSOPS_ALERT_WEBHOOK_URL")
    freshness_hours: int = Field(36, gt=0, validation_alias="CSOPS_FRESHNESS_HOURS")
    slack_token: SecretStr | None = Field(None, validation_alias="CSOPS_SLACK_TOKEN")
    slack_channel: str | None = Field(None, validation_alias="CSOPS_SLACK_CHANNEL")
    teams_webhook_url: str | None = Field(None, validation_alias="CSOPS_TEAMS_WEBHOOK_URL")
    marts_freshness_hours: int = Field(30, gt=0, validation_alias="CSOPS_MARTS_FRESHNESS_HOURS")
    volume_factor: float = Field(10.0, gt=1, validation_alias="CSOPS_VOLUME_FACTOR")
    volume_loads: int = Field(7, ge=1, validation_alias="CSOPS_VOLUME_LOADS")
    # A spike warns by default (a bulk update in the CRM, a price migration: the night's data is still good); `fail`
    # makes it block dbt like a drop does.
    volume_spike: Literal["warn", "fail"] = Field("warn", validation_alias="CSOPS_VOLUME_SPIKE")
    # dbt's target folder: the manifest the dbt assets are defined from, one folder per Dagster dbt invocation, and
    # the run results the CRM push's preflight reads (activation/config.py reads the same variable).
    dbt_target_dir: Path = Field(DBT_PROJECT_DIR / "target", validation_alias="CSOPS_DBT_TARGET_DIR")

    @classmethod
    def from_env(cls) -> Settings:
        return cls.read(error=SettingsError)


class SettingsError(SettingError):
    """An orchestration setting holds a bad value; the message names the variable."""
