"""Assembles the csops code location (loaded by workspace.yaml). The parts live in orchestration/defs/."""

from __future__ import annotations

from dagster import Definitions
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.defs.activation import crm_sync
from orchestration.defs.automation import nightly_refresh, nightly_schedule, run_failure_alert
from orchestration.defs.checks import GX_CHECKS
from orchestration.defs.ingestion import INGESTION_ASSETS
from orchestration.defs.publishing import serving_marts
from orchestration.defs.transformation import DBT_PROJECT, dbt_models
from orchestration.settings import DBT_EXECUTABLE, Settings

settings = Settings.from_env()

defs = Definitions(
    assets=[*INGESTION_ASSETS, dbt_models, serving_marts, crm_sync],
    asset_checks=GX_CHECKS,
    jobs=[nightly_refresh],
    schedules=[nightly_schedule(settings)],
    sensors=[run_failure_alert],
    resources={
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
        "dlt": DagsterDltResource(),
    },
)
