"""Great Expectations on the landed raw tables, derived from the declared contracts (ingestion/contracts.py).

Why a second look after the load-time contracts: the contracts judge each row as it arrives; what lands can still go
wrong as a whole — a table whose required field is mostly NULL (written by an older load, a migration, a hand-made
fix), a dlt variant column (`amount_due__v_text`) leaving the real column empty, a night that loads a tenth (or ten
times) the usual rows. These suites run as blocking Dagster checks on the dlt assets (orchestration/defs/checks.py),
so dbt does not build on a bad night and the marts, the serving copy and the CRM keep the last good state. A spike
in volume is the one finding that only warns (VolumeRule says why).

Per raw table, up to three validations, each on a small frame read from DuckDB with the warehouse resource's capped
connection (never a whole large table):
- `fields` (tables with a contract): the declared required fields exist and are not null (a share of nulls only where
  the contract allows one, `Field.null_share`), enum fields hold accepted values. The frame holds only those columns;
  past MAX_FIELD_ROWS rows it is a sample: of the latest load's rows and, by vectors, of the whole table.
- `columns` (every table): no dlt variant column in the table or its nested tables (the column list is the frame).
- `volume` (every table): the rows the latest load wrote against the median of the loads before it (VolumeRule): a
  drop fails, a spike warns (its expectation carries `meta.warn_only`); on a table whose rows arrive in waves (the
  registry's `wave_tables`: survey responses) no spike is judged. One validation for both: each GX validation
  costs a suite, a definition and a stored result, about a tenth of a second per table every night.

GX 1.x has no DuckDB datasource (FACTS.md), so the frames go through its pandas datasource. A file-backed context
beside the warehouse keeps suites and results, and renders them as Data Docs (HTML) the Dagster checks link to.
"""

from __future__ import annotations

import os
import shutil
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingestion.contracts import Contract, contract
from ingestion.registry import BY_NAME
from orchestration.settings import Settings

# dlt names a variant column <column>__v_<data type> when a value does not fit the column's type.
VARIANT_COLUMN = r"__v_[a-z]+$"
# Above this many rows the `fields` frame is a reservoir sample (null shares and enum values are then estimates).
MAX_FIELD_ROWS = 200_000
SAMPLE_SEED = 42
# Results kept per suite (a week of nights): the Data Docs show them, older ones and their pages are removed.
KEEP_RESULTS = 7
DATASOURCE = "raw_tables"
# The fact a table's check reports only when its volume was judged against earlier loads (the bench counts them).
JUDGED_VOLUME_FACT = "median_rows_earlier_loads"


@dataclass(frozen=True)
class VolumeRule:
    """When the rows a load wrote are out of line with recent loads.

    The latest load fails when it wrote fewer than median / `factor` rows (a drop to near zero: a missing file, an
    API that returned one page); more than `factor` x max(median, `min_rows`) (a spike) is a warning unless
    `spike_fails`. A drop means data is missing and the marts would be wrong; a spike is mostly real work upstream
    (a bulk update of CRM companies, a price migration in billing) whose rows are deduplicated by key, so
    it is shown, not allowed to stop the night. Judged only once `min_loads` earlier loads exist, on the last `loads`
    of them; a drop only when the median is at least `min_rows` (a table that usually gets a handful of changed rows
    may get none). A load that rewrote every row of the table (the first load, `csops run --full-refresh`) is not
    compared with incremental nights."""

    factor: float = 10.0
    loads: int = 7
    min_loads: int = 3
    min_rows: int = 20
    spike_fails: bool = False

    @classmethod
    def from_env(cls) -> VolumeRule:
        """CSOPS_VOLUME_FACTOR, CSOPS_VOLUME_LOADS and CSOPS_VOLUME_SPIKE (documented in .env.example)."""
        settings = Settings.from_env()
        return cls(
            factor=settings.volume_factor, loads=settings.volume_loads, spike_fails=settings.volume_spike == "fail"
        )


@dataclass(frozen=True)
class RawTable:
    """One raw table as the checks see it: where it lives and the contract it is held to (if any)."""

    source: str
    table: str
    contract: Contract | None
    in_waves: bool = False  # rows arrive in waves (the registry's wave_tables): no spike is judged

    @property
    def dataset(self) -> str:
        return BY_NAME[self.source].dataset

    @property
    def relation(self) -> str:
        return f"{self.dataset}.{self.table}"


def raw_tables(source: str) -> list[RawTable]:
    """The tables source `source` writes (the registry), each with its declared contract."""
    spec = BY_NAME[source]
    return [RawTable(source, table, contract(source, table), table in spec.wave_tables) for table in spec.tables]


@dataclass
class Validation:
    """What one validation needs: a name (suite and Data Docs page), its frame and its expectations."""

    name: str
    frame: Any  # pandas.DataFrame
    expectations: list[Any]


@dataclass
class TableResult:
    """The outcome of a table's validations, as the Dagster check reports it."""

    relation: str
    passed: bool  # no failure (warnings do not count)
    failures: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _columns(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> list[tuple[str, str]]:
    """(table, column) of `table` and its nested tables (dlt names them <table>__<field>)."""
    return con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = ? and (table_name = ? or starts_with(table_name, ? || '__')) "
        "order by table_name, ordinal_position",
        [dataset, table, table],
    ).fetchall()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fields_validation(
    con: duckdb.DuckDBPyConnection, raw: RawTable, present: set[str], gxe: Any, latest_load: str | None = None
) -> Validation | None:
    """Required fields present and not null, enum fields within their accepted values. `latest_load` (the newest
    completed load, as the volume validation found it) is sampled on its own past MAX_FIELD_ROWS rows."""
    if raw.contract is None:
        return None
    required = [f for f in raw.contract.fields if f.required]
    enums = [f for f in raw.contract.fields if f.accepted is not None and f.name in present]
    read = sorted({f.name for f in required if f.name in present} | {f.name for f in enums})
    if not read and not required:
        return None
    if read:
        frame = con.execute(*_field_frame_query(con, raw, present, read, latest_load)).df()
    else:  # every required field is gone: the column-set expectation below names them
        import pandas as pd

        frame = pd.DataFrame()
    expectations: list[Any] = []
    if required:
        expectations.append(gxe.ExpectTableColumnsToMatchSet(column_set=[f.name for f in required], exact_match=False))
    for f in required:
        if f.name in present:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=f.name, mostly=1.0 - f.null_share))
    for f in enums:
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=sorted(f.accepted or ())))
    return Validation(f"{raw.relation}.fields", frame, expectations)


def _field_frame_query(
    con: duckdb.DuckDBPyConnection, raw: RawTable, present: set[str], read: list[str], latest_load: str | None
) -> tuple[str, list[Any]]:
    """The query for the `fields` frame: the whole table up to MAX_FIELD_ROWS rows; past that, half a uniform sample
    of the latest load's rows (what tonight brought, every row equally likely) and half a sample of the whole table
    by DuckDB vectors (older rows, changed by hand or by a migration), which reads only the vectors it keeps.
    A reservoir over the whole table reads all of it, so its cost grows with the history (over 99M rows: 10.4 s;
    this takes 0.3 s)."""
    columns = ", ".join(map(_quoted, read))
    (rows,) = con.execute(f"select count(*) from {raw.relation}").fetchone()
    if rows <= MAX_FIELD_ROWS:
        return f"select {columns} from {raw.relation}", []
    if latest_load is None:  # no load to tell apart (no _dlt_load_id column, nothing completed)
        reservoir = f"reservoir({MAX_FIELD_ROWS} rows) repeatable ({SAMPLE_SEED})"
        return f"select {columns} from {raw.relation} using sample {reservoir}", []
    half = MAX_FIELD_ROWS // 2
    return (
        f"select {columns} from (select {columns} from {raw.relation} where _dlt_load_id = ?) "
        f"using sample reservoir({half} rows) repeatable ({SAMPLE_SEED}) "
        f"union all select {columns} from {raw.relation} using sample {100.0 * half / rows:.6f}% (system)",
        [latest_load],
    )


def columns_validation(columns: list[tuple[str, str]], raw: RawTable, gxe: Any) -> Validation:
    """No dlt variant column in the table or its nested tables: the frame is the column list itself."""
    import pandas as pd

    frame = pd.DataFrame({"column_name": [f"{table}.{column}" for table, column in columns]})
    expectation = gxe.ExpectColumnValuesToNotMatchRegex(column="column_name", regex=VARIANT_COLUMN)
    return Validation(f"{raw.relation}.columns", frame, [expectation])


def load_volumes(con: duckdb.DuckDBPyConnection, raw: RawTable, loads: int) -> list[tuple[str, int]]:
    """(load_id, rows of the table stamped with it) for the dataset's last `loads` + 1 completed loads, newest first.
    Aggregated in DuckDB; a load that wrote nothing to the table counts 0. Merge loads re-stamp the rows they
    update, so an older load counts the rows it wrote that no later load touched."""
    return con.execute(
        f"""
        with recent as (
            select load_id, inserted_at from {raw.dataset}._dlt_loads where status = 0
            order by inserted_at desc limit ?
        ),
        stamped as (
            select _dlt_load_id as load_id, count(*) as row_count from {raw.relation}
            where _dlt_load_id in (select load_id from recent) group by 1
        )
        select recent.load_id, coalesce(stamped.row_count, 0) from recent left join stamped using (load_id)
        order by recent.inserted_at desc
        """,
        [loads + 1],
    ).fetchall()


def volume_validation(
    con: duckdb.DuckDBPyConnection, raw: RawTable, present: set[str], rule: VolumeRule, gxe: Any
) -> tuple[Validation | None, dict[str, Any]]:
    """The latest load's row count against the median of the loads before it: a drop and, except on tables whose
    rows arrive in waves, a spike (a warning unless the rule says it fails: `meta.warn_only`); (None, why) when not
    judged."""
    import pandas as pd

    if "_dlt_load_id" not in present:
        # dlt adds no _dlt_load_id to tables loaded from Arrow / Parquet unless configured to.
        return None, {"volume": "not judged: the table has no _dlt_load_id column"}
    volumes = load_volumes(con, raw, rule.loads)
    if not volumes:
        return None, {"volume": "not judged: no completed load yet"}
    (latest_load, latest), earlier = volumes[0], [count for _, count in volumes[1:]]
    (total,) = con.execute(f"select count(*) from {raw.relation}").fetchone()
    facts: dict[str, Any] = {"latest_load_id": latest_load, "latest_load_rows": latest}
    if latest and latest == total:
        return None, {**facts, "volume": "not judged: the latest load wrote every row (a first or full load)"}
    if len(earlier) < rule.min_loads:
        return None, {**facts, "volume": f"not judged: {len(earlier)} earlier load(s), {rule.min_loads} needed"}
    median = statistics.median(earlier)
    low = median / rule.factor if median >= rule.min_rows else 0
    # A wave (thousands of survey responses after quiet nights) is the table's normal, not a spike.
    high = None if raw.in_waves else rule.factor * max(median, rule.min_rows)
    facts.update(
        {
            JUDGED_VOLUME_FACT: median,
            "volume_low": low,
            "volume_high": "none: rows arrive in waves" if high is None else high,
        }
    )
    frame = pd.DataFrame({"load_id": [latest_load], "rows_loaded": [latest]})
    expectations = [gxe.ExpectColumnValuesToBeBetween(column="rows_loaded", min_value=low)]  # a drop
    if high is not None:  # a spike
        meta = {"warn_only": not rule.spike_fails, "finding": "spike"}
        expectations.append(gxe.ExpectColumnValuesToBeBetween(column="rows_loaded", max_value=high, meta=meta))
    return Validation(f"{raw.relation}.volume", frame, expectations), facts


def _describe(result: Any) -> str:
    """One failed expectation in a line: its type, column and what was unexpected."""
    config = result.expectation_config
    column = config.kwargs.get("column")
    detail = result.result or {}
    if "unexpected_count" in detail:
        seen = f"{detail['unexpected_count']} unexpected ({detail.get('unexpected_percent') or 0:.1f}%)"
        sample = [None if v != v else v for v in detail.get("partial_unexpected_list", [])[:3]]  # NaN -> None
        seen += f", e.g. {sample}"
    elif "details" in detail:
        seen = str(detail["details"])
    else:
        seen = f"observed {detail.get('observed_value')!r}"
    exception = (result.exception_info or {}).get("exception_message")
    return f"{config.type}({column or ''}): {exception or seen}"


class RawSuites:
    """The GX file context beside the warehouse: runs validations, keeps the last KEEP_RESULTS results of each,
    renders the ones of this run (and the index) as Data Docs."""

    def __init__(self, project_dir: Path) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        project_dir.mkdir(parents=True, exist_ok=True)
        self.context = gx.get_context(mode="file", project_root_dir=str(project_dir))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.root = Path(self.context.root_directory)
        self.run_id = RunIdentifier(run_time=datetime.now(UTC))
        try:  # created on the first night, then read (each change rewrites great_expectations.yml)
            self.source = self.context.data_sources.get(DATASOURCE)
        except (KeyError, ValueError):
            self.source = self.context.data_sources.add_pandas(DATASOURCE)

    @property
    def expectations(self) -> Any:
        import great_expectations.expectations as gxe

        return gxe

    def _batch_definition(self, name: str) -> Any:
        """A whole-dataframe batch definition named after the validation (one dataframe asset each)."""
        try:
            asset = self.source.get_asset(name)
        except LookupError:
            asset = self.source.add_dataframe_asset(name)
        try:
            return asset.get_batch_definition("whole")
        except KeyError:
            return asset.add_batch_definition_whole_dataframe("whole")

    def run(self, validation: Validation) -> tuple[list[str], list[str]]:
        """Validate one frame: (failures, warnings), one line per failed expectation; an expectation whose `meta`
        says `warn_only` is a warning."""
        suite = self.context.suites.add_or_update(
            self.gx.ExpectationSuite(name=validation.name, expectations=validation.expectations)
        )
        batch = self._batch_definition(validation.name)
        definition = self.context.validation_definitions.add_or_update(
            self.gx.ValidationDefinition(name=validation.name, data=batch, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": validation.frame}, run_id=self.run_id)
        failures: list[str] = []
        warnings: list[str] = []
        for r in result.results:
            if not r.success:
                meta = r.expectation_config.meta or {}
                finding = f" ({meta['finding']})" if meta.get("finding") else ""
                (warnings if meta.get("warn_only") else failures).append(f"{validation.name}{finding}: {_describe(r)}")
        return failures, warnings

    def prune(self, keep: int = KEEP_RESULTS) -> None:
        """Drop all but the newest `keep` results of each suite, with their HTML pages (results are stored as
        validations/<suite path>/<run name>/<run time>/<batch>.json, their pages mirror that path)."""
        results = self.root / "uncommitted" / "validations"
        pages = self.root / "uncommitted" / "data_docs" / "local_site" / "validations"
        for run_name in {path.parent.parent for path in results.rglob("*.json")}:
            times = sorted((d for d in run_name.iterdir() if d.is_dir()), key=lambda d: d.name, reverse=True)
            for old in times[keep:]:
                shutil.rmtree(old)
                shutil.rmtree(pages / old.relative_to(results), ignore_errors=True)

    def build_docs(self) -> Path:
        """Render this run's results and the index as HTML; the index page's path."""
        self.prune()
        store = self.context.validation_results_store
        ours = [key for key in store.list_keys() if key.run_id == self.run_id]
        urls = self.context.build_data_docs(resource_identifiers=ours)
        return Path(next(iter(urls.values())).removeprefix("file://"))


def check_sources(
    selection: Mapping[str, Iterable[str] | None],
    connect: Callable[[], duckdb.DuckDBPyConnection],
    project_dir: Path,
    rule: VolumeRule,
) -> tuple[dict[str, dict[str, TableResult]], Path]:
    """Validate the raw tables of each source in `selection` (source -> its tables, None = all) and publish the Data
    Docs once: results per source and table, and the docs' index page. One GX context and one render serve every
    source (each costs about a second); `connect` opens the warehouse read-only with the resource's limits."""
    suites = RawSuites(project_dir)
    results: dict[str, dict[str, TableResult]] = {}
    with connect() as con:
        for source, tables in selection.items():
            results[source] = _check_tables(suites, con, source, set(tables) if tables is not None else None, rule)
    return results, suites.build_docs()


def check_source(
    source: str,
    connect: Callable[[], duckdb.DuckDBPyConnection],
    project_dir: Path,
    rule: VolumeRule,
    tables: Iterable[str] | None = None,
) -> tuple[dict[str, TableResult], Path]:
    """`check_sources` for one source (all its tables, or `tables`)."""
    results, docs = check_sources({source: tables}, connect, project_dir, rule)
    return results[source], docs


def _check_tables(
    suites: RawSuites, con: duckdb.DuckDBPyConnection, source: str, wanted: set[str] | None, rule: VolumeRule
) -> dict[str, TableResult]:
    gxe = suites.expectations
    results: dict[str, TableResult] = {}
    for raw in raw_tables(source):
        if wanted is not None and raw.table not in wanted:
            continue
        columns = _columns(con, raw.dataset, raw.table)
        present = {column for table, column in columns if table == raw.table}
        if not present:
            results[raw.table] = TableResult(raw.relation, True, facts={"note": "no rows loaded yet: no table"})
            continue
        volume, facts = volume_validation(con, raw, present, rule, gxe)
        fields = fields_validation(con, raw, present, gxe, facts.get("latest_load_id"))
        validations = [v for v in (fields, columns_validation(columns, raw, gxe), volume) if v is not None]
        failures: list[str] = []
        warnings: list[str] = []
        for validation in validations:
            failed, warned = suites.run(validation)
            failures += failed
            warnings += warned
        facts["expectations"] = sum(len(v.expectations) for v in validations)
        facts["rows_validated"] = len(fields.frame) if fields else 0
        results[raw.table] = TableResult(raw.relation, not failures, failures, facts, warnings)
    return results
