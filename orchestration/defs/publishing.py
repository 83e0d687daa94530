"""The serving copy: BI tools read `serving.duckdb`, never the warehouse a refresh is writing.

DuckDB lets one process write a file and then nobody else can even open it, so BI tools would be locked out
during every refresh and could see half-built marts. After the build, the marts are copied into a new file that
atomically replaces the serving file: readers see the previous night's marts or tonight's, never a mix.

What is served is the marts layer of the dbt project (dbt_project/models/marts/), read from dbt's manifest: a new
mart is published, and the serving copy waits for it, without a change here.
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.defs.transformation import DBT_PROJECT, mart_relations
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

MARTS = mart_relations(json.loads(DBT_PROJECT.manifest_path.read_text()))


def quoted(relation: str) -> str:
    """schema.table as quoted identifiers."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in relation.split("."))


def sql_string(path: Path) -> str:
    """A path as an SQL string literal (single quotes doubled)."""
    return "'" + str(path).replace("'", "''") + "'"


def publish(warehouse: WarehouseResource, relations: Mapping[str, str]) -> dict[str, int]:
    """Copy `relations` (name -> schema.table) from the warehouse into the serving file atomically; returns rows
    per table."""
    serving = warehouse.serving_warehouse
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging_file = serving.with_name(serving.name + ".next")
    staging_file.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with warehouse.connect(staging_file, read_only=False) as con:
        # ATTACH takes no bound parameters: the path goes in as a quoted string literal.
        con.execute(f"attach {sql_string(warehouse.warehouse_path)} as source (read_only)")
        for relation in sorted(relations.values()):
            schema = relation.split(".")[0]
            con.execute(f"create schema if not exists {quoted(schema)}")
            con.execute(f"create table {quoted(relation)} as select * from source.{quoted(relation)}")
            counts[relation] = con.execute(f"select count(*) from {quoted(relation)}").fetchone()[0]
        con.execute("detach source")
    os.replace(staging_file, serving)
    return counts


@asset(
    key=AssetKey(["serving", "marts"]),
    group_name="marts",
    owners=["team:data-engineering"],
    deps=[AssetKey(["marts", name]) for name in sorted(MARTS)],
    pool=WAREHOUSE_POOL,
    description="Read-only copy of the marts for BI tools (data/serving.duckdb), swapped in atomically.",
    kinds={"duckdb"},
)
def serving_marts(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    counts = publish(warehouse, MARTS)
    context.log.info(f"published {len(counts)} tables to {warehouse.serving_warehouse}")
    return MaterializeResult(
        metadata={
            "path": str(warehouse.serving_warehouse),
            "tables": len(counts),
            **{f"rows/{k}": v for k, v in counts.items()},
        }
    )
