"""The warehouse resource and the serving copy: settings come from the environment as Dagster EnvVars, every DuckDB
connection gets the limits, dbt gets the absolute warehouse path without the process environment changing, and
the serving copy holds the marts whatever the warehouse path looks like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import EnvVar

from orchestration.resources import ENV_VARS, WarehouseResource, warehouse_from_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_warehouse_resource_is_configured_by_env_vars_for_what_the_environment_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ENV_VARS.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CSOPS_DUCKDB_THREADS", "1")
    resource = warehouse_from_env()
    # The UI shows which variable sets what; the values are resolved when a run starts.
    assert isinstance(resource.path, EnvVar)
    assert resource.path.env_var_name == "CSOPS_WAREHOUSE"
    assert resource.threads.name == "CSOPS_DUCKDB_THREADS"  # an IntEnvVar
    assert (resource.target, resource.memory_limit, resource.serving_path) == ("duckdb", "4GB", "")  # defaults
    resolved = resource.process_config_and_initialize()
    assert resolved.warehouse_path == tmp_path / "w.duckdb"
    assert resolved.duckdb_config() == {
        "memory_limit": "4GB",
        "threads": 1,
        "temp_directory": str(tmp_path / "w.duckdb.tmp"),
    }
    assert resolved.serving_warehouse == tmp_path / "serving.duckdb"
    # Outside Dagster (the bench's steps) the same values without a Dagster instance to resolve them.
    direct = warehouse_from_env(resolved=True)
    assert (direct.path, direct.threads) == (str(tmp_path / "w.duckdb"), 1)
    assert direct.duckdb_config() == resolved.duckdb_config()


def test_an_unknown_target_is_refused_with_the_variable_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Exception, match="CSOPS_TARGET must be one of duckdb, postgres, spark, not 'snowflake'"):
        WarehouseResource(target="snowflake").process_config_and_initialize()
    monkeypatch.setenv("CSOPS_TARGET", "snowflake")
    with pytest.raises(ValueError, match="CSOPS_TARGET must be one of duckdb, postgres, spark, not 'snowflake'"):
        warehouse_from_env(resolved=True)


def test_every_duckdb_connection_gets_the_limits(tmp_path: Path) -> None:
    resource = WarehouseResource(path=str(tmp_path / "w.duckdb"), memory_limit="512MB", threads=1)
    with resource.connect(read_only=False) as con:
        limit, threads, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchone()
    assert (limit, threads, spill) == ("488.2 MiB", 1, str(tmp_path / "w.duckdb.tmp"))


def test_dlt_loads_get_the_same_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ingestion.pipeline import make_pipeline

    monkeypatch.setenv("CSOPS_DLT_PIPELINES_DIR", str(tmp_path / "dlt"))
    resource = WarehouseResource(path=str(tmp_path / "w.duckdb"), memory_limit="512MB", threads=1)
    pipeline = make_pipeline("hubspot", resource.warehouse_path, duckdb_config=resource.duckdb_config())
    with pipeline.sql_client() as client:
        rows = client.execute_sql("select current_setting('memory_limit'), current_setting('threads')")
    assert tuple(rows[0]) == ("488.2 MiB", 1)


def test_dbt_sees_an_absolute_warehouse_and_the_limits_only_while_its_invocation_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSOPS_WAREHOUSE", "data/w.duckdb")
    monkeypatch.delenv("CSOPS_DUCKDB_MEMORY_LIMIT", raising=False)
    resource = WarehouseResource(path="data/w.duckdb", memory_limit="1GB")
    before = dict(os.environ)
    with resource.dbt_environment():
        assert os.environ["CSOPS_WAREHOUSE"] == str(tmp_path / "data" / "w.duckdb")
        assert os.environ["CSOPS_DUCKDB_MEMORY_LIMIT"] == "1GB"
    assert dict(os.environ) == before


def test_dbt_logs_to_its_file_at_info_unless_dbts_own_variable_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    assert WarehouseResource().dbt_env()["DBT_LOG_LEVEL_FILE"] == "info"
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    assert WarehouseResource().dbt_env()["DBT_LOG_LEVEL_FILE"] == "debug"


def test_loading_the_definitions_leaves_the_process_environment_as_it_was(tmp_path: Path) -> None:
    """No import-time changes to PATH or CSOPS_WAREHOUSE: the code location reads its environment, never writes it."""
    script = (
        "import os, sys\n"
        "before = dict(os.environ)\n"
        "from orchestration.definitions import defs\n"
        "defs()\n"
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
        "sys.exit(f'changed: {changed}' if changed else 0)\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("CSOPS_")}
    env["CSOPS_WAREHOUSE"] = "data/warehouse.duckdb"  # relative, as in .env.example
    env["CSOPS_DLT_PIPELINES_DIR"] = str(tmp_path / "dlt")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_serving_copy_holds_every_mart_even_from_a_path_with_a_quote(tmp_path: Path) -> None:
    from orchestration.serving import publish_duckdb

    folder = tmp_path / "o'brien's warehouse"
    folder.mkdir()
    warehouse = folder / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.customer_360 as select range as account_id from range(7)")
        con.execute("create table marts.mrr_summary as select 1 as month")
        con.execute("create table marts.scratch as select 1 as x")  # in the schema, but not a mart of the project
    resource = WarehouseResource(path=str(warehouse), threads=1)
    published = publish_duckdb(
        resource.warehouse_path,
        resource.serving_warehouse,
        marts=["customer_360", "mrr_summary"],
        parquet_dir=resource.parquet_directory,
    )
    assert published.rows == {"customer_360": 7, "mrr_summary": 1}
    parquet = sorted(p.name for p in resource.parquet_directory.iterdir())
    assert parquet == ["customer_360.parquet", "mrr_summary.parquet"]
    with duckdb.connect(str(folder / "serving.duckdb"), read_only=True) as con:
        tables = con.execute("select table_schema || '.' || table_name from information_schema.tables order by 1")
        assert [row[0] for row in tables.fetchall()] == ["marts.customer_360", "marts.mrr_summary"]
    assert not (folder / "serving.duckdb.next").exists()
