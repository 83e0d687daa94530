"""Every environment difference in one place (local / CI / production), read from the environment once."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ingestion.env_file import load_env_file
from ingestion.pipeline import warehouse_path

REPO_ROOT = Path(__file__).resolve().parents[1]
# A local .env (see .env.example) fills in what the environment does not set; the environment always wins, and on
# the sandbox (`csops dev`, `csops run --sandbox`) .env never supplies a source's endpoint or key.
load_env_file(REPO_ROOT / ".env")
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# dbt from the same environment as Dagster, whether or not the virtualenv is on PATH (dagster-dbt's manifest
# preparer looks it up on PATH too).
if shutil.which("dbt") is None:
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
DBT_EXECUTABLE = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
WAREHOUSE_POOL = "warehouse"  # DuckDB has one writer: every asset that writes it runs in this pool (limit 1)


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    serving_warehouse: Path
    nightly_cron: str
    timezone: str
    schedule_running: bool
    alert_webhook_url: str | None
    freshness_hours: int

    @classmethod
    def from_env(cls) -> Settings:
        warehouse = warehouse_path().resolve()
        # dbt runs in dbt_project/: hand it the absolute path so a relative CSOPS_WAREHOUSE means the same file.
        os.environ["CSOPS_WAREHOUSE"] = str(warehouse)
        serving = os.environ.get("CSOPS_SERVING_WAREHOUSE")
        return cls(
            warehouse=warehouse,
            serving_warehouse=Path(serving) if serving else warehouse.with_name("serving.duckdb"),
            nightly_cron=os.environ.get("CSOPS_NIGHTLY_CRON", "0 2 * * *"),
            timezone=os.environ.get("CSOPS_TIMEZONE", "UTC"),
            schedule_running=os.environ.get("CSOPS_SCHEDULE_RUNNING", "true").lower() != "false",
            alert_webhook_url=os.environ.get("CSOPS_ALERT_WEBHOOK_URL") or None,
            freshness_hours=int(os.environ.get("CSOPS_FRESHNESS_HOURS", "36")),
        )
