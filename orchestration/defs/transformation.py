"""The dbt project as Dagster assets: models, seeds and snapshots in groups by layer, dbt tests as asset checks
(error-severity tests are blocking), row counts and key figures as materialization metadata."""

import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, AssetSpec, FreshnessPolicy, MetadataValue, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.dbt_resource import DbtResource
from orchestration.resources import WarehouseResource, warehouse_from_env
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, WAREHOUSE_POOL, Settings


def manifest_is_stale(project: DbtProject) -> bool:
    """True when a model, macro, seed or the project file changed after the manifest was written."""
    if not project.manifest_path.exists():
        return True
    written = project.manifest_path.stat().st_mtime
    sources = [project.project_dir / name for name in ("dbt_project.yml", "profiles.yml", "packages.yml")]
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        sources.extend((project.project_dir / folder).rglob("*"))
    return any(path.is_file() and path.stat().st_mtime > written for path in sources)


DBT_TARGET_DIR = Settings.from_env().dbt_target_dir.resolve()
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=DBT_TARGET_DIR)
# dagster-dbt puts each invocation's folder under dbt's DBT_TARGET_PATH and seeds it with the partial-parse state
# found there: set while a dbt invocation starts, with the warehouse's dbt environment.
TARGET_ENV = {"DBT_TARGET_PATH": str(DBT_TARGET_DIR)}
PARTIAL_PARSE = "partial_parse.msgpack"

# Parse only when the project changed since the manifest was written: `dagster dev`'s "Reload definitions" picks
# up an edited model, and the processes that load this module for each run and step (the run worker, one per step
# under the multiprocess executor) reuse the manifest instead of re-parsing concurrently into the same target/.
# (DbtProject.prepare_if_dev() would parse unconditionally in every one of them under `dagster dev`.) With this
# environment's dbt: dagster-dbt's own preparer looks `dbt` up on PATH, where the virtualenv need not be. In the
# warehouse's dbt environment, as the builds run: dbt parses the whole project again when the profile it renders
# (warehouse path, DuckDB limits) differs from the one the saved parse was made with.
if manifest_is_stale(DBT_PROJECT):
    with warehouse_from_env(resolved=True).dbt_environment(**TARGET_ENV):
        DbtResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=DBT_PROJECT.target_path
        ).wait()

OWNERS = ["team:analytics-engineering"]
KEEP_INVOCATIONS = 5
LAYERS = ("staging", "intermediate", "marts")


def layer(node: Mapping[str, Any]) -> str:
    """The layer a dbt model belongs to: its folder under models/ (staging, intermediate or marts)."""
    return next((part for part in node.get("fqn", []) if part in LAYERS), "staging")


def mart_relations(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Every built model of the marts layer: name -> schema.alias (what BI tools read)."""
    return {
        node["name"]: f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and layer(node) == "marts"
        and node.get("config", {}).get("materialized") != "ephemeral"
    }


# Figures CS and finance look at first, attached to the model that holds them.
KEY_FIGURES: Mapping[str, str] = {
    "mrr_summary": """
        select ending_mrr_usd as total_mrr_usd, ending_arr_usd as total_arr_usd, customers,
               net_revenue_retention, gross_revenue_retention
        from marts.mrr_summary order by month desc limit 1""",
    "at_risk_accounts": """
        select count(*) as at_risk_accounts, coalesce(sum(arr_at_stake_usd), 0) as arr_at_risk_usd
        from marts.at_risk_accounts""",
    "customer_360": """
        select count(*) as accounts, count(*) filter (where mrr_usd > 0) as paying_customers,
               coalesce(sum(mrr_usd), 0) as total_mrr_usd
        from marts.customer_360""",
    "customer_health_daily": """
        select count(*) filter (where health_status = 'green') as green_accounts,
               count(*) filter (where health_status = 'yellow') as yellow_accounts,
               count(*) filter (where health_status = 'red') as red_accounts
        from marts.customer_health_daily
        where health_date = (select max(health_date) from marts.customer_health_daily)""",
    "playbook_outcomes": """
        select count(*) as csops_tasks, count(*) filter (where is_completed) as completed_tasks,
               count(*) filter (where is_overdue) as overdue_tasks,
               count(*) filter (where is_completed) / nullif(count(*), 0) as completion_rate
        from marts.playbook_outcomes""",
    "playbook_effectiveness": """
        select count(distinct playbook) as playbooks,
               count(distinct playbook) filter (where is_flagged_for_review) as playbooks_flagged_for_review
        from marts.playbook_effectiveness""",
}
# Figures per row of a mart, attached as one JSON entry keyed by the first column: each playbook's completion rate
# and measured lift in its latest quarter.
KEY_TABLES: Mapping[str, tuple[str, str]] = {
    "playbook_effectiveness": (
        "by_playbook",
        """
        select playbook, quarter_start, tasks, completion_rate, on_time_rate, lift, lift_ci_low, lift_ci_high,
               is_flagged_for_review
        from marts.playbook_effectiveness
        qualify row_number() over (partition by playbook order by quarter_start desc) = 1
        order by playbook""",
    ),
}


def _plain(value: Any) -> Any:
    """Counts stay integers; DECIMAL amounts become floats (Dagster metadata has no decimal); dates become text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# A mart not rebuilt within CSOPS_MARTS_FRESHNESS_HOURS (default 30: a nightly refresh plus slack) is stale.
MARTS_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=Settings.from_env().marts_freshness_hours))


class CsopsDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the dlt assets (["dlt", source, resource]); models are keyed and grouped by layer
    (["marts", "customer_360"]), seeds as ["seeds", name]."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            table = props["name"].split("__")[0]
            return spec.replace_attributes(key=AssetKey(["dlt", props["source_name"], table]))
        if props["resource_type"] == "snapshot":
            return spec.replace_attributes(
                key=AssetKey(["snapshots", props["name"]]), group_name="intermediate", owners=OWNERS
            )
        if props["resource_type"] == "seed":
            return spec.replace_attributes(key=AssetKey(["seeds", props["name"]]), group_name="staging", owners=OWNERS)
        group = layer(props)
        spec = spec.replace_attributes(key=AssetKey([group, props["name"]]), group_name=group, owners=OWNERS)
        # What CS and BI read must be rebuilt every night: a mart older than the window fails its freshness.
        return spec.replace_attributes(freshness_policy=MARTS_FRESHNESS) if group == "marts" else spec


TRANSLATOR = CsopsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True)
)


def warehouse_facts(warehouse: WarehouseResource, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Row counts and key figures, read once the build has released the warehouse (DuckDB has one writer)."""
    facts: dict[str, dict[str, Any]] = {}
    with warehouse.connect(read_only=True) as con:
        for table in tables:
            name = table.split(".")[1]
            try:
                facts[name] = {"dagster/row_count": con.execute(f"select count(*) from {table}").fetchone()[0]}
            except duckdb.Error:
                continue
            if name in KEY_FIGURES:
                cursor = con.execute(KEY_FIGURES[name])
                row = cursor.fetchone()
                columns = [d[0] for d in cursor.description]
                facts[name].update({c: _plain(v) for c, v in zip(columns, row or [], strict=False) if v is not None})
            if name in KEY_TABLES:
                key, query = KEY_TABLES[name]
                cursor = con.execute(query)
                columns = [d[0] for d in cursor.description]
                facts[name][key] = MetadataValue.json(
                    {
                        str(r[0]): {c: _plain(v) for c, v in zip(columns[1:], r[1:], strict=True)}
                        for r in cursor.fetchall()
                    }
                )
    return facts


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_models",
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator[Any]:
    # dbt's unit tests check the models' logic on fixtures, not the night's data: they run in CI (make test), and
    # dbt's guidance is to leave them out of production builds. The data tests run here, as asset checks.
    with warehouse.dbt_environment(**TARGET_ENV):
        invocation = dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context)
    outputs: list[Output] = []
    for event in invocation.stream():
        if isinstance(event, Output):
            outputs.append(event)  # released after the build, with facts read from the warehouse
        else:
            yield event
    # dbt's events name the node (metadata "unique_id"); the manifest knows the relation it built (schema.alias).
    # Tables only, as dagster-dbt's own row counts: a view's count runs its query, which for the usage events view
    # reads every event (4.6 s of views at large, 3.7 s of it that one).
    nodes = invocation.manifest["nodes"]
    relations: dict[str, str] = {}
    for output in outputs:
        unique_id = (output.metadata or {}).get("unique_id")
        node = nodes.get(getattr(unique_id, "value", unique_id)) or {}
        materialized = node.get("config", {}).get("materialized")
        if node.get("resource_type") in ("model", "seed", "snapshot") and materialized not in ("ephemeral", "view"):
            relations[output.output_name] = f"{node['schema']}.{node['alias']}"
    facts = warehouse_facts(warehouse, sorted(set(relations.values())))
    for output in outputs:
        table = relations.get(output.output_name)
        extra = facts.get(table.split(".")[-1], {}) if table else {}
        yield output.with_metadata({**(output.metadata or {}), **extra}) if extra else output
    keep_parse_state(invocation.target_path, DBT_TARGET_DIR)
    prune_invocation_folders(DBT_TARGET_DIR, keep=KEEP_INVOCATIONS)


def keep_parse_state(invocation_target: Path, target: Path) -> Path | None:
    """The partial-parse state this build left becomes the one the next build starts from (dagster-dbt copies the
    target folder's into each invocation's folder). Otherwise that stays the state of the last `dbt parse`, and once
    the environment changed (another warehouse path, other DuckDB limits) every night would parse the whole project
    again: ~10 s here. Replaced atomically: a build starting meanwhile copies the old state or the new one."""
    made = invocation_target / PARTIAL_PARSE
    if not made.is_file():
        return None
    kept = target / PARTIAL_PARSE
    staging = target / f".{PARTIAL_PARSE}.{os.getpid()}"
    shutil.copyfile(made, staging)
    os.replace(staging, kept)
    return kept


def prune_invocation_folders(target: Path, keep: int) -> list[Path]:
    """dagster-dbt gives every invocation its own folder under target/ (about 5 MB each): keep the newest `keep`
    (the CRM sync's preflight reads the newest run_results.json) so a nightly schedule never fills the disk."""
    if not target.exists():
        return []
    invocations = [p for p in target.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    invocations.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in invocations[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return invocations[keep:]
