"""The serving copy as an asset: what BI tools read (orchestration/serving.py says how and why).

What is served is the marts layer of the dbt project (dbt_project/models/marts/), read from dbt's manifest: a new
mart is published, and the serving copy waits for it, without a change here.
"""

import json

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.defs.transformation import DBT_PROJECT, mart_relations
from orchestration.resources import WarehouseResource
from orchestration.serving import SCHEMA, publish_duckdb, publish_postgres
from orchestration.settings import WAREHOUSE_POOL

MARTS = mart_relations(json.loads(DBT_PROJECT.manifest_path.read_text()))


@asset(
    key=AssetKey(["serving", "marts"]),
    group_name="marts",
    owners=["team:data-engineering"],
    deps=[AssetKey(["marts", name]) for name in sorted(MARTS)],
    pool=WAREHOUSE_POOL,
    description="Read-only copies of the marts for BI tools, each swapped in atomically: data/serving.duckdb "
    "(readable by DuckDB 1.x drivers, dbt's comments kept, money as DECIMAL), Parquet files per mart (per "
    "month for customer_health_daily), and "
    "optionally a Postgres schema (CSOPS_SERVING_POSTGRES_URL).",
    kinds={"duckdb"},
)
def serving_marts(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    tables = sorted(relation.split(".", 1)[1] for relation in MARTS.values() if relation.startswith(f"{SCHEMA}."))
    source = warehouse.marts_database()
    published = publish_duckdb(
        source, warehouse.serving_warehouse, marts=tables, parquet_dir=warehouse.parquet_directory
    )
    metadata = {
        "path": str(warehouse.serving_warehouse),
        "parquet": str(warehouse.parquet_directory),
        "tables": len(published.rows),
        **{f"rows/{SCHEMA}.{table}": count for table, count in published.rows.items()},
        # new / replaced, or for a daily mart the days rewritten (the rest kept from the last copy)
        **{f"written/{SCHEMA}.{table}": how for table, how in published.how.items()},
        # a daily mart's Parquet: the months written tonight (the others are hard links to last night's files)
        **{f"parquet_months_written/{SCHEMA}.{table}": n for table, n in published.parquet_months.items()},
    }
    if warehouse.serving_postgres_url:
        metadata["postgres_tables"] = publish_postgres(source, warehouse.serving_postgres_url, tables)
    context.log.info(f"published {len(published.rows)} marts to {warehouse.serving_warehouse} and Parquet")
    return MaterializeResult(metadata=metadata)
