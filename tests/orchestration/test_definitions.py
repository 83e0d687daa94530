"""The code location as Dagster sees it, checked against what it is built from (the dlt sources, dbt's manifest,
dagster.yaml, workspace.yaml), so a resource, model or test that does not make it into the graph fails here.
No network and no runs: loading the definitions takes a few seconds (one dbt parse when the project changed)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    build_run_status_sensor_context,
    job,
    op,
)
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster.components.definitions import LazyDefinitions

from orchestration.settings import WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"ingestion", "staging", "intermediate", "marts", "activation"}
LAYERS = ("staging", "intermediate", "marts")
CRM_SYNC = AssetKey(["activation", "crm_sync"])


@pytest.fixture(scope="module")
def defs() -> Definitions:
    """The definitions of the module workspace.yaml loads (as `dagster dev` does): one `@definitions` function."""
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    module = importlib.import_module(location["python_module"]["module_name"])
    found = [value for value in vars(module).values() if isinstance(value, LazyDefinitions)]
    assert len(found) == 1, f"{module.__name__} should hold exactly one @definitions function"
    return found[0]()


@pytest.fixture(scope="module")
def graph(defs: Definitions) -> AssetGraph:
    return defs.resolve_asset_graph()


@pytest.fixture(scope="module")
def manifest(defs: Definitions) -> dict[str, Any]:
    from orchestration.defs.transformation import DBT_PROJECT

    return json.loads(DBT_PROJECT.manifest_path.read_text())


def dbt_nodes(manifest: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [node for node in manifest["nodes"].values() if node["resource_type"] == resource_type]


def dlt_resources() -> dict[str, list[str]]:
    """Each dlt source's resources, straight from the sources (built with placeholder settings)."""
    from ingestion.registry import SOURCES

    return {spec.name: list(spec.shape().selected_resources.keys()) for spec in SOURCES}


def model_key(node: dict[str, Any]) -> AssetKey:
    if node["resource_type"] == "seed":
        return AssetKey(["seeds", node["name"]])
    if node["resource_type"] == "snapshot":
        return AssetKey(["snapshots", node["name"]])
    layer = next(part for part in node["fqn"] if part in LAYERS)
    return AssetKey([layer, node["name"]])


def test_the_code_location_named_in_workspace_yaml_loads(defs: Definitions) -> None:
    Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("nightly_refresh") is not None


def test_every_dlt_resource_is_an_ingestion_asset_keyed_by_source_and_resource(graph: AssetGraph) -> None:
    resources = dlt_resources()
    assert set(resources) == {"hubspot", "stripe", "usage", "surveys"}
    for source, names in resources.items():
        assert names, f"dlt source {source} has no resources"
        for name in names:
            key = AssetKey(["dlt", source, name])
            assert key in graph.get_all_asset_keys(), f"{key.to_user_string()} is not an asset"
            node = graph.get(key)
            assert node.is_materializable
            assert node.group_name == "ingestion", f"{key.to_user_string()} is in group {node.group_name}"


def test_every_dbt_model_and_seed_is_an_asset_in_its_layer_group(graph: AssetGraph, manifest: dict) -> None:
    models, seeds = dbt_nodes(manifest, "model"), dbt_nodes(manifest, "seed")
    assert len(models) > 20 and seeds
    for node in models:
        asset = graph.get(model_key(node))
        assert asset.is_materializable
        assert asset.group_name == model_key(node).path[0], f"{node['name']} is in group {asset.group_name}"
    for node in seeds:
        assert graph.get(model_key(node)).group_name == "staging"
    # Snapshots, when the project gets some, must be assets too.
    for node in dbt_nodes(manifest, "snapshot"):
        assert any(key.path[-1] == node["name"] for key in graph.get_all_asset_keys()), node["name"]


def test_the_graph_is_exactly_dlt_dbt_the_serving_copy_and_the_crm_sync_in_five_groups(
    graph: AssetGraph, manifest: dict
) -> None:
    expected = {AssetKey(["dlt", source, name]) for source, names in dlt_resources().items() for name in names}
    expected |= {model_key(node) for kind in ("model", "seed", "snapshot") for node in dbt_nodes(manifest, kind)}
    expected |= {AssetKey(["serving", "marts"]), CRM_SYNC}
    assert set(graph.get_all_asset_keys()) == expected
    # No external stand-ins: a dbt source that misses its dlt asset would show up as a non-materializable asset.
    assert all(graph.get(key).is_materializable for key in expected)
    assert {graph.get(key).group_name for key in expected} == GROUPS


GRAPH_AS_JSON = """
import json
from orchestration.definitions import defs
graph = defs().resolve_asset_graph()
print(json.dumps({
    "assets": {
        key.to_user_string(): sorted(parent.to_user_string() for parent in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    },
    "checks": sorted(f"{check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys),
}))
"""


def graph_on(target: str, tmp_path: Path) -> dict[str, Any]:
    """The asset graph (assets, their parents, checks) as a fresh process loads it with CSOPS_TARGET=target: the
    engine is read from the environment, so each engine needs its own process."""
    env = {**os.environ, "CSOPS_TARGET": target, "CSOPS_WAREHOUSE": str(tmp_path / target / "warehouse.duckdb")}
    done = subprocess.run(
        [sys.executable, "-c", GRAPH_AS_JSON], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_asset_graph_is_the_same_on_every_engine(tmp_path: Path) -> None:
    """The engine is configuration: DuckDB and Spark (a Parquet lake) give the same assets, lineage and checks."""
    duckdb_graph, spark_graph = graph_on("duckdb", tmp_path), graph_on("spark", tmp_path)
    assert "activation/crm_sync" in duckdb_graph["assets"] and duckdb_graph["checks"]
    assert spark_graph == duckdb_graph


def test_the_crm_sync_is_in_the_activation_group_downstream_of_the_marts_it_pushes(graph: AssetGraph) -> None:
    sync = graph.get(CRM_SYNC)
    assert sync.group_name == "activation"
    assert {
        AssetKey(["marts", "at_risk_accounts"]),
        AssetKey(["marts", "customer_health_daily"]),
        AssetKey(["marts", "cs_playbook_tasks"]),
        AssetKey(["marts", "crm_removed_companies"]),
    } <= set(sync.parent_keys)


def test_every_asset_has_a_team_owner_and_its_own_description(graph: AssetGraph) -> None:
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and all(owner.startswith("team:") for owner in node.owners), key.to_user_string()
        # dagster-dbt appends the model's SQL to its description: the YAML description must come before it.
        own_description = (node.description or "").split("#### Raw SQL")[0].strip()
        assert len(own_description) > 20, f"{key.to_user_string()} has no description"


def test_marts_carry_their_documented_column_schema(graph: AssetGraph, manifest: dict) -> None:
    for node in dbt_nodes(manifest, "model"):
        if model_key(node).path[0] != "marts":
            continue
        schema = graph.get(model_key(node)).metadata.get("dagster/column_schema")
        assert schema is not None, node["name"]
        assert [column.name for column in schema.columns] == list(node["columns"])
        assert all(column.description for column in schema.columns), node["name"]


def test_dbt_sources_are_the_dlt_assets_so_lineage_runs_from_dlt_to_staging(graph: AssetGraph, manifest: dict) -> None:
    from ingestion.registry import DATASETS

    resources = dlt_resources()
    for source in manifest["sources"].values():
        # dbt reads the dataset dlt writes; dlt names a nested table "<resource>__<field>".
        assert source["schema"] == DATASETS[source["source_name"]], source["unique_id"]
        assert source["name"].split("__")[0] in resources[source["source_name"]], source["unique_id"]
    staging = {node["unique_id"]: node for node in dbt_nodes(manifest, "model") if model_key(node).path[0] == "staging"}
    for node in staging.values():
        read = [manifest["sources"][uid] for uid in node["depends_on"]["nodes"] if uid.startswith("source.")]
        expected = {AssetKey(["dlt", s["source_name"], s["name"].split("__")[0]]) for s in read}
        # A staging model reads a source, or only staging models that do (stg_usage__events: the events received
        # minus their copies).
        built_on = [uid for uid in node["depends_on"]["nodes"] if uid in staging]
        assert expected or (built_on and set(built_on) == set(node["depends_on"]["nodes"])), node["name"]
        assert expected <= set(graph.get(model_key(node)).parent_keys), node["name"]
    assert (
        AssetKey(["dlt", "hubspot", "companies"])
        in graph.get(AssetKey(["staging", "stg_hubspot__companies"])).parent_keys
    )


def test_dbt_tests_are_asset_checks_blocking_when_their_severity_is_error(graph: AssetGraph, manifest: dict) -> None:
    specs = {spec.key: spec for assets_def in graph.assets_defs for spec in assets_def.check_specs}
    # Tests on dbt sources (the dlt tables) run too, but Dagster records them as observations, not checks.
    tests = [
        node
        for node in dbt_nodes(manifest, "test")
        if (node.get("attached_node") or "").startswith(("model.", "seed."))
    ]
    assert len(tests) > 50
    for test in tests:
        attached = manifest["nodes"][test["attached_node"]]
        spec = specs.get(AssetCheckKey(model_key(attached), test["name"]))
        assert spec is not None, f"dbt test {test['name']} is not an asset check"
        assert spec.blocking == (test["config"]["severity"].lower() == "error"), test["name"]
    # The CRM push is guarded: each mart it reads has blocking checks, or constraints its contract declares, which
    # the database enforces while the mart is written (a breaking row fails the mart itself: the push does not run).
    constrained = {
        model_key(node)
        for node in dbt_nodes(manifest, "model")
        if node["config"]["contract"]["enforced"]
        and (node["constraints"] or any(column["constraints"] for column in node["columns"].values()))
    }
    for parent in graph.get(CRM_SYNC).parent_keys:
        assert parent in constrained or any(spec.blocking for key, spec in specs.items() if key.asset_key == parent), (
            parent
        )


def test_every_raw_table_has_a_blocking_great_expectations_check_and_no_mart_has_one(graph: AssetGraph) -> None:
    from ingestion.registry import SOURCES

    specs = {spec.key: spec for assets_def in graph.assets_defs for spec in assets_def.check_specs}
    # Every raw table the registry declares; the dlt assets besides them write into those tables (Stripe's
    # changed_objects re-reads objects into their own tables).
    for source, names in ((spec.name, spec.tables) for spec in SOURCES):
        assert set(names) <= set(dlt_resources()[source]), source
        for name in names:
            spec = specs.get(AssetCheckKey(AssetKey(["dlt", source, name]), "gx_raw_contract"))
            assert spec is not None, f"dlt/{source}/{name} has no Great Expectations check"
            assert spec.blocking, f"the GX check on dlt/{source}/{name} does not block dbt"
    # What the marts must hold is tested by dbt (blocking checks, read by the CRM push's preflight), not again by GX.
    assert not [key for key in specs if key.name.startswith("gx_") and key.asset_key.path[0] != "dlt"]


def test_every_step_that_opens_the_warehouse_runs_in_the_warehouse_pool(graph: AssetGraph) -> None:
    from orchestration.settings import WAREHOUSE_POOL

    for assets_def in graph.assets_defs:  # dlt, dbt, serving copy, CRM sync, GX checks on the raw tables
        assert assets_def.node_def.pool == WAREHOUSE_POOL, assets_def.node_def.name
    # ... and dagster.yaml lets one such step run at a time.
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_every_step_that_opens_the_warehouse_finds_it_through_the_warehouse_resource(
    defs: Definitions, graph: AssetGraph
) -> None:
    for assets_def in graph.assets_defs:  # dlt, dbt, serving copy, CRM sync, GX checks
        assert "warehouse" in assets_def.required_resource_keys, assets_def.node_def.name
    assert {"warehouse", "dbt", "dlt"} <= set(defs.resources)


def test_the_serving_copy_waits_for_exactly_the_marts_layer_of_the_dbt_project(
    graph: AssetGraph, manifest: dict
) -> None:
    marts = {model_key(node) for node in dbt_nodes(manifest, "model") if model_key(node).path[0] == "marts"}
    assert len(marts) >= 6
    assert set(graph.get(AssetKey(["serving", "marts"])).parent_keys) == marts


def test_nightly_runs_carry_the_tag_dagster_yaml_limits_to_one_at_a_time(defs: Definitions) -> None:
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    tags = defs.resolve_job_def("nightly_refresh").tags
    assert any(tags.get(limit["key"]) == limit["value"] and limit["limit"] == 1 for limit in limits)


def test_the_nightly_runs_its_steps_in_one_process_since_the_warehouse_pool_runs_them_one_at_a_time(
    defs: Definitions,
) -> None:
    """A process per step would load the definitions once per step for no parallelism: every step of the nightly
    is in the warehouse pool, which dagster.yaml limits to one step at a time."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    job = defs.resolve_job_def("nightly_refresh")
    assert {node.definition.pool for node in job.nodes} == {WAREHOUSE_POOL}
    assert job.executor_def.name == "in_process"


def test_the_nightly_schedule_refreshes_everything_and_runs_by_default(defs: Definitions, graph: AssetGraph) -> None:
    from orchestration.settings import Settings

    schedule = defs.resolve_schedule_def("nightly_refresh_schedule")
    assert schedule.job_name == "nightly_refresh"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    settings = Settings.from_env()
    assert (schedule.cron_schedule, schedule.execution_timezone) == (settings.nightly_cron, settings.timezone)
    selected = defs.resolve_job_def("nightly_refresh").asset_layer.selected_asset_keys
    assert set(selected) == set(graph.get_all_asset_keys())  # load, build, publish and the CRM push


def test_the_nightly_schedule_takes_its_cron_and_timezone_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orchestration.defs.automation import nightly_schedule
    from orchestration.settings import Settings

    monkeypatch.setenv("CSOPS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    for name in ("CSOPS_NIGHTLY_CRON", "CSOPS_TIMEZONE", "CSOPS_SCHEDULE_RUNNING"):
        monkeypatch.delenv(name, raising=False)
    default = nightly_schedule(Settings.from_env())
    assert (default.cron_schedule, default.execution_timezone) == ("0 2 * * *", "UTC")
    assert default.default_status == DefaultScheduleStatus.RUNNING

    monkeypatch.setenv("CSOPS_NIGHTLY_CRON", "30 5 * * 1-5")
    monkeypatch.setenv("CSOPS_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("CSOPS_SCHEDULE_RUNNING", "false")
    custom = nightly_schedule(Settings.from_env())
    assert (custom.cron_schedule, custom.execution_timezone) == ("30 5 * * 1-5", "Europe/Paris")
    assert custom.default_status == DefaultScheduleStatus.STOPPED


def test_the_run_failure_sensor_is_on_by_default_and_watches_every_job(defs: Definitions) -> None:
    sensor = defs.resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor._run_status == DagsterRunStatus.FAILURE
    assert not sensor._monitored_jobs


@contextmanager
def recording_endpoint(path: str, status: int) -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP endpoint recording the JSON bodies posted to it and answering `status` with an empty body."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A plain alert webhook."""
    with recording_endpoint("/alerts", 204) as endpoint:
        yield endpoint


def test_a_failed_run_is_reported_to_the_alert_webhook(
    webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orchestration.defs.automation import run_failure_alert

    url, received = webhook
    monkeypatch.setenv("CSOPS_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))

    @op
    def load_hubspot() -> None:
        raise RuntimeError("HubSpot answered 401")

    @job
    def nightly_like() -> None:
        load_hubspot()

    with DagsterInstance.ephemeral() as instance:
        result = nightly_like.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        run_failure_alert(context)
    assert len(received) == 1
    assert f"run {result.run_id} of nightly_like failed" in received[0]["text"]


def test_raw_dlt_assets_have_a_freshness_policy_from_the_environment(graph: AssetGraph) -> None:
    from orchestration.settings import Settings

    hours = Settings.from_env().freshness_hours
    for source, names in dlt_resources().items():
        for name in names:
            policy = graph.get(AssetKey(["dlt", source, name])).freshness_policy
            assert policy is not None, f"dlt/{source}/{name} has no freshness policy"
            assert policy.fail_window.to_timedelta() == timedelta(hours=hours)


def test_what_the_retired_mart_gx_suites_checked_beyond_dbt_is_a_dbt_test_or_constraint_now(manifest: dict) -> None:
    expressions = {
        (test["attached_node"].split(".")[-1], test["test_metadata"]["kwargs"].get("expression"))
        for test in dbt_nodes(manifest, "test")
        if test.get("test_metadata", {}).get("name") == "expression_is_true"
    } | {
        (model["name"], constraint["expression"])  # a contract's check: the database refuses the row
        for model in dbt_nodes(manifest, "model")
        for constraint in model["constraints"]
        if constraint["type"] == "check"
    }
    assert ("at_risk_accounts", "arr_at_stake_usd >= 0") in expressions
    assert ("customer_health_daily", "usage_score between 0 and 100") in expressions


def test_marts_have_a_freshness_policy_from_the_environment(graph: AssetGraph, manifest: dict[str, Any]) -> None:
    from orchestration.defs.transformation import mart_relations
    from orchestration.settings import Settings

    hours = Settings.from_env().marts_freshness_hours
    marts = mart_relations(manifest)
    assert marts, "the manifest has no marts"
    for name in marts:
        policy = graph.get(AssetKey(["marts", name])).freshness_policy
        assert policy is not None, f"marts/{name} has no freshness policy"
        assert policy.fail_window.to_timedelta() == timedelta(hours=hours)
    # Staging views are rebuilt with the marts; only what people read carries the promise.
    staging = [key for key in graph.get_all_asset_keys() if key.path[0] == "staging"]
    assert staging and all(graph.get(key).freshness_policy is None for key in staging)


@pytest.fixture()
def teams_webhook() -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for a Microsoft Teams incoming webhook (answers 200 like a workflow URL)."""
    with recording_endpoint("/teams", 200) as endpoint:
        yield endpoint


def test_a_failed_run_is_reported_to_microsoft_teams_as_an_adaptive_card(
    teams_webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orchestration.defs.automation import run_failure_alert

    url, received = teams_webhook
    monkeypatch.setenv("CSOPS_TEAMS_WEBHOOK_URL", url)
    monkeypatch.delenv("CSOPS_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("CSOPS_SLACK_TOKEN", raising=False)
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))

    @op
    def load_stripe() -> None:
        raise RuntimeError("Stripe answered 401")

    @job
    def nightly_like() -> None:
        load_stripe()

    with DagsterInstance.ephemeral() as instance:
        result = nightly_like.execute_in_process(instance=instance, raise_on_error=False)
        context = build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        run_failure_alert(context)
    assert len(received) == 1
    (attachment,) = received[0]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in attachment["content"]["body"]]
    assert any(f"run {result.run_id} of nightly_like failed" in text for text in texts), texts


def test_an_undeliverable_alert_fails_the_sensor_tick_and_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from orchestration.alerts import send_alerts
    from orchestration.settings import Settings

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("CSOPS_TEAMS_WEBHOOK_URL", f"http://127.0.0.1:{closed}/teams")
    monkeypatch.delenv("CSOPS_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("CSOPS_SLACK_TOKEN", raising=False)
    (failure,) = send_alerts(Settings.from_env(), "csops: run x failed")
    assert "CSOPS_TEAMS_WEBHOOK_URL" in failure
