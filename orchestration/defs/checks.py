"""Great Expectations on the raw tables as blocking Dagster checks on the dlt assets: one check per raw table
(`gx_raw_contract`), one step (`gx_raw_tables`) for all of them. A failed check stops the run before dbt, so the
marts, the serving copy and the CRM push keep the last good state. The suites come from the declared contracts
(orchestration/raw_checks.py); each result links the Data Docs (HTML) beside the warehouse.

The marts carry no GX suite: what they must hold is tested by dbt (dbt_project/models/marts/*.yml, blocking checks
in Dagster), and the CRM push's preflight reads those results (activation/preflight.py).
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from ingestion.registry import SOURCES
from orchestration.raw_checks import VolumeRule, check_sources
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

CHECK_NAME = "gx_raw_contract"


def build_raw_checks(sources: dict[str, tuple[str, ...]]) -> AssetChecksDefinition:
    """One check step over every raw table: Great Expectations costs its import (about 4 s) and a Data Docs render
    per step, and the warehouse pool runs the steps one after another, so four steps (one per source) cost the night
    three imports more than one. Selecting one source's assets selects only its checks (can_subset)."""
    specs = [
        AssetCheckSpec(
            CHECK_NAME,
            asset=AssetKey(["dlt", source, table]),
            blocking=True,
            description=f"Great Expectations on raw_{source}.{table}: declared required fields present and not "
            "null, accepted values, no dlt variant column, no drop in the rows loaded against recent loads (a spike "
            "only warns).",
        )
        for source, tables in sources.items()
        for table in tables
    ]

    @multi_asset_check(
        name="gx_raw_tables",
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,  # reads the warehouse: DuckDB lets no reader in while another process writes it
        description="Great Expectations suites on the raw tables of every source, blocking dbt when one fails.",
    )
    def raw_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[AssetCheckResult]:
        selection: dict[str, set[str]] = {}
        for key in context.selected_asset_check_keys:
            _, source, table = key.asset_key.path
            selection.setdefault(source, set()).add(table)
        if warehouse.target == "postgres":  # the suites read DuckDB: the warehouse file, or on spark the lake
            for source, tables in sorted(selection.items()):
                for table in sorted(tables):
                    yield AssetCheckResult(
                        asset_key=AssetKey(["dlt", source, table]),
                        check_name=CHECK_NAME,
                        passed=True,
                        description="not run: the raw suites read the DuckDB warehouse, the target is "
                        f"{warehouse.target}",
                    )
            return
        results, docs = check_sources(
            selection, warehouse.connect, warehouse.gx_project_directory, VolumeRule.from_env()
        )
        for source, tables in results.items():
            for table, result in tables.items():
                if not result.passed:
                    context.log.error(f"{result.relation}: " + "; ".join(result.failures))
                if result.warnings:
                    context.log.warning(f"{result.relation} (warning only): " + "; ".join(result.warnings))
                # A failure blocks dbt (severity ERROR); a table with only warnings (a spike in volume) shows as a
                # failed check of severity WARN, which Dagster does not let block the downstream assets.
                findings = result.failures or result.warnings
                yield AssetCheckResult(
                    asset_key=AssetKey(["dlt", source, table]),
                    check_name=CHECK_NAME,
                    passed=not findings,
                    severity=AssetCheckSeverity.ERROR if result.failures else AssetCheckSeverity.WARN,
                    description="; ".join(findings) if findings else "all expectations met",
                    metadata={
                        **result.facts,
                        "failures": result.failures,
                        "warnings": result.warnings,
                        "data_docs": MetadataValue.url(docs.as_uri()),
                        "data_docs_path": MetadataValue.path(str(docs)),
                    },
                )

    return raw_checks


RAW_CHECKS = [build_raw_checks({spec.name: spec.tables for spec in SOURCES})]
