"""dlt sources as Dagster assets, keyed ["dlt", source, table] so dbt sources line up with them."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, FreshnessPolicy, MaterializeResult, MetadataValue
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.pipeline import (
    after_load,
    catch_up,
    load_pending,
    loader_file_format,
    make_pipeline,
    make_source,
    quarantined_rows,
    warehouse_path,
)
from ingestion.registry import BY_NAME, SOURCES
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, Settings

OWNERS = ["team:data-engineering"]
# Each raw source must have loaded within the window (CSOPS_FRESHNESS_HOURS, default 36).
FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=Settings.from_env().freshness_hours))


class CsopsDltTranslator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        source = BY_NAME[data.resource.source_name]
        return spec.replace_attributes(
            key=AssetKey(["dlt", source.name, data.resource.name]),
            group_name="ingestion",
            owners=OWNERS,
            description=f"{source.description} Raw table {source.dataset}.{data.resource.name}.",
            deps=[],
            freshness_policy=FRESHNESS,
        )


def build_source_assets(name: str) -> Any:
    translator = CsopsDltTranslator()

    @dlt_assets(
        dlt_source=BY_NAME[name].shape(),
        # The asset specs need the pipeline's name, dataset and destination type only, not the run's warehouse.
        dlt_pipeline=make_pipeline(name, warehouse_path()),
        name=f"dlt_{name}",
        dagster_dlt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def source_assets(
        context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        pipeline = make_pipeline(name, warehouse.warehouse_path, duckdb_config=warehouse.duckdb_config())
        pending = load_pending(name, pipeline)
        if pending:
            context.log.info(f"{name}: loaded package(s) {', '.join(pending)} left pending by an earlier run")
        caught_up = catch_up(name, pipeline, warehouse.warehouse_path)
        if caught_up.get("loads"):
            context.log.info(f"{name}: finished the after-load step of earlier load(s): {caught_up}")
        results = list(
            dlt.run(
                context=context,
                dlt_source=make_source(name, warehouse.warehouse_path),
                dlt_pipeline=pipeline,
                dagster_dlt_translator=translator,
                loader_file_format=loader_file_format(),
            )
        )
        finished = after_load(name, pipeline, warehouse.warehouse_path)
        load_info = pipeline.last_trace.last_load_info if pipeline.last_trace else None
        quarantine = quarantined_rows(name, warehouse.warehouse_path, list(load_info.loads_ids) if load_info else [])
        copied = int(finished.get("copied") or 0)  # rows the warehouse copied from files the load named
        for result in results:
            resource = result.asset_key.path[-1]
            loaded = result.metadata.get("rows_loaded") if result.metadata else None
            if copied and resource == BY_NAME[name].tables[0]:
                loaded = MetadataValue.int((loaded.value if loaded else 0) + copied)
            yield MaterializeResult(
                asset_key=result.asset_key,
                metadata={
                    **(result.metadata or {}),
                    # dagster-dlt names the table after the dlt schema; the warehouse table is in the dataset.
                    "dagster/table_name": f"{BY_NAME[name].dataset}.{resource}",
                    "quarantined_rows": quarantine.get(resource, 0),
                    **({"rows_loaded": loaded} if loaded else {}),
                    **({"after_load": finished} if finished else {}),
                },
            )

    return source_assets


INGESTION_ASSETS = [build_source_assets(spec.name) for spec in SOURCES]
