"""The warehouse as a Dagster resource: where it is, which engine, the BI copy, and the limits every DuckDB
connection gets.

DuckDB's default memory limit is 80% of the machine's RAM: on a shared machine one big window function takes
most of it instead of spilling to disk. Every connection a step opens (dlt loads, dbt builds, checks, the serving
copy) therefore gets the same memory_limit / threads / temp_directory from here.

Configured from the environment through `EnvVar`s (see `warehouse_from_env`), so the Dagster UI shows which
variable sets what, and the values are read when a run starts, not when the code location loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from activation.marts import attach_spark_marts
from ingestion.settings import DEFAULT_MEMORY_LIMIT, DEFAULT_THREADS, DEFAULT_WAREHOUSE, TARGETS

# Resource field -> the environment variable that configures it (documented in .env.example).
ENV_VARS: Mapping[str, str] = {
    "path": "CSOPS_WAREHOUSE",
    "target": "CSOPS_TARGET",
    "serving_path": "CSOPS_SERVING_WAREHOUSE",
    "serving_parquet_dir": "CSOPS_SERVING_PARQUET_DIR",
    "serving_postgres_url": "CSOPS_SERVING_POSTGRES_URL",
    "memory_limit": "CSOPS_DUCKDB_MEMORY_LIMIT",
    "threads": "CSOPS_DUCKDB_THREADS",
    "temp_directory": "CSOPS_DUCKDB_TEMP_DIRECTORY",
    "gx_directory": "CSOPS_GX_DIRECTORY",
    "lake": "CSOPS_LAKE",
    "spark_directory": "CSOPS_SPARK_DIR",
    "test_window_days": "CSOPS_TEST_WINDOW_DAYS",
}


# The level of the dbt.log each build leaves (dbt's DBT_LOG_LEVEL_FILE overrides it): see `dbt_env`.
DBT_FILE_LOG_LEVEL = "info"


class WarehouseResource(ConfigurableResource):
    """The warehouse every asset reads and writes, and the DuckDB limits its connections get."""

    path: str = Field(
        default=str(DEFAULT_WAREHOUSE), description="DuckDB warehouse file (relative to the working directory)."
    )
    target: str = Field(
        default="duckdb", description="Engine dlt loads and dbt builds on: duckdb, postgres or spark (a Parquet lake)."
    )
    lake: str = Field(
        default="",
        description="spark: the Parquet lake dlt writes (folder or object store URL); empty = lake/ "
        "beside the warehouse file.",
    )
    spark_directory: str = Field(
        default="", description="spark: Spark's catalog and the tables dbt builds; empty = spark/ beside the warehouse."
    )
    serving_path: str = Field(
        default="", description="Read-only copy of the marts for BI tools; empty = serving.duckdb beside the warehouse."
    )
    serving_parquet_dir: str = Field(
        default="", description="Parquet files of the marts for BI; empty = marts_parquet beside the serving copy."
    )
    serving_postgres_url: str = Field(
        default="", description="Optional Postgres the marts are also published to (schema marts); empty = none."
    )
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT, description="DuckDB memory_limit: past it, DuckDB spills to disk."
    )
    threads: int = Field(default=DEFAULT_THREADS, description="DuckDB threads per connection.")
    temp_directory: str = Field(
        default="", description="Where DuckDB spills; empty = <warehouse>.tmp beside the warehouse file."
    )

    test_window_days: int = Field(
        default=31,
        ge=0,
        description="dbt tests on the big incremental tables (usage per day, daily health) check the days since the "
        "as-of date minus this many (what a nightly run rewrote); 0 = every row. A full refresh checks every row.",
    )

    gx_directory: str = Field(
        default="",
        description="Great Expectations project (suites, results, Data Docs HTML under gx/); empty = beside the "
        "warehouse file.",
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.check_target()

    def check_target(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"CSOPS_TARGET must be one of {', '.join(TARGETS)}, not {self.target!r}")

    @property
    def warehouse_path(self) -> Path:
        """Absolute, so dbt (which runs in dbt_project/) and every step mean the same file."""
        return Path(self.path).resolve()

    @property
    def serving_warehouse(self) -> Path:
        if self.serving_path:
            return Path(self.serving_path).resolve()
        return self.warehouse_path.with_name("serving.duckdb")

    @property
    def parquet_directory(self) -> Path:
        if self.serving_parquet_dir:
            return Path(self.serving_parquet_dir).resolve()
        return self.serving_warehouse.with_name("marts_parquet")

    @property
    def spill_directory(self) -> Path:
        return Path(self.temp_directory).resolve() if self.temp_directory else Path(f"{self.warehouse_path}.tmp")

    @property
    def gx_project_directory(self) -> Path:
        """Where the raw tables' GX suites keep their results and Data Docs (a `gx/` folder inside)."""
        return Path(self.gx_directory).resolve() if self.gx_directory else self.warehouse_path.parent

    @property
    def lake_url(self) -> str:
        return self.lake or str(self.warehouse_path.with_name("lake"))

    @property
    def spark_path(self) -> Path:
        return Path(self.spark_directory).resolve() if self.spark_directory else self.warehouse_path.with_name("spark")

    def marts_database(self) -> Path:
        """The DuckDB file whose `marts` schema the publish copies: the warehouse, or on the spark target a file
        staged from the Parquet tables Spark built (orchestration.serving.stage_spark_marts)."""
        if self.target != "spark":
            return self.warehouse_path
        from orchestration.serving import stage_spark_marts

        return stage_spark_marts(self.spark_path, self.warehouse_path.with_name("spark_marts.duckdb"))

    def duckdb_config(self) -> dict[str, Any]:
        """The settings every DuckDB connection to the warehouse gets (duckdb.connect(config=...), dlt, dbt)."""
        return {
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "temp_directory": str(self.spill_directory),
        }

    def connect(self, database: Path | None = None, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the limits, to the warehouse or to `database` (e.g. the serving copy). On the
        spark target the warehouse's `marts` are the Parquet tables Spark built (activation.marts)."""
        con = duckdb.connect(str(database or self.warehouse_path), read_only=read_only, config=self.duckdb_config())
        if self.target == "spark" and database is None:
            attach_lake(con, Path(self.lake_url))
            attach_spark_marts(con, self.spark_path)
        return con

    def dbt_env(self) -> dict[str, str]:
        """What dbt_project/profiles.yml and macros read: the as-of date, the absolute warehouse path, the engine and
        the DuckDB limits.
            Passed as the environment of the dbt invocation (CLI --vars would defeat dbt's partial parsing)."""
        config = self.duckdb_config()
        return {
            # Always explicit, so the build records the day it describes and a plain `dbt build` reuses it.
            "CSOPS_AS_OF_DATE": os.environ.get("CSOPS_AS_OF_DATE") or datetime.now(UTC).date().isoformat(),
            "CSOPS_WAREHOUSE": str(self.warehouse_path),
            "CSOPS_TARGET": self.target,
            "CSOPS_DUCKDB_MEMORY_LIMIT": str(config["memory_limit"]),
            "CSOPS_DUCKDB_THREADS": str(config["threads"]),
            "CSOPS_DUCKDB_TEMP_DIRECTORY": str(config["temp_directory"]),
            # spark: where dlt's lake is and where Spark keeps its catalog and tables (profiles.yml).
            "CSOPS_LAKE": self.lake_url,
            "CSOPS_SPARK_DIR": str(self.spark_path),
            # dbt_project.yml's test_window_days: the nightly tests the window it rewrote, not the history.
            "CSOPS_TEST_WINDOW_DAYS": str(self.test_window_days),
            # The dbt.log each build leaves in its invocation folder: info (nodes, timings, errors) unless dbt's own
            # DBT_LOG_LEVEL_FILE says otherwise. At debug it also holds every statement (about 10 MB a night at
            # large) and writing it cost ~2 s of a small company's 25 s build here (3 runs each); the SQL each node
            # ran is in the folder's compiled/ and run/ anyway.
            "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE") or DBT_FILE_LOG_LEVEL,
        }

    @contextmanager
    def dbt_environment(self, **extra: str) -> Iterator[None]:
        """`dbt_env()` (and `extra`) in the environment while a dbt invocation starts, restored afterwards.

        DbtCliResource.cli() takes its subprocess's environment from os.environ and has no parameter for it; the
        change lasts only while the subprocess is spawned, so nothing else in the process sees it."""
        values = {**self.dbt_env(), **extra}
        previous = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def attach_lake(con: duckdb.DuckDBPyConnection, lake: Path) -> list[str]:
    """On the spark target, the raw tables as dlt landed them in the lake (every load appended), readable as
    `raw_<source>.<table>` in this DuckDB connection: what the raw-table checks read, with the same SQL as on
    DuckDB. The views live in an in-memory catalog made the default one, so nothing is written to the warehouse
    file. A local lake folder; an object-store lake needs DuckDB's httpfs credentials as well."""
    con.execute("attach if not exists ':memory:' as lake_views (read_only false)")
    con.execute("use lake_views")
    found = []
    for dataset in sorted(p for p in lake.iterdir() if p.is_dir()) if lake.is_dir() else []:
        con.execute(f"create schema if not exists {dataset.name}")
        for table in sorted(p for p in dataset.iterdir() if p.is_dir()):
            pattern = "*.jsonl" if table.name.startswith("_dlt") else "*.parquet"
            if not any(table.glob(pattern)):
                continue
            files = str(table / pattern).replace("'", "''")
            reader = "read_json_auto" if pattern == "*.jsonl" else "read_parquet"
            con.execute(
                f"create or replace view {dataset.name}.{table.name} as "
                f"select * from {reader}('{files}', union_by_name = true)"
            )
            found.append(f"{dataset.name}.{table.name}")
    return found


def warehouse_from_env(resolved: bool = False) -> WarehouseResource:
    """The resource with an `EnvVar` for every variable set (and not empty) now; the rest keep their defaults.
    Dagster resolves the EnvVars when a run starts. `resolved`: the values themselves, for steps run outside Dagster
    (the bench's), where resolving EnvVars would start a Dagster instance (0.6 s) and setup_for_execution is not run,
    so the target is checked here."""
    bound: dict[str, Any] = {}
    for field, name in ENV_VARS.items():
        value = os.environ.get(name)
        if not value:
            continue
        number = field in ("threads", "test_window_days")
        if resolved:
            bound[field] = int(value) if number else value
        else:
            bound[field] = EnvVar.int(name) if number else EnvVar(name)
    resource = WarehouseResource(**bound)
    if resolved:
        resource.check_target()
    return resource
