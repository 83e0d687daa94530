"""The stages of one scale's benchmark, on a fresh sandbox and warehouse:

    generate -> ingest full (per source, sandbox server running) -> raw checks -> dbt build full -> publish
    -> plain SQL (per transformation) -> [advance 1 day -> warm-up nightly run] x 2
    -> [advance 1 day -> nightly run (one Dagster run, CRM push left out)] x --nights
    -> advance 1 day -> ingest incremental (per source) -> raw checks -> dbt build incremental -> publish
    -> CRM sync dry run

Every stage runs in a child process of its own: its wall time is what a user pays for it (interpreter start, imports
and dbt's parse included), its peak memory is that process tree's, not the harness's. Nights follow the full load.
The measured one runs as the product runs it, one Dagster run in one process. It is a judged night: the raw volume
check compares a load with the loads before it once VolumeRule.min_loads of them exist, at the cost of a GX
validation per table, so warm-up nights (Dagster runs too, reported, not the figure) come first. The last night is
the same work split into stages, to show where its time and memory go. A stage that fails is reported and the rest
still run. Sources and their raw datasets come from the source registry (ingestion/registry.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from bench.config import ADVANCE_DAYS, CRM_PUSH, DBT_PROJECT_DIR, NIGHTLY_RUN, QUIET, BenchConfig, Progress
from bench.floors import request_floor
from bench.plain_sql import TRANSFORMATIONS, Transformation, compare
from bench.processes import Measured, SandboxServer, child_argv, log_tail, measure, sandbox_server
from bench.report import scale_report
from bench.warehouse import changed_rows, count_events, dataset_rows, folder_bytes, relation_rows, snapshot_tables
from ingestion.registry import BY_NAME, DATASETS, SOURCE_NAMES
from orchestration.raw_checks import VolumeRule
from orchestration.resources import DBT_FILE_LOG_LEVEL

WARM_UP = "warm-up night"
WARM_UP_RUN = "nightly run (warm-up night, not measured)"


@dataclass
class Stage:
    name: str  # what the table shows, e.g. "ingest incremental: usage"
    step: str  # generate | ingest | plain_load | dbt | plain_sql | advance | checks | publish | sync | nightly_run
    mode: str  # full | incremental | nightly (the one-run nightly) | "" (not applicable)
    rows_meaning: str
    status: str = "ok"  # ok | failed | mismatch
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mb: float | None = None
    rows: int | None = None
    load_avg_start: float | None = None
    load_avg_end: float | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        if self.rows is None or self.wall_s <= 0:
            return None
        return self.rows / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}


class ScaleBench:
    """Every stage at one scale, on a fresh sandbox and warehouse under `root`."""

    def __init__(self, config: BenchConfig, scale: str, root: Path, progress: Progress):
        from sandbox.manifest import resolve_scale

        self.config, self.scale, self.root, self.progress = config, scale, root, progress
        self.spec = resolve_scale(scale, events=config.events, history_days=config.history_days)
        self.sandbox = root / "sandbox"
        self.warehouse = root / "warehouse.duckdb"
        self.logs = root / "logs"
        self.results = root / "results"
        self.dbt_target = root / "dbt_target"
        self.spark = config.target == "spark"
        self.lake = root / "lake"  # spark: the Parquet lake dlt writes
        self.spark_dir = root / "spark"  # spark: Spark's catalog and the tables dbt builds
        self.stages: list[Stage] = []
        self.dbt_runs: dict[str, dict[str, Any]] = {}
        self.plain: list[dict[str, Any]] = []
        self.servers: dict[str, dict[str, Any]] = {}
        self.as_of: date | None = None

    # -- environment
    def env(self, server: SandboxServer | None = None) -> dict[str, str]:
        from sandbox.connect import environment

        env = {**os.environ, **QUIET}
        env["CSOPS_WAREHOUSE"] = str(self.warehouse)
        env["CSOPS_DLT_PIPELINES_DIR"] = str(self.root / "dlt_pipelines")
        env["DAGSTER_HOME"] = str(self.root / "dagster_home")
        # dbt's target folder, this bench's own: the dbt stages write it, the Dagster run's dbt reuses their parse,
        # the sync's preflight reads their results (never the repository's dbt_project/target).
        env["CSOPS_DBT_TARGET_DIR"] = str(self.dbt_target)
        env["CSOPS_TARGET"] = self.config.target
        if self.spark:
            env["CSOPS_LAKE"] = str(self.lake)
            env["CSOPS_SPARK_DIR"] = str(self.spark_dir)
        if server is not None:
            env.update(environment(self.sandbox, server.url))
        if self.as_of is not None:
            env["CSOPS_AS_OF_DATE"] = self.as_of.isoformat()
        return env

    def _read_today(self) -> None:
        from sandbox.manifest import Manifest

        self.as_of = Manifest.read(self.sandbox).today

    # -- one stage
    def run_stage(self, stage: Stage, argv: list[str], env: dict[str, str]) -> Measured:
        slug = "".join(c if c.isalnum() else "-" for c in stage.name.lower()).strip("-")
        log = self.logs / f"{len(self.stages):02d}-{slug}.log"
        self.progress(f"[bench {self.scale}] start {stage.name}")
        os.sync()  # the previous stage's writes are flushed now, not on this stage's time
        stage.load_avg_start = os.getloadavg()[0]
        measured = measure(argv, env, log, cap_mb=self.config.memory_cap_mb)
        stage.load_avg_end = os.getloadavg()[0]
        stage.wall_s, stage.cpu_s, stage.peak_mb = measured.wall_s, measured.cpu_s, measured.peak_mb
        stage.details["log"] = str(log)
        stage.details["memory"] = {
            "tree_peak_mb": measured.tree_peak_mb,
            "process_peaks_mb": measured.process_peaks_mb,
            "samples": measured.samples,
        }
        if measured.killed_at_mb is not None:
            stage.status = "failed"
            stage.error = f"killed: its processes held {measured.killed_at_mb:,.0f} MB, past the bench's memory cap"
        elif measured.returncode != 0:
            stage.status = "failed"
            stage.error = f"exit code {measured.returncode}: {log_tail(log, 5)}"
        self.stages.append(stage)
        return measured

    def finish(self, stage: Stage) -> None:
        rows = f"{stage.rows:,} rows" if stage.rows is not None else "no rows"
        peak = f", peak {stage.peak_mb:,.0f} MB" if stage.peak_mb else ""
        status = "" if stage.status == "ok" else f" [{stage.status.upper()}]"
        self.progress(f"[bench {self.scale}] done  {stage.name}: {stage.wall_s:.1f}s, {rows}{peak}{status}")
        if stage.status in ("failed", "mismatch") and stage.error:
            self.progress(f"[bench {self.scale}] !!! {stage.name} {stage.status.upper()}: {stage.error}")

    # -- stages
    def generate(self) -> None:
        stage = Stage("generate sandbox", "generate", "", "usage events written")
        argv = [sys.executable, "-m", "csops", "sandbox", "generate", "--scale", self.scale]
        argv += ["--seed", str(self.config.seed), "--today", self.config.today.isoformat(), "--out", str(self.sandbox)]
        argv += ["--events-format", self.config.events_format]
        if self.config.events is not None:
            argv += ["--events", str(self.config.events)]
        if self.config.history_days is not None:
            argv += ["--history-days", str(self.config.history_days)]
        self.run_stage(stage, argv, self.env())
        if stage.status == "ok":
            import pyarrow.parquet as pq

            self._read_today()
            stage.rows = count_events(self.sandbox / "events")
            stage.details["world_rows"] = {
                p.stem: pq.read_metadata(p).num_rows for p in sorted((self.sandbox / "world").glob("*.parquet"))
            }
            stage.details["sandbox_bytes"] = folder_bytes(self.sandbox)
        self.finish(stage)

    def ingest(self, source: str, mode: str, server: SandboxServer) -> None:
        stage = Stage(
            f"ingest {mode}: {source}",
            "ingest",
            mode,
            "rows loaded: by dlt (nested tables included) or copied by the warehouse from the files a load named",
        )
        stage.details["source"] = source
        lake = self.lake if self.spark else None
        before = dataset_rows(self.warehouse, DATASETS[source], lake)
        result = self.results / f"ingest-{mode}-{source}.json"
        self.run_stage(stage, child_argv("ingest", {"source": source}, result), self.env(server))
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            after = dataset_rows(self.warehouse, DATASETS[source], lake)
            stage.rows = outcome["rows"]
            stage.details.update(
                {
                    "tables_loaded": outcome["tables"],
                    "quarantined": outcome["quarantined"],
                    "load_id": outcome["load_id"],
                    "work_s": outcome["work_s"],
                    "step_seconds": outcome.get("step_seconds", {}),
                    "warehouse_tables": after,
                    "warehouse_rows": sum(after.values()),
                    "new_rows": sum(after.values()) - sum(before.values()),
                    "after_load": outcome["after_load"],
                    "pending_loaded": outcome["pending_loaded"],
                    "requests": outcome["requests"],
                    "throttle_wait_s": outcome["throttle_wait_s"],
                    "response_wait_s": outcome["response_wait_s"],
                    "requests_by_limit": outcome["requests_by_limit"],
                }
            )
            full = mode == "full" and not self.spark  # the floor reads the DuckDB warehouse; it is the same on Spark
            floor = request_floor(source, self.warehouse, BY_NAME[source].tables[1:]) if full else None
            if floor:
                floor["wall_vs_floor"] = stage.wall_s / floor["seconds"] if floor["seconds"] else None
                stage.details["floor"] = floor
        self.finish(stage)

    def plain_load(self) -> None:
        """DuckDB's own reader, events files -> table, beside the usage load: the floor it is compared with."""
        stage = Stage("plain load: usage events (DuckDB)", "plain_load", "full", "rows produced")
        scratch = self.root / "plain-load.duckdb"
        scratch.unlink(missing_ok=True)
        result = self.results / "plain-load.json"
        params = {
            "events": str(self.sandbox / "events"),
            "scratch": str(scratch),
            "events_format": self.config.events_format,
        }
        self.run_stage(stage, child_argv("plain_load", params, result), self.env())
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome["rows"]
            stage.details["query_s"] = outcome["query_s"]
        scratch.unlink(missing_ok=True)
        shutil.rmtree(f"{scratch}.tmp", ignore_errors=True)
        self.finish(stage)

    def dbt_build(self, mode: str) -> None:
        stage = Stage(f"dbt build {mode}", "dbt", mode, "rows materialized (seeds, tables, incremental writes)")
        # What an incremental run rewrote is counted by comparing DuckDB tables before and after (not on Spark).
        incremental = self._incremental_relations() if mode == "incremental" and not self.spark else []
        snapshot = self.root / "dbt_before.duckdb"
        if incremental:
            snapshot_tables(self.warehouse, snapshot, incremental)
        dbt = str(Path(sys.executable).with_name("dbt"))
        argv = [dbt, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        argv += ["--target-path", str(self.dbt_target), "--log-path", str(self.root / "dbt_logs")]
        # As the nightly builds (orchestration/defs/transformation.py): unit tests check logic on fixtures, in CI.
        argv += ["--exclude-resource-type", "unit_test"]
        env = self.env()
        # dbt's file log at the level the product's builds use (orchestration/resources.py), not dbt's debug default.
        env.setdefault("DBT_LOG_LEVEL_FILE", DBT_FILE_LOG_LEVEL)
        if mode == "incremental":
            # The nightly build tests only the window it rewrote, told the way Dagster tells it (the environment:
            # orchestration/resources.py); `--vars` on the command line would make dbt parse the project again.
            env["CSOPS_TEST_WINDOW_DAYS"] = "31"
        results_file = self.dbt_target / "run_results.json"
        results_file.unlink(missing_ok=True)  # never read the previous build's results as this one's
        self.run_stage(stage, argv, env)
        if results_file.exists():
            shutil.copyfile(results_file, self.root / f"run_results-{mode}.json")
            run = self._dbt_results(mode)
            written = changed_rows(self.warehouse, snapshot, incremental) if incremental else {}
            rows = 0
            for node in run["nodes"]:
                if node["rows_after"] is None:
                    continue
                node["rows"] = written.get(node["relation"], node["rows_after"]) if incremental else node["rows_after"]
                rows += node["rows"] or 0
            stage.rows = rows
            failed = [n for n in run["nodes"] if n["status"] not in ("success", "pass", "warn")]
            if failed:
                stage.status = "failed"
                stage.error = "; ".join(f"{n['unique_id']} {n['status']}: {n['message']}" for n in failed[:5])
            stage.details.update({k: v for k, v in run.items() if k != "nodes"})
            stage.details["nodes"] = run["nodes"]
            self.dbt_runs[mode] = run
        snapshot.unlink(missing_ok=True)
        stage.details["warehouse_bytes"] = folder_bytes(self.spark_dir if self.spark else self.warehouse)
        self.finish(stage)

    def _incremental_relations(self) -> list[str]:
        full = self.dbt_runs.get("full")
        if not full:
            return []
        return [n["relation"] for n in full["nodes"] if n["materialized"] == "incremental" and n["rows_after"]]

    def _dbt_results(self, mode: str) -> dict[str, Any]:
        results = json.loads((self.dbt_target / "run_results.json").read_text())
        manifest = json.loads((self.dbt_target / "manifest.json").read_text())
        nodes = []
        for result in results["results"]:
            uid = result["unique_id"]
            node = manifest.get("nodes", {}).get(uid) or {}
            materialized = (node.get("config") or {}).get("materialized")
            nodes.append(
                {
                    "unique_id": uid,
                    "name": node.get("name") or uid.split(".")[-1],
                    "resource_type": uid.split(".")[0],
                    "materialized": materialized,
                    "relation": result.get("relation_name") or node.get("relation_name"),
                    "status": result["status"],
                    "seconds": result["execution_time"],
                    "failures": result.get("failures"),
                    "message": result.get("message"),
                    "rows_after": None,
                }
            )
        counted = [
            n
            for n in nodes
            if n["status"] == "success"
            and n["relation"]
            and (n["resource_type"] == "seed" or n["materialized"] in ("table", "incremental"))
        ]
        spark_dir = self.spark_dir if self.spark else None
        after = relation_rows(self.warehouse, [n["relation"] for n in counted], spark_dir) if counted else {}
        for node in counted:
            node["rows_after"] = after.get(node["relation"])
        models = [n for n in nodes if n["resource_type"] == "model"]
        slowest = sorted(models, key=lambda n: -n["seconds"])[:5]
        by_type: dict[str, dict[str, int]] = {}
        for node in nodes:
            counts = by_type.setdefault(node["resource_type"], {})
            counts[node["status"]] = counts.get(node["status"], 0) + 1
        return {
            "mode": mode,
            "dbt_elapsed_s": results.get("elapsed_time"),
            "models_s": sum(n["seconds"] for n in models),
            "tests_s": sum(n["seconds"] for n in nodes if n["resource_type"] in ("test", "unit_test")),
            "statuses": by_type,
            "slowest_models": [{"model": n["name"], "seconds": n["seconds"]} for n in slowest],
            "nodes": nodes,
        }

    def plain_sql(self, transformation: Transformation) -> None:
        stage = Stage(f"plain SQL: {transformation.title}", "plain_sql", "full", "rows produced")
        stage.details["transformation"] = transformation.name
        scratch = self.root / f"plain-{transformation.name}.duckdb"
        scratch.unlink(missing_ok=True)
        result = self.results / f"plain-{transformation.name}.json"
        params = {
            "name": transformation.name,
            "warehouse": str(self.warehouse),
            "scratch": str(scratch),
            "as_of": (self.as_of or self.config.today).isoformat(),
        }
        self.run_stage(stage, child_argv("plain_sql", params, result), self.env())
        entry: dict[str, Any] = {"transformation": transformation.name, "title": transformation.title}
        entry["dbt_models"] = list(transformation.models)
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome["rows"]
            stage.details["query_s"] = outcome["query_s"]
            entry["plain_s"] = outcome["query_s"]
            entry["plain_peak_mb"] = stage.peak_mb
            full = self.dbt_runs.get("full")
            seconds = {n["name"]: n["seconds"] for n in full["nodes"]} if full else {}
            if full and all(m in seconds for m in transformation.models):
                entry["dbt_s"] = sum(seconds[m] for m in transformation.models)
                entry["dbt_models_s"] = {m: seconds[m] for m in transformation.models}
                entry["ratio"] = entry["dbt_s"] / outcome["query_s"] if outcome["query_s"] > 0 else None
            try:
                check = compare(transformation, self.warehouse, scratch)
            except duckdb.Error as error:
                check = {"match": False, "error": str(error)}
            entry["check"] = check
            stage.details["check"] = check
            if not check["match"]:
                stage.status = "mismatch"
                stage.error = f"plain SQL and dbt ({transformation.dbt_table}) DIFFER: " + json.dumps(
                    {k: v for k, v in check.items() if k != "match"}, default=str
                )
        if not self.config.keep:
            scratch.unlink(missing_ok=True)
        self.plain.append(entry)
        self.finish(stage)

    def advance(self, night: str = "") -> None:
        name = f"advance {ADVANCE_DAYS} day" + (f" ({night})" if night else "")
        stage = Stage(name, "advance", "", "usage events written")
        old_today = self.as_of
        argv = [sys.executable, "-m", "csops", "sandbox", "advance", "--dir", str(self.sandbox)]
        argv += ["--days", str(ADVANCE_DAYS)]
        self.run_stage(stage, argv, self.env())
        if stage.status == "ok":
            self._read_today()
            stage.rows = count_events(self.sandbox / "events", since=old_today)
            stage.details["today"] = self.as_of.isoformat() if self.as_of else None
        self.finish(stage)

    def warehouse_step(self, step: str, name: str, rows_meaning: str, mode: str = "incremental") -> None:
        """A step of the nightly graph on the warehouse alone (raw checks, publishing), in its own process."""
        stage = Stage(name, step, mode, rows_meaning)
        result = self.results / f"{step}.json"
        self.run_stage(stage, child_argv(step, {"warehouse": str(self.warehouse)}, result), self.env())
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome.pop("rows")
            stage.details.update(outcome)
            if outcome.get("failed"):
                stage.status = "failed"
                stage.error = "; ".join(outcome["failed"])[:500]
        self.finish(stage)

    def sync(self, server: SandboxServer) -> None:
        stage = Stage("CRM sync dry run", "sync", "incremental", "CRM changes planned")
        result = self.results / "sync.json"
        self.run_stage(stage, child_argv("sync", {"warehouse": str(self.warehouse)}, result), self.env(server))
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome.pop("rows")
            stage.details.update(outcome)
            if not outcome.get("ok", True):
                stage.status = "failed"
                stage.error = f"sync dry run status {outcome.get('status')}"
        self.finish(stage)

    def nightly_run(self, server: SandboxServer, name: str = NIGHTLY_RUN) -> None:
        """A night as the product runs it: one Dagster run of the graph in one process (`csops run`; the
        nightly job's executor is in-process too), so dlt, GX, Dagster and the definitions are loaded once, not once
        per stage as in the next night. The CRM push is left out: the next night's sync dry run stands for it."""
        stage = Stage(name, "nightly_run", "nightly", "assets materialized")
        result = self.results / "nightly-run.json"

        def raw_rows() -> dict[str, int]:
            return {source: sum(dataset_rows(self.warehouse, DATASETS[source]).values()) for source in SOURCE_NAMES}

        before = raw_rows()
        self.run_stage(stage, child_argv("nightly_run", {"exclude": [CRM_PUSH]}, result), self.env(server))
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome["rows"]
            stage.details.update(outcome)
            after = raw_rows()
            stage.details["new_rows"] = {source: after[source] - before[source] for source in SOURCE_NAMES}
            if not outcome["success"]:
                stage.status = "failed"
                stage.error = "; ".join(outcome["failed_steps"] + outcome["failed_checks"]) or "the run failed"
        self.finish(stage)

    # -- the whole scale
    def run(self) -> dict[str, Any]:
        for folder in (self.logs, self.results):
            folder.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC)
        load_start = os.getloadavg()
        self.progress(
            f"[bench {self.scale}] {self.spec.accounts:,} accounts, ~{self.spec.events:,} events "
            f"({self.config.events_format}), engine {self.config.target}, work folder {self.root}"
        )
        self.generate()
        if self.stages[-1].status != "ok":  # nothing to load: report what there is
            return scale_report(self, started, load_start)
        with sandbox_server(self.sandbox, self.env(), self.logs / "server-full.log") as server:
            self.servers["full"] = {"start_s": server.start_s}
            for source in SOURCE_NAMES:
                self.ingest(source, "full", server)
        self.servers["full"]["peak_mb"] = server.peak_mb
        # The first night checks what it loaded too (GX then sets up its project: assets, suites, the Data Docs
        # site), so the nightly check costs what it costs on every later night.
        self.warehouse_step("checks", "raw checks (GX) full", "raw tables checked", mode="full")
        if "usage" in SOURCE_NAMES and not self.spark:  # the plain-DuckDB references compare with DuckDB's tables
            self.plain_load()
        self.dbt_build("full")
        # The first night publishes too: the nightly publish then starts from a serving copy, as it does in use.
        self.warehouse_step("publish", "publish serving copy full", "mart rows published", mode="full")
        for transformation in TRANSFORMATIONS if not self.spark else ():
            self.plain_sql(transformation)
        if not self.spark:  # on Spark each dbt test is a Spark job: the staged night below is its nightly
            # Warm-up nights first, until the measured night has the earlier loads the volume check needs, so it pays
            # for that check as most nights do (the full load is the first of them).
            for _ in range(max(0, VolumeRule().min_loads - 1)):
                self.advance(WARM_UP)
                with sandbox_server(self.sandbox, self.env(), self.logs / "server-warm-up.log") as server:
                    self.nightly_run(server, WARM_UP_RUN)
            for _ in range(self.config.nights):
                self.advance("for the nightly run")
                with sandbox_server(self.sandbox, self.env(), self.logs / "server-nightly-run.log") as server:
                    self.servers.setdefault("nightly_run", {"start_s": server.start_s})
                    self.nightly_run(server)
                peak = self.servers["nightly_run"].get("peak_mb") or 0
                self.servers["nightly_run"]["peak_mb"] = max(peak, server.peak_mb or 0)
        # The next night again, in stages (last, so what they report is what the warehouse holds at the end).
        self.advance()
        with sandbox_server(self.sandbox, self.env(), self.logs / "server-incremental.log") as server:
            self.servers["incremental"] = {"start_s": server.start_s}
            for source in SOURCE_NAMES:
                self.ingest(source, "incremental", server)
            self.warehouse_step("checks", "raw checks (GX)", "raw tables checked")
            self.dbt_build("incremental")
            self.warehouse_step("publish", "publish serving copy", "mart rows published")
            self.sync(server)
        self.servers["incremental"]["peak_mb"] = server.peak_mb
        return scale_report(self, started, load_start)
