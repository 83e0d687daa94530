"""Orchestration constants and the schedule / alert settings, read from the environment (and .env, which fills in
only what the environment does not set).

The warehouse (path, engine, DuckDB limits) is a Dagster resource: orchestration/resources.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ingestion.env_file import load_env_file

REPO_ROOT = Path(__file__).resolve().parents[1]
# A local .env (see .env.example) fills in what the environment does not set; the environment always wins, and on
# the sandbox (`csops dev`, `csops run --sandbox`) .env never supplies a source's endpoint or key.
load_env_file(REPO_ROOT / ".env")
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# dbt from the same environment as Dagster, whether or not the virtualenv is on PATH.
DBT_EXECUTABLE = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
WAREHOUSE_POOL = "warehouse"  # DuckDB has one writer: every asset that writes it runs in this pool (limit 1)


@dataclass(frozen=True)
class Settings:
    """When the nightly refresh runs, how stale a raw source or a mart may get, where failures are reported."""

    nightly_cron: str
    timezone: str
    schedule_running: bool
    alert_webhook_url: str | None
    freshness_hours: int
    slack_token: str | None = None
    slack_channel: str | None = None
    teams_webhook_url: str | None = None
    marts_freshness_hours: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nightly_cron=os.environ.get("CSOPS_NIGHTLY_CRON", "0 2 * * *"),
            timezone=os.environ.get("CSOPS_TIMEZONE", "UTC"),
            schedule_running=os.environ.get("CSOPS_SCHEDULE_RUNNING", "true").lower() != "false",
            alert_webhook_url=os.environ.get("CSOPS_ALERT_WEBHOOK_URL") or None,
            freshness_hours=int(os.environ.get("CSOPS_FRESHNESS_HOURS", "36")),
            slack_token=os.environ.get("CSOPS_SLACK_TOKEN") or None,
            slack_channel=os.environ.get("CSOPS_SLACK_CHANNEL") or None,
            teams_webhook_url=os.environ.get("CSOPS_TEAMS_WEBHOOK_URL") or None,
            marts_freshness_hours=int(os.environ.get("CSOPS_MARTS_FRESHNESS_HOURS", "30")),
        )
