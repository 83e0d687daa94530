"""Great Expectations suites on the marts that feed the CRM push, as blocking Dagster asset checks.

GX 1.x has no DuckDB datasource (and SQLAlchemy to DuckDB mis-reads results), so each check reads the table
into a DataFrame and validates it with GX's pandas datasource.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


@dataclass(frozen=True)
class Suite:
    table: str  # schema.table in the warehouse
    expectations: Callable[[object], list]  # gx.expectations module -> expectations
    where: str = "true"


def _at_risk_expectations(gxe) -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="account_id"),
        gxe.ExpectColumnValuesToBeUnique(column="account_id"),
        gxe.ExpectColumnValuesToBeUnique(column="priority_rank"),
        gxe.ExpectColumnValuesToNotBeNull(column="recommended_playbook"),
        gxe.ExpectColumnValuesToNotBeNull(column="risk_reasons"),
        gxe.ExpectColumnValuesToBeBetween(column="health_score", min_value=0, max_value=100),
        gxe.ExpectColumnValuesToBeBetween(column="arr_at_stake_usd", min_value=0),
        gxe.ExpectColumnValuesToBeInSet(column="health_status", value_set=["green", "yellow", "red"]),
    ]


def _health_expectations(gxe) -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="account_id"),
        gxe.ExpectColumnValuesToBeUnique(column="account_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="health_score"),
        gxe.ExpectColumnValuesToBeBetween(column="health_score", min_value=0, max_value=100),
        gxe.ExpectColumnValuesToBeInSet(column="health_status", value_set=["green", "yellow", "red"]),
        gxe.ExpectColumnValuesToBeBetween(column="usage_score", min_value=0, max_value=100, mostly=1.0),
    ]


SUITES = {
    "at_risk_accounts": Suite("marts.at_risk_accounts", _at_risk_expectations),
    "customer_health_daily": Suite(
        "marts.customer_health_daily",
        _health_expectations,
        where="health_date = (select max(health_date) from marts.customer_health_daily)",
    ),
}


def validate(suite_name: str, warehouse: str, duckdb_config: Mapping[str, Any] | None = None) -> AssetCheckResult:
    """Run one suite; the result lists every failed expectation with a sample of unexpected values."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite_def = SUITES[suite_name]
    with duckdb.connect(warehouse, read_only=True, config=dict(duckdb_config or {})) as con:
        frame = con.execute(f"select * from {suite_def.table} where {suite_def.where}").df()
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe("all_rows")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}_suite"))
    for expectation in suite_def.expectations(gxe):
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": frame})
    failures = [
        f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column')}): "
        f"{r.result.get('unexpected_count', '?')} unexpected, e.g. {r.result.get('partial_unexpected_list', [])[:3]}"
        for r in result.results
        if not r.success
    ]
    return AssetCheckResult(
        passed=bool(result.success),
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows_checked": len(frame), "expectations": len(result.results), "failures": failures},
        description="; ".join(failures) if failures else "all expectations met",
    )


@asset_check(
    asset=AssetKey(["marts", "at_risk_accounts"]),
    name="gx_at_risk_accounts",
    blocking=True,
    pool=WAREHOUSE_POOL,  # opens the warehouse: DuckDB lets no reader in while another process writes it
    description="Great Expectations suite on the at-risk list the CRM sync pushes (blocks the sync).",
)
def gx_at_risk_accounts(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    return validate("at_risk_accounts", str(warehouse.warehouse_path), warehouse.duckdb_config())


@asset_check(
    asset=AssetKey(["marts", "customer_health_daily"]),
    name="gx_customer_health_today",
    blocking=True,
    pool=WAREHOUSE_POOL,  # opens the warehouse: DuckDB lets no reader in while another process writes it
    description="Great Expectations suite on today's health scores the CRM sync pushes (blocks the sync).",
)
def gx_customer_health_today(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    return validate("customer_health_daily", str(warehouse.warehouse_path), warehouse.duckdb_config())


GX_CHECKS = [gx_at_risk_accounts, gx_customer_health_today]
