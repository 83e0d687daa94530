"""Running the sources into the warehouse: one dlt pipeline per source, each into its own raw dataset.

Dagster (orchestration/) and the CLI both build pipelines and sources here, so both load the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination.configuration import ParquetFormatConfiguration
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.helpers import pipeline_drop

from ingestion.errors import PendingPackageError, SourceConfigError, SourceError
from ingestion.identity import check_identity
from ingestion.quarantine import QUARANTINE_TABLE
from ingestion.registry import DATASETS, SOURCE_NAMES, source_spec
from ingestion.settings import WarehouseSettings


def warehouse_path() -> Path:
    """The DuckDB warehouse file: CSOPS_WAREHOUSE, else data/warehouse.duckdb."""
    return WarehouseSettings.read().warehouse


def pipelines_dir(warehouse: Path) -> Path:
    """Where dlt keeps pipeline working state (the durable state also lives in the warehouse)."""
    return WarehouseSettings.read().dlt_pipelines_dir or warehouse.parent / "dlt_pipelines"


def duckdb_limits(warehouse: Path) -> dict[str, Any]:
    """memory_limit / threads / temp_directory for a DuckDB connection to `warehouse`, from CSOPS_DUCKDB_* (the
    same variables and defaults as the Dagster warehouse resource), so a load outside Dagster is capped too."""
    settings = WarehouseSettings.read()
    return {
        "memory_limit": settings.duckdb_memory_limit,
        "threads": settings.duckdb_threads,
        "temp_directory": str(settings.duckdb_temp_directory or f"{warehouse.resolve()}.tmp"),
    }


def target() -> str:
    """The warehouse engine dlt loads and dbt builds on: duckdb (default), postgres or spark (CSOPS_TARGET).
    On spark, dlt writes a Parquet lake (CSOPS_LAKE) that dbt-spark reads."""
    return WarehouseSettings.read().target


def lake_url(warehouse: Path) -> str:
    """Where dlt writes the Parquet lake on the spark target: CSOPS_LAKE (a folder, or an object store URL such as
    s3://bucket/csops with dlt's credentials variables), else a `lake` folder beside the warehouse file."""
    return WarehouseSettings.read().lake or str((warehouse.parent / "lake").resolve())


def spark_directory(warehouse: Path) -> Path:
    """Where Spark keeps its catalog (Derby metastore) and the tables dbt-spark builds (`warehouse/<schema>.db/`):
    CSOPS_SPARK_DIR, else a `spark` folder beside the warehouse file."""
    return (WarehouseSettings.read().spark_dir or warehouse.parent / "spark").resolve()


def destination(warehouse: Path, duckdb_config: Mapping[str, Any] | None = None) -> Any:
    """dlt's destination for the warehouse; on DuckDB, `duckdb_config` (memory_limit, threads, temp_directory)
    is applied to every connection dlt opens."""
    settings = WarehouseSettings.read()
    if settings.target == "postgres":
        return dlt.destinations.postgres(credentials=settings.postgres_url())
    if settings.target == "spark":
        # Spark reads Parquet timestamps in microseconds at most (pyarrow would keep nanoseconds). The lake has
        # no merge (plain Parquet): every load appends, and the views dbt-spark reads keep the latest version of
        # each row (dbt_project/macros/lake_sources.sql; README "Scaling out").
        return dlt.destinations.filesystem(
            bucket_url=lake_url(warehouse),
            parquet_format=ParquetFormatConfiguration(coerce_timestamps="us", allow_truncated_timestamps=True),
        )
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    config = dict(duckdb_config or duckdb_limits(warehouse))
    return dlt.destinations.duckdb(DuckDbCredentials(str(warehouse), global_config=config))


def loader_file_format() -> str | None:
    """Parquet load files on DuckDB: an order of magnitude faster and leaner than SQL inserts for the nested API
    objects (measured by `csops bench`); the lake is Parquet; Postgres keeps dlt's default."""
    return None if target() == "postgres" else "parquet"


def make_pipeline(
    name: str, warehouse: Path | None = None, duckdb_config: Mapping[str, Any] | None = None
) -> dlt.Pipeline:
    warehouse = warehouse or warehouse_path()
    return dlt.pipeline(
        pipeline_name=f"csops_{name}",
        destination=destination(warehouse, duckdb_config),
        dataset_name=DATASETS[name],
        pipelines_dir=str(pipelines_dir(warehouse)),
    )


def query_dataset(name: str, warehouse: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple] | None:
    """Rows of `sql` run in source `name`'s dataset ({table} names are qualified), on whichever warehouse engine;
    None when the dataset or table does not exist yet."""
    pipeline = make_pipeline(name, warehouse)
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return None
            tables = {t: client.make_qualified_table_name(t) for t in ("companies", "customers", QUARANTINE_TABLE)}
            with client.execute_query(sql.format(**tables), *params) as cursor:
                return [tuple(row) for row in cursor.fetchall()]
    except DatabaseUndefinedRelation:
        return None


def known_accounts(warehouse: Path) -> list[str] | None:
    """Account ids the CRM or billing know (to quarantine events of unknown accounts); None before any load."""
    found = [
        query_dataset("hubspot", warehouse, "select account_id from {companies} where account_id is not null"),
        query_dataset(
            "stripe", warehouse, "select metadata__account_id from {customers} where metadata__account_id is not null"
        ),
    ]
    if all(rows is None for rows in found):
        return None
    return sorted({row[0] for rows in found if rows for row in rows})


def make_source(name: str, warehouse: Path | None = None) -> Any:
    """The configured dlt source `name` (configuration and secrets come from the environment via dlt), once its
    account is known to be the one this warehouse was loaded from (ingestion/identity.py)."""
    spec = source_spec(name)
    warehouse = warehouse or warehouse_path()
    try:
        source = spec.build(lambda: known_accounts(warehouse))
    except ConfigFieldMissingException as error:
        variables = ", ".join(f"SOURCES__{name.upper()}__{f.upper()}" for f in error.fields)
        raise SourceConfigError(f"{name}: missing configuration. Set {variables} (see .env.example).") from error
    check_identity(name, identity_pipeline(name, warehouse), warehouse, target())
    return source


def identity_pipeline(name: str, warehouse: Path) -> dlt.Pipeline:
    """The pipeline whose SQL client keeps the source identity record. A Parquet lake has no tables to update, so
    on the spark target the record stays in the DuckDB warehouse file (which then holds nothing else)."""
    if target() != "spark":
        return make_pipeline(name, warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"csops_{name}_identity",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name=DATASETS[name],
        pipelines_dir=str(pipelines_dir(warehouse)),
    )


@dataclass
class SourceReport:
    source: str
    dataset: str
    load_id: str | None
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    # Why rows were quarantined: "resource: rule" -> rows, e.g. {"events: event not a non-empty string": 2}.
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    pending_loaded: list[str] = field(default_factory=list)  # packages an earlier run left, loaded first
    after_load: dict[str, Any] = field(default_factory=dict)  # what the source's after-load step did
    # Where the time went: dlt's extract / normalize / load steps and the source's after-load step, in seconds.
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return sum(n for table, n in self.rows.items() if table != QUARANTINE_TABLE)


def loaded_rows(row_counts: Mapping[str, int], finished: Mapping[str, Any], table: str) -> dict[str, int]:
    """Rows per data table of a load: dlt's counts (bookkeeping tables, `_dlt_*` and `_csops_*`, left out) plus the
    rows the source's after-load step copied itself (`copied`, into `table`)."""
    rows = {t: n for t, n in row_counts.items() if not t.startswith(("_dlt", "_csops"))}
    if finished.get("copied"):
        rows[table] = rows.get(table, 0) + int(finished["copied"])
    return rows


def quarantined_rows(name: str, warehouse: Path, load_ids: Sequence[str]) -> dict[str, int]:
    """Rows each resource of source `name` quarantined in these loads (a bad row never silently disappears)."""
    if not load_ids:
        return {}
    marks = ", ".join(["%s"] * len(load_ids))
    rows = query_dataset(
        name,
        warehouse,
        f"select resource, count(*) from {{quarantine}} where _dlt_load_id in ({marks}) group by 1",
        list(load_ids),
    )
    return {resource: int(n) for resource, n in rows or []}


def quarantine_reasons(name: str, warehouse: Path, load_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Rows each resource of source `name` quarantined in these loads, by the rule they broke."""
    if not load_ids or not quarantined_rows(name, warehouse, load_ids):
        return {}  # (asked only when rows were quarantined: older quarantine tables have no `rule` column yet)
    marks = ", ".join(["%s"] * len(load_ids))
    rows = query_dataset(
        name,
        warehouse,
        f"select resource, coalesce(rule, reason), count(*) from {{quarantine}} where _dlt_load_id in ({marks}) "
        "group by 1, 2 order by 1, 2",
        list(load_ids),
    )
    reasons: dict[str, dict[str, int]] = {}
    for resource, rule, n in rows or []:
        reasons.setdefault(resource, {})[rule] = int(n)
    return reasons


def root_cause(error: BaseException) -> BaseException:
    """dlt wraps extraction errors in several layers; a user wants the innermost actionable one."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, SourceError):
            return current
        current = current.__cause__ or current.__context__
    return error


def forget_cursors(name: str, warehouse: Path | None = None) -> list[str]:
    """The repair path: forget source `name`'s incremental cursors (tables untouched), so its next load re-reads
    everything the source holds and merges it over what a bad night loaded. Returns the resources reset.

    Only the state goes: if the re-read fails, the raw tables still hold what they held."""
    pipeline = make_pipeline(name, warehouse or warehouse_path())
    pipeline.sync_destination()  # the durable state lives in the warehouse, not only in the local folder
    if not pipeline.default_schema_name:
        return []  # never loaded: the next load reads everything anyway
    drop = pipeline_drop(pipeline, drop_all=True, state_only=True)
    drop()
    superseded = source_spec(name).on_full_refresh
    if superseded is not None:
        superseded(pipeline)  # e.g. the usage loads whose files were never copied: the re-read covers them
    return [path.split(".")[-1] for path in drop.info["resource_states"]]


def load_pending(name: str, pipeline: dlt.Pipeline) -> list[str]:
    """Load what an earlier run extracted but did not load, before anything new is extracted; returns the load ids.

    Left to dlt, `pipeline.run` loads pending packages and returns without extracting the new data, so after a
    failed load every later night either fails the same way or silently loads nothing new. Here a pending package
    either loads (under the same DuckDB limits as any load) and the run goes on to tonight's data, or the run stops
    at once naming the package and the ways out; the package stays on disk, so nothing extracted is lost."""
    extracted, normalized = pipeline.list_extracted_load_packages(), pipeline.list_normalized_load_packages()
    if not extracted and not normalized:
        return []
    pending = sorted({*extracted, *normalized})
    try:
        if extracted:
            pipeline.normalize()
        pipeline.load()
    except PipelineStepFailed as error:
        folder = Path(pipeline.pipelines_dir)
        raise PendingPackageError(
            f"{name}: load package {', '.join(pending)}, extracted by an earlier run, is still pending and failed "
            f"to load again: {root_cause(error)}. It is kept in {folder / pipeline.pipeline_name} and nothing new "
            "is extracted until it loads. Fix the cause (for memory: CSOPS_DUCKDB_MEMORY_LIMIT, "
            "CSOPS_DUCKDB_TEMP_DIRECTORY) and run again, or abort it with "
            f"`dlt pipeline --pipelines-dir {folder} {pipeline.pipeline_name} abort-packages` (the incremental "
            "state goes back to before it, so the next run extracts the same data again)."
        ) from error
    return pending


def after_load(name: str, pipeline: dlt.Pipeline, warehouse: Path) -> dict[str, Any]:
    """The source's own step after a load (the usage events' copy from the files the load named), if it declares
    one; it also finishes loads an earlier run left without it. A failure names the cause and the way out: what the
    loads named stays in the warehouse, and the next run finishes it before extracting anything new."""
    step = source_spec(name).after_load
    if step is None:
        return {}
    try:
        return step(pipeline, lambda: known_accounts(warehouse))
    except Exception as error:
        raise PendingPackageError(
            f"{name}: the step after the load (copying the rows of the files it named, removing copies of events) "
            f"failed: {root_cause(error)}. What the load named is kept; the next run finishes it before extracting "
            "anything new, and stops there if it fails again. Fix the cause (for memory: CSOPS_DUCKDB_MEMORY_LIMIT, "
            "CSOPS_DUCKDB_TEMP_DIRECTORY; for a file that moved: put it back, or give its rows up with "
            f"`csops run --full-refresh {name}`, which reads again every file still in the bucket) and run again."
        ) from error


def catch_up(name: str, pipeline: dlt.Pipeline, warehouse: Path) -> dict[str, Any]:
    """Before anything new is extracted: the after-load step of loads an earlier run left without it (it died, or
    the step failed), so a failing step stops the run before new data piles up behind it."""
    return after_load(name, pipeline, warehouse)


def run_source(name: str, warehouse: Path | None = None, full_refresh: bool = False) -> SourceReport:
    """Load source `name`; `full_refresh` re-reads it whole first (see forget_cursors). A package an earlier run
    left pending loads first (see load_pending)."""
    warehouse = warehouse or warehouse_path()
    started = time.monotonic()
    if full_refresh:
        forget_cursors(name, warehouse)
    source = make_source(name, warehouse)
    pipeline = make_pipeline(name, warehouse)
    pending = load_pending(name, pipeline)
    caught_up = catch_up(name, pipeline, warehouse)
    try:
        info = pipeline.run(source, loader_file_format=loader_file_format())
    except PipelineStepFailed as error:
        cause = root_cause(error)
        if cause is not error:
            raise cause from error
        raise
    after_started = time.monotonic()
    finished = after_load(name, pipeline, warehouse)
    if caught_up.get("loads"):
        finished["caught_up"] = caught_up
    load_id = info.loads_ids[-1] if info.loads_ids else None
    normalize = pipeline.last_trace.last_normalize_info
    rows = loaded_rows(normalize.row_counts if normalize else {}, finished, source_spec(name).tables[0])
    report = SourceReport(name, DATASETS[name], load_id, rows, pending_loaded=pending, after_load=finished)
    report.step_seconds = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
        if step.finished_at and step.step != "run"
    }
    report.step_seconds["after_load"] = time.monotonic() - after_started
    reasons = quarantine_reasons(name, warehouse, info.loads_ids)
    report.quarantine_reasons = {f"{r}: {rule}": n for r, rules in reasons.items() for rule, n in rules.items()}
    report.quarantined = sum(report.quarantine_reasons.values())
    report.seconds = time.monotonic() - started
    return report


def ingest(
    names: Sequence[str] = SOURCE_NAMES,
    warehouse: Path | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
    full_refresh: Sequence[str] = (),
) -> list[SourceReport]:
    """Load the named sources in dependency order (those in `full_refresh` re-read whole); one report each."""
    reports = []
    for name in [n for n in SOURCE_NAMES if n in names]:
        report = run_source(name, warehouse, full_refresh=name in full_refresh)
        reports.append(report)
        if on_report:
            on_report(report)
    return reports
