"""The serving copy: BI tools read `serving.duckdb`, never the warehouse a refresh is writing.

DuckDB lets one process write a file and then nobody else can even open it, so BI tools would be locked out
during every refresh and could see half-built marts. After the build, the marts are copied into a new file that
atomically replaces the serving file: readers see the previous night's marts or tonight's, never a mix.
"""

import os
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.settings import WAREHOUSE_POOL, Settings

SERVED_SCHEMAS = ("marts",)


def publish(warehouse: Path, serving: Path) -> dict[str, int]:
    """Copy the served schemas into `serving` atomically; returns rows per table."""
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging_file = serving.with_name(serving.name + ".next")
    staging_file.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with duckdb.connect(str(staging_file)) as con:
        con.execute(f"attach '{warehouse}' as source (read_only)")
        for schema in SERVED_SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
            tables = con.execute(
                "select table_name from information_schema.tables where table_catalog = 'source' "
                "and table_schema = ? order by 1",
                [schema],
            ).fetchall()
            for (table,) in tables:
                con.execute(f"create table {schema}.{table} as select * from source.{schema}.{table}")
                counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
        con.execute("detach source")
    os.replace(staging_file, serving)
    return counts


@asset(
    key=AssetKey(["serving", "marts"]),
    group_name="marts",
    owners=["team:data-engineering"],
    deps=[
        AssetKey(["marts", name])
        for name in (
            "customer_360",
            "mrr_movements",
            "mrr_summary",
            "customer_health_daily",
            "at_risk_accounts",
            "cs_playbook_tasks",
        )
    ],
    pool=WAREHOUSE_POOL,
    description="Read-only copy of the marts for BI tools (data/serving.duckdb), swapped in atomically.",
    kinds={"duckdb"},
)
def serving_marts(context: AssetExecutionContext) -> MaterializeResult:
    settings = Settings.from_env()
    counts = publish(settings.warehouse, settings.serving_warehouse)
    context.log.info(f"published {len(counts)} tables to {settings.serving_warehouse}")
    return MaterializeResult(
        metadata={
            "path": str(settings.serving_warehouse),
            "tables": len(counts),
            **{f"rows/{k}": v for k, v in counts.items()},
        }
    )
