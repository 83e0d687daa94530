"""Dagster's Postgres storage, as dagster.yaml documents it for production: the commented block, uncommented and
pointed at a database created for the test, records a real run (dlt load, dbt seeds and a staging model with its
tests) — read back through the DagsterInstance and straight from Postgres."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from tests.support import postgres_available, require_service

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
STAGED = {"staging/stg_usage__received_events", "staging/stg_usage__first_copies", "staging/stg_usage__events"}
SELECTION = ["dlt/usage/events", "seeds/*", *sorted(STAGED)]
# The selection: the usage events, their staging models, and every seed of the dbt project.
SEEDS = {f"seeds/{csv.stem}" for csv in (Path(__file__).resolve().parents[2] / "dbt_project" / "seeds").glob("*.csv")}
EXPECTED = {"dlt/usage/events", *STAGED, *SEEDS}

# Dagster's own tables, read without Dagster.
RUN_STATUS = "select status from runs where run_id = :id"
MATERIALIZED = """
    select asset_key from event_logs where run_id = :id and dagster_event_type = 'ASSET_MATERIALIZATION'"""
PASSED_CHECKS = """
    select count(*) from asset_check_executions where run_id = :id and execution_status = 'SUCCEEDED'"""


def documented_postgres_storage() -> dict[str, Any]:
    """The production `storage:` block of dagster.yaml, which ships commented out."""
    lines = (REPO_ROOT / "dagster.yaml").read_text().splitlines()
    start = lines.index("# storage:")
    block = []
    for line in lines[start:]:
        if not re.match(r"^# (storage:|  )", line):
            break
        block.append(line[2:])
    return yaml.safe_load("\n".join(block))["storage"]


def server_url(database: str) -> str:
    return f"postgresql+psycopg2://{SERVER['user']}@{SERVER['host']}:{SERVER['port']}/{database}"


@pytest.fixture()
def dagster_database() -> Iterator[str]:
    """A database of the test's own on the local server, dropped afterwards."""
    require_service(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    name = f"csops_dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url("test"), isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'create database "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as con:
            con.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture()
def postgres_instance(
    dagster_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    """A DAGSTER_HOME whose dagster.yaml is the project's, with the documented Postgres storage switched on (in place
    of the local event log)."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert "storage" not in config, "local storage stays the default: the Postgres block ships commented out"
    config.pop("event_log_storage")  # as the block's comment says: the Postgres storage takes its place
    config["storage"] = documented_postgres_storage()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for variable, value in {
        "DAGSTER_PG_HOST": SERVER["host"],
        "DAGSTER_PG_PORT": SERVER["port"],
        "DAGSTER_PG_USER": SERVER["user"],
        "DAGSTER_PG_PASSWORD": "",  # trust authentication on the test server
        "DAGSTER_PG_DB": dagster_database,
        "DAGSTER_HOME": str(home),
    }.items():
        monkeypatch.setenv(variable, value)
    from orchestration.run import instance_for

    instance = instance_for(home)
    try:
        yield instance
    finally:
        instance.dispose()


def test_the_documented_postgres_storage_records_runs_materializations_and_checks(
    postgres_instance: DagsterInstance, dagster_database: str, sandbox_env: dict, warehouse: Path
) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from orchestration.run import run_graph

    instance = postgres_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)

    outcome = run_graph(select=SELECTION, instance=instance)
    assert outcome.success, outcome.failed_steps
    assert set(outcome.materialized) == EXPECTED
    assert not outcome.failed_checks

    # Through the instance: the run, each asset's latest materialization with its metadata, the check results.
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == DagsterRunStatus.SUCCESS
    events = instance.get_latest_materialization_event(AssetKey(["dlt", "usage", "events"]))
    assert events is not None and events.run_id == outcome.run_id
    assert events.asset_materialization.metadata["quarantined_rows"].value == 0
    staged = instance.get_latest_materialization_event(AssetKey(["staging", "stg_usage__first_copies"]))
    assert staged is not None and staged.asset_materialization.metadata["dagster/row_count"].value > 0
    checks = instance.get_records_for_run(outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluated = {record.event_log_entry.dagster_event.event_specific_data.check_name for record in checks}
    assert "unique_stg_usage__events_message_id" in evaluated
    assert "unique_playbooks_trigger" in evaluated

    # Straight from Postgres: the same run, events and asset index, written into the test's database.
    engine = sa.create_engine(server_url(dagster_database))
    try:
        with engine.connect() as con:
            status = con.execute(sa.text(RUN_STATUS), {"id": outcome.run_id}).scalar_one()
            materialized = con.execute(sa.text(MATERIALIZED), {"id": outcome.run_id}).scalars()
            passed = con.execute(sa.text(PASSED_CHECKS), {"id": outcome.run_id}).scalar_one()
            indexed = con.execute(sa.text("select asset_key from asset_keys")).scalars()
            assert status == "SUCCESS"
            assert {AssetKey.from_db_string(key).to_user_string() for key in materialized} == EXPECTED
            assert passed == len(evaluated)
            assert {AssetKey.from_db_string(key).to_user_string() for key in indexed} >= EXPECTED
    finally:
        engine.dispose()
    # Nothing went to the local disk storage.
    assert not (Path(instance.root_directory) / "history" / "runs.db").exists()
