"""The nightly CRM push as an asset downstream of the marts it reads. Blocking checks stop a run before it gets
here: the Great Expectations checks on the raw tables (before dbt) and the dbt tests of severity error on the marts."""

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, asset

from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


@asset(
    key=AssetKey(["activation", "crm_sync"]),
    group_name="activation",
    owners=["team:cs-ops"],
    deps=[
        AssetKey(["marts", "at_risk_accounts"]),
        AssetKey(["marts", "customer_health_daily"]),
        AssetKey(["marts", "cs_playbook_tasks"]),
        AssetKey(["marts", "crm_removed_companies"]),  # companies deleted or merged: never written to
    ],
    pool=WAREHOUSE_POOL,
    description="Pushes health fields, the at-risk list and CSM tasks into the CRM (only what changed).",
    kinds={"hubspot"},
)
def crm_sync(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    from activation import run_sync

    report = run_sync(warehouse.warehouse_path, log=context.log.info)
    if not report.ok:
        # Halted (circuit breaker), blocked (failed checks), partial or failed: a red run, and the failure sensor
        # alerts. Failed rows are retried by the next run.
        raise Failure(
            description=report.halted_reason or "; ".join(report.summary_lines()), metadata=report.as_metadata()
        )
    return MaterializeResult(metadata=report.as_metadata())
