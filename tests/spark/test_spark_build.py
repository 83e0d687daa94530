"""The same project on Apache Spark: dlt loads the tiny sandbox into a Parquet lake, dbt-spark builds the project on
a local Spark session (seeds, models with their contracts, the snapshot), and every public mart equals the DuckDB
build of the same data row for row (money within a cent). After a day passes, the nightly incremental build on Spark
equals a full rebuild on Spark, as it does on DuckDB. The CRM push reads the marts Spark built."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from dagster import DagsterEventType, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from activation.marts import attach_spark_marts, read_snapshot
from ingestion.pipeline import ingest
from sandbox.connect import environment as sandbox_environment
from sandbox.generator.world import advance
from sandbox.manifest import Manifest
from tests.activation.activation_support import Sandbox
from tests.spark.conftest import SparkCompany, spark_environment
from tests.support import point_at_sandbox

# One session fixture builds everything (about 5 minutes on an idle 2-core machine, far more under load).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

MONEY = ("usd", "arr", "mrr", "amount")  # column names holding money: equal within a cent


def public_marts(target: Path) -> list[str]:
    """The models of the marts layer, from the manifest of the DuckDB build."""
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "marts" in node["fqn"]
    )


def normalised(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def read_table(con: duckdb.DuckDBPyConnection, relation: str, where: str = "") -> tuple[list[str], list[tuple]]:
    """Columns (by name, sorted: Spark puts a partition column last) and rows, ordered by their exact values
    first and rounded numbers after, so that the two engines' rows line up."""
    cursor = con.execute(f"select * from {relation} {where}")
    names = [d[0] for d in cursor.description]
    order = sorted(range(len(names)), key=lambda i: names[i])
    rows = [tuple(normalised(row[i]) for i in order) for row in cursor.fetchall()]

    def key(row: tuple) -> tuple:
        exact = tuple(repr(v) for v in row if not isinstance(v, float))
        return exact, tuple(round(v, 2) for v in row if isinstance(v, float) and math.isfinite(v))

    return [names[i] for i in order], sorted(rows, key=key)


def same(column: str, a: object, b: object) -> bool:
    """Equal, or for numbers equal within a cent (money) or a millionth (scores, rates, shares)."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        tolerance = 0.01 if any(word in column for word in MONEY) else 1e-6
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=tolerance)
    return a == b


def differences(columns: list[str], expected: list[tuple], actual: list[tuple]) -> list[str]:
    if len(expected) != len(actual):
        return [f"{len(expected)} rows on DuckDB, {len(actual)} on Spark"]
    return [
        f"{column}: {a!r} on DuckDB, {b!r} on Spark (row {left})"
        for left, right in zip(expected, actual, strict=True)
        for column, a, b in zip(columns, left, right, strict=True)
        if not same(column, a, b)
    ]


# Marts about the tasks the CRM push created: empty in a warehouse no push has written back to (tests/dbt's
# playbook loop test fills and checks them on DuckDB).
EMPTY_BEFORE_A_PUSH = frozenset({"playbook_outcomes", "playbook_effectiveness"})


@pytest.fixture(scope="module")
def spark_marts(spark_company: SparkCompany) -> duckdb.DuckDBPyConnection:
    """The marts Spark built, readable as marts.<name> (the way the CRM push reads them)."""
    con = duckdb.connect()
    attach_spark_marts(con, spark_company.spark_dir)
    return con


def test_every_public_mart_equals_the_duckdb_build_row_for_row(
    spark_company: SparkCompany, spark_marts: duckdb.DuckDBPyConnection
) -> None:
    marts = public_marts(spark_company.work / "duckdb" / "target")
    assert "customer_360" in marts and "mrr_movements" in marts
    problems: dict[str, list[str]] = {}
    with duckdb.connect(str(spark_company.warehouse), read_only=True) as reference:
        for mart in marts:
            columns, expected = read_table(reference, f"marts.{mart}")
            spark_columns, actual = read_table(spark_marts, f"marts.{mart}")
            assert spark_columns == columns, mart
            if mart in EMPTY_BEFORE_A_PUSH:  # built on both engines, and empty on both: nothing to compare yet
                assert not expected and not actual, mart
                continue
            assert expected, f"{mart} is empty: the comparison would prove nothing"
            found = differences(columns, expected, actual)
            if found:
                problems[mart] = found[:5]
    assert not problems, json.dumps(problems, indent=1, default=str)


def test_the_crm_push_reads_the_same_plan_from_the_marts_spark_built(
    spark_company: SparkCompany, spark_marts: duckdb.DuckDBPyConnection
) -> None:
    with duckdb.connect(str(spark_company.warehouse), read_only=True) as reference:
        expected = read_snapshot(reference)
    actual = read_snapshot(spark_marts)
    assert actual.as_of == expected.as_of
    assert [(a.account_id, a.fields) for a in actual.accounts] == [(a.account_id, a.fields) for a in expected.accounts]
    assert [(t.key, t.title, t.body, t.due_date) for t in actual.tasks] == [
        (t.key, t.title, t.body, t.due_date) for t in expected.tasks
    ]
    assert actual.previous_health == expected.previous_health


def test_one_dagster_run_loaded_the_lake_checked_it_built_on_spark_and_pushed_to_the_crm(
    spark_company: SparkCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine is configuration: the nightly job's graph, unchanged, ran on the spark target (the fixture)."""
    outcome = spark_company.dagster
    assert outcome is not None and outcome.success, outcome and outcome.failed_steps
    materialized = set(outcome.materialized)
    marts = public_marts(spark_company.work / "duckdb" / "target")
    assert {f"marts/{mart}" for mart in marts} <= materialized
    assert {"dlt/usage/events", "dlt/stripe/subscriptions", "serving/marts", "activation/crm_sync"} <= materialized

    # The raw checks ran on the lake (Great Expectations through DuckDB's views of the Parquet files), not skipped.
    # Read as every process on that home does: with DAGSTER_HOME naming it (the local event log lives under it).
    monkeypatch.setenv("DAGSTER_HOME", str(spark_company.work / "dagster"))
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(spark_company.work / "dagster")))
    evaluations = [
        event.asset_check_evaluation
        for event in instance.all_logs(outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    raw = [e for e in evaluations if e.asset_key.path[0] == "dlt"]
    assert len(raw) >= 10 and all(e.passed for e in raw)
    assert all(e.description == "all expectations met" for e in raw), {e.description for e in raw}
    assert not [e for e in evaluations if e.asset_key.path[0] != "dlt"], "dbt tests were left out of this run"

    # The CRM push read the marts Spark built: every task it created in the CRM is one the DuckDB marts plan.
    with duckdb.connect(str(spark_company.warehouse), read_only=True) as reference:
        planned = {task.key for task in read_snapshot(reference).tasks}
    environment = sandbox_environment(spark_company.sandbox, spark_company.base_url)
    crm = Sandbox(
        spark_company.sandbox,
        spark_company.base_url,
        environment["ACTIVATION__HUBSPOT__ACCESS_TOKEN"],
        requests.Session(),
    )
    with duckdb.connect(str(spark_company.spark_warehouse), read_only=True) as state:
        (status,) = state.execute("select status from activation.sync_runs order by started_at desc limit 1").fetchone()
        synced = {
            key
            for (key,) in state.execute(
                "select object_key from activation.sync_state where object_type = 'task' and status = 'synced'"
            ).fetchall()
        }
    assert status == "succeeded"
    created = {task["properties"]["csops_task_key"] for task in crm.tasks()}
    assert created and created <= planned
    assert synced == created


INCREMENTAL_TABLES = {
    "int_usage__account_daily": "account_id, activity_date, events",
    "int_usage__feature_days": "account_id, event_name, activity_date, events",
}


def test_a_row_breaking_a_contract_constraint_fails_on_spark_naming_it(
    spark_company: SparkCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt-spark enforces constraints only on Delta tables: on the Parquet tables built here
    macros/spark_constraints.sql checks each contracted mart's not null, key and check constraints after it is
    written (every build above went through it). Here the check meets a table that breaks three: it fails naming
    each with as many rows (or repeated keys) as the DuckDB build holds, and passes on the mart's own contract."""
    spark_environment(monkeypatch, spark_company)
    with duckdb.connect(str(spark_company.warehouse), read_only=True) as reference:
        nulls, repeated, negative = reference.execute(
            """select
                count(*) filter (where customer_id is null),
                (select count(*) from (
                    select segment from marts.customer_360 where segment is not null group by 1 having count(*) > 1
                )),
                count(*) filter (where not (mrr_usd > 0))
            from marts.customer_360"""
        ).fetchone()
    assert nulls > 0 and repeated > 0 and negative > 0  # each check below has something to find

    def check(model: dict) -> Any:
        arguments = json.dumps({"relation": "marts.customer_360", "model": model})
        return spark_company.invoke_on_spark("run-operation", "check_contract_constraints", "--args", arguments)

    key = {"columns": {"account_id": {"constraints": [{"type": "not_null"}, {"type": "primary_key"}]}}}
    assert check({**key, "constraints": [{"type": "check", "expression": "mrr_usd >= 0"}]}).success
    failed = check(
        {
            "columns": {
                "customer_id": {"constraints": [{"type": "not_null"}]},
                "segment": {"constraints": [{"type": "unique"}]},
            },
            "constraints": [{"type": "check", "name": "paying", "expression": "mrr_usd > 0"}],
        }
    )
    assert not failed.success
    messages = " ".join(result.message or "" for result in failed.result.results)
    assert "contract constraint violated in marts.customer_360: " in messages
    assert f"not_null customer_id ({nulls} rows)" in messages
    assert f"check paying ({negative} rows)" in messages
    assert f"unique segment ({repeated} keys repeated)" in messages


def test_the_incremental_build_after_a_day_equals_a_full_rebuild_on_spark(
    spark_company: SparkCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tests/dbt/test_incremental_models.py on DuckDB: what a nightly run adds equals rebuilding from scratch.
    (Runs last: it moves the shared sandbox on a day.)"""
    first_day = Manifest.read(spark_company.sandbox).today  # the first build scored up to the day before
    advance(spark_company.sandbox, 1)
    requests.post(f"{spark_company.base_url}/_admin/reload", timeout=30).raise_for_status()
    point_at_sandbox(monkeypatch, spark_company.sandbox, spark_company.base_url, throttled=False)
    spark_environment(monkeypatch, spark_company)
    ingest(warehouse=spark_company.spark_warehouse)

    def snapshot() -> dict[str, list[tuple]]:
        con = duckdb.connect()
        con.execute("attach ':memory:' as intermediate")
        attach_spark_marts(con, spark_company.spark_dir)
        for table in INCREMENTAL_TABLES:
            files = spark_company.spark_dir / "warehouse" / "intermediate.db" / table / "**" / "*.parquet"
            con.execute(
                f"create view intermediate.{table} as select * from read_parquet('{files}', hive_partitioning = true)"
            )
        tables = {
            t: sorted(con.execute(f"select {c} from intermediate.{t}").fetchall())
            for t, c in INCREMENTAL_TABLES.items()
        }
        tables["customer_health_daily"] = sorted(
            con.execute(
                "select account_id, health_date, health_score, health_status, health_change_30d, top_driver_1 "
                f"from marts.customer_health_daily where health_date >= date '{first_day.isoformat()}'"
            ).fetchall(),
            key=repr,
        )
        con.close()
        return tables

    compared = ["+customer_health_daily", "+int_usage__feature_days"]  # what is compared, and what it is built from
    spark_company.build_on_spark("run", "--select", *compared)
    nightly = snapshot()
    spark_company.build_on_spark("run", "--full-refresh", "--select", *compared)
    rebuilt = snapshot()
    assert nightly["customer_health_daily"], "the nightly build scored no new day"
    for table, rows in nightly.items():
        assert rows == rebuilt[table], table
