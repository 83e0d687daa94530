"""`csops bench`: wall time, rows/s and peak memory of every stage of the pipeline at several sandbox scales, full and
incremental, and how dbt compares with the same transformations hand-written as plain DuckDB SQL.

Per scale, on a fresh sandbox and warehouse (in a work folder, deleted afterwards unless kept):

    generate -> ingest full (per source, sandbox server running) -> dbt build full -> plain SQL (per transformation)
    -> advance 1 day -> ingest incremental (per source) -> dbt build incremental -> CRM sync dry run (if installed)

Every stage runs in a child process of its own: its wall time is what a user pays for it (interpreter start, imports
and dbt's parse included), its peak memory is that process tree's (`os.wait4`), not the harness's. The sandbox server
runs in a process of its own too, so it does not inflate the loaders' memory. Benchmarks only: nothing here asserts a
time; a stage that fails is reported and the rest still run.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from csops.bench_sql import TRANSFORMATIONS, Transformation, compare, run_plain
from ingestion.registry import DATASETS
from ingestion.registry import SOURCE_NAMES as SOURCES

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_TODAY = date(2026, 11, 1)  # a fixed simulated today: the same world on every run, so runs compare
ADVANCE_DAYS = 1
REPORT_VERSION = 1
# Disk a scale needs per configured event, with room: sandbox files, dlt's packages, warehouse and dbt's tables took
# about 170 bytes per event at the small scale with Parquet event files (JSONL files add about 250).
BYTES_PER_EVENT = 500
QUIET = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
}
VERSIONED_PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dlt", "dagster", "pyarrow", "pandas")

Progress = Callable[[str], None]


# ------------------------------------------------------------------------------------------------ configuration
@dataclass
class BenchConfig:
    scales: list[str]
    out: Path = Path("bench-results")
    events_format: str = "parquet"
    keep: bool = False
    events: int | None = None  # override every scale's approximate event count
    seed: int = 42
    today: date = DEFAULT_TODAY
    work_dir: Path | None = None  # default: a new folder in the system temp dir


@dataclass
class Stage:
    name: str  # what the table shows, e.g. "ingest incremental: usage"
    step: str  # generate | ingest | dbt | plain_sql | advance | sync
    mode: str  # full | incremental | "" (not applicable)
    rows_meaning: str
    status: str = "ok"  # ok | failed | mismatch | skipped
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
        if self.rows is None or self.wall_s <= 0 or self.status == "skipped":
            return None
        return self.rows / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}


@dataclass
class BenchRun:
    reports: list[dict[str, Any]]
    files: list[Path]

    @property
    def ok(self) -> bool:
        return all(s["status"] in ("ok", "skipped") for r in self.reports for s in r["stages"])


# ------------------------------------------------------------------------------------------------ processes
@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_mb: float


def _rss_mb(maxrss: int) -> float:
    """ru_maxrss is in KiB on Linux, in bytes on macOS."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def measure(argv: list[str], env: dict[str, str], log: Path) -> Measured:
    """Run `argv` to completion; wall time, CPU time and peak RSS of the child (and what it waited for)."""
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(process.returncode, wall, usage.ru_utime + usage.ru_stime, _rss_mb(usage.ru_maxrss))


def _child_argv(step: str, params: dict[str, Any], result: Path) -> list[str]:
    return [sys.executable, "-m", "csops.bench", "child", step, json.dumps(params), str(result)]


def _child_ingest(source: str) -> dict[str, Any]:
    from ingestion.pipeline import run_source

    report = run_source(source)
    return {
        "rows": report.loaded,
        "tables": report.rows,
        "quarantined": report.quarantined,
        "load_id": report.load_id,
        "seconds": report.seconds,
    }


def _child_plain_sql(name: str, warehouse: str, scratch: str, as_of: str) -> dict[str, Any]:
    transformation = next(t for t in TRANSFORMATIONS if t.name == name)
    started = time.perf_counter()
    result = run_plain(transformation, Path(warehouse), Path(scratch), date.fromisoformat(as_of))
    return {**result, "query_s": time.perf_counter() - started}


def _child_sync(warehouse: str) -> dict[str, Any]:
    from activation import run_sync

    report = run_sync(Path(warehouse), dry_run=True, force=False, log=print)
    for line in report.summary_lines():
        print(line)
    return {"rows": sum(report.plan.values()), "ok": report.ok, "status": report.status, **report.as_metadata()}


CHILD_STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "ingest": _child_ingest,
    "plain_sql": _child_plain_sql,
    "sync": _child_sync,
}


def child_main(argv: list[str]) -> int:
    """`python -m csops.bench child STEP PARAMS_JSON RESULT_PATH`: one stage's work, its result as JSON."""
    step, params, result_path = argv
    started = time.perf_counter()
    result = CHILD_STEPS[step](**json.loads(params))
    result["work_s"] = time.perf_counter() - started
    Path(result_path).write_text(json.dumps(result, default=str))
    return 0


@dataclass
class SandboxServer:
    url: str
    pid: int
    start_s: float
    peak_mb: float | None = None


def _peak_rss_of(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def sandbox_server(directory: Path, env: dict[str, str], log: Path) -> Iterator[SandboxServer]:
    """The sandbox's HTTP server in a process of its own (loopback, free port), stopped on exit."""
    argv = [sys.executable, "-m", "sandbox.server.app", str(directory), "0"]
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=handle
        )
    assert process.stdout is not None
    banner = process.stdout.readline().decode()
    if "sandbox serving" not in banner:
        process.kill()
        process.wait()
        raise RuntimeError(f"the sandbox server did not start: {banner or 'no output'} (see {log})")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    server = SandboxServer(banner.split()[2], process.pid, time.perf_counter() - started)
    try:
        yield server
    finally:
        server.peak_mb = _peak_rss_of(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------ warehouse reads
def dataset_rows(warehouse: Path, dataset: str) -> dict[str, int]:
    """Rows per data table of a raw dataset (dlt's own tables and the quarantine left out)."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_name not like '\\_dlt%' escape '\\' and table_name != 'quarantine' order by 1",
                [dataset],
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from {dataset}."{t}"').fetchone()[0] for t in tables}


def _relation(relation_name: str) -> str:
    """`"warehouse"."intermediate"."x"` -> `intermediate."x"` (independent of the catalog name)."""
    parts = [p.strip('"') for p in relation_name.split(".")]
    return f'{parts[-2]}."{parts[-1]}"'


def relation_rows(warehouse: Path, relations: list[str]) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: con.execute(f"select count(*) from {_relation(r)}").fetchone()[0] for r in relations}


def snapshot_tables(warehouse: Path, snapshot: Path, relations: list[str]) -> None:
    snapshot.unlink(missing_ok=True)
    with duckdb.connect(str(snapshot)) as con:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        for i, relation in enumerate(relations):
            con.execute(f"create table t{i} as select * from wh.{_relation(relation)}")


def changed_rows(warehouse: Path, snapshot: Path, relations: list[str]) -> dict[str, int | None]:
    """Rows of each relation that are new or different since the snapshot (what an incremental run wrote)."""
    counts: dict[str, int | None] = {}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        for i, relation in enumerate(relations):
            try:
                counts[relation] = con.execute(
                    f"select count(*) from (select * from wh.{_relation(relation)} except all select * from t{i})"
                ).fetchone()[0]
            except duckdb.Error:  # columns added since: no like-for-like comparison
                counts[relation] = None
    return counts


def count_events(events_dir: Path, since: date | None = None) -> int:
    """Events in the sandbox's files (received on or after `since`, when given)."""
    import pyarrow.parquet as pq

    total = 0
    for folder in sorted(events_dir.glob("received_date=*")):
        if since and date.fromisoformat(folder.name.split("=", 1)[1]) < since:
            continue
        for path in folder.iterdir():
            if path.suffix == ".parquet":
                total += pq.read_metadata(path).num_rows
            elif path.suffix in (".jsonl", ".json", ".ndjson"):
                with path.open("rb") as handle:
                    total += sum(1 for line in handle if line.strip())
    return total


def _folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------------ one scale
class ScaleBench:
    """Every stage at one scale, on a fresh sandbox and warehouse under `root`."""

    def __init__(self, config: BenchConfig, scale: str, root: Path, progress: Progress):
        from sandbox.manifest import resolve_scale

        self.config, self.scale, self.root, self.progress = config, scale, root, progress
        self.spec = resolve_scale(scale, events=config.events)
        self.sandbox = root / "sandbox"
        self.warehouse = root / "warehouse.duckdb"
        self.logs = root / "logs"
        self.results = root / "results"
        self.dbt_target = root / "dbt_target"
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
        measured = measure(argv, env, log)
        stage.load_avg_end = os.getloadavg()[0]
        stage.wall_s, stage.cpu_s, stage.peak_mb = measured.wall_s, measured.cpu_s, measured.peak_mb
        stage.details["log"] = str(log)
        if measured.returncode != 0:
            stage.status = "failed"
            stage.error = f"exit code {measured.returncode}: {_log_tail(log, 5)}"
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
        self.run_stage(stage, argv, self.env())
        if stage.status == "ok":
            import pyarrow.parquet as pq

            self._read_today()
            stage.rows = count_events(self.sandbox / "events")
            stage.details["world_rows"] = {
                p.stem: pq.read_metadata(p).num_rows for p in sorted((self.sandbox / "world").glob("*.parquet"))
            }
            stage.details["sandbox_bytes"] = _folder_bytes(self.sandbox)
        self.finish(stage)

    def ingest(self, source: str, mode: str, server: SandboxServer) -> None:
        stage = Stage(f"ingest {mode}: {source}", "ingest", mode, "rows loaded by dlt (nested tables included)")
        stage.details["source"] = source
        before = dataset_rows(self.warehouse, DATASETS[source])
        result = self.results / f"ingest-{mode}-{source}.json"
        self.run_stage(stage, _child_argv("ingest", {"source": source}, result), self.env(server))
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            after = dataset_rows(self.warehouse, DATASETS[source])
            stage.rows = outcome["rows"]
            stage.details.update(
                {
                    "tables_loaded": outcome["tables"],
                    "quarantined": outcome["quarantined"],
                    "load_id": outcome["load_id"],
                    "work_s": outcome["work_s"],
                    "warehouse_tables": after,
                    "warehouse_rows": sum(after.values()),
                    "new_rows": sum(after.values()) - sum(before.values()),
                }
            )
        self.finish(stage)

    def dbt_build(self, mode: str) -> None:
        stage = Stage(f"dbt build {mode}", "dbt", mode, "rows materialized (seeds, tables, incremental writes)")
        incremental = self._incremental_relations() if mode == "incremental" else []
        snapshot = self.root / "dbt_before.duckdb"
        if incremental:
            snapshot_tables(self.warehouse, snapshot, incremental)
        dbt = str(Path(sys.executable).with_name("dbt"))
        argv = [dbt, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        argv += ["--target-path", str(self.dbt_target), "--log-path", str(self.root / "dbt_logs")]
        results_file = self.dbt_target / "run_results.json"
        results_file.unlink(missing_ok=True)  # never read the previous build's results as this one's
        self.run_stage(stage, argv, self.env())
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
        stage.details["warehouse_bytes"] = _folder_bytes(self.warehouse)
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
        after = relation_rows(self.warehouse, [n["relation"] for n in counted]) if counted else {}
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
        self.run_stage(stage, _child_argv("plain_sql", params, result), self.env())
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

    def advance(self) -> None:
        stage = Stage(f"advance {ADVANCE_DAYS} day", "advance", "", "usage events written")
        old_today = self.as_of
        argv = [sys.executable, "-m", "csops", "sandbox", "advance", "--dir", str(self.sandbox)]
        argv += ["--days", str(ADVANCE_DAYS)]
        self.run_stage(stage, argv, self.env())
        if stage.status == "ok":
            self._read_today()
            stage.rows = count_events(self.sandbox / "events", since=old_today)
            stage.details["today"] = self.as_of.isoformat() if self.as_of else None
        self.finish(stage)

    def sync(self, server: SandboxServer) -> None:
        stage = Stage("CRM sync dry run", "sync", "incremental", "CRM changes planned")
        if importlib.util.find_spec("activation") is None:
            stage.status = "skipped"
            stage.error = "the activation package is not importable here (the CRM sync is not installed)"
            self.stages.append(stage)
            self.progress(f"[bench {self.scale}] skip  {stage.name}: {stage.error}")
            return
        result = self.results / "sync.json"
        self.run_stage(stage, _child_argv("sync", {"warehouse": str(self.warehouse)}, result), self.env(server))
        if stage.status == "ok":
            outcome = json.loads(result.read_text())
            stage.rows = outcome.pop("rows")
            stage.details.update(outcome)
            if not outcome.get("ok", True):
                stage.status = "failed"
                stage.error = f"sync dry run status {outcome.get('status')}"
        self.finish(stage)

    # -- the whole scale
    def run(self) -> dict[str, Any]:
        for folder in (self.logs, self.results):
            folder.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC)
        load_start = os.getloadavg()
        self.progress(
            f"[bench {self.scale}] {self.spec.accounts:,} accounts, ~{self.spec.events:,} events "
            f"({self.config.events_format}), work folder {self.root}"
        )
        self.generate()
        if self.stages[-1].status != "ok":  # nothing to load: report what there is
            return self.report(started, load_start)
        with sandbox_server(self.sandbox, self.env(), self.logs / "server-full.log") as server:
            self.servers["full"] = {"start_s": server.start_s}
            for source in SOURCES:
                self.ingest(source, "full", server)
        self.servers["full"]["peak_mb"] = server.peak_mb
        self.dbt_build("full")
        for transformation in TRANSFORMATIONS:
            self.plain_sql(transformation)
        self.advance()
        with sandbox_server(self.sandbox, self.env(), self.logs / "server-incremental.log") as server:
            self.servers["incremental"] = {"start_s": server.start_s}
            for source in SOURCES:
                self.ingest(source, "incremental", server)
            self.dbt_build("incremental")
            self.sync(server)
        self.servers["incremental"]["peak_mb"] = server.peak_mb
        return self.report(started, load_start)

    def report(self, started: datetime, load_start: tuple[float, float, float]) -> dict[str, Any]:
        return {
            "report_version": REPORT_VERSION,
            "scale": {
                "name": self.scale,
                "accounts": self.spec.accounts,
                "events": self.spec.events,
                "history_days": self.spec.history_days,
                "seed": self.config.seed,
                "today": self.config.today.isoformat(),
                "events_format": self.config.events_format,
                "advance_days": ADVANCE_DAYS,
            },
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "machine": machine_facts(load_start),
            "stages": [s.as_dict() for s in self.stages],
            "dbt": {mode: {k: v for k, v in run.items() if k != "nodes"} for mode, run in self.dbt_runs.items()},
            "incremental_vs_full": self.incremental_vs_full(),
            "plain_sql": self.plain,
            "sandbox_server": self.servers,
            "disk": {
                "sandbox_bytes": _folder_bytes(self.sandbox),
                "warehouse_bytes": _folder_bytes(self.warehouse),
                "work_bytes": _folder_bytes(self.root),
            },
            "work_dir": str(self.root) if self.config.keep else None,
        }

    def incremental_vs_full(self) -> dict[str, Any]:
        def stage(step: str, mode: str, source: str | None = None) -> Stage | None:
            for s in self.stages:
                if s.step == step and s.mode == mode and s.details.get("source") == source and s.status != "skipped":
                    return s
            return None

        def ratio(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        out: dict[str, Any] = {"ingest": {}}
        for source in SOURCES:
            full, incr = stage("ingest", "full", source), stage("ingest", "incremental", source)
            if full and incr:
                out["ingest"][source] = {
                    "full_s": full.wall_s,
                    "incremental_s": incr.wall_s,
                    "time_ratio": ratio(incr.wall_s, full.wall_s),
                    "full_rows": full.rows,
                    "incremental_rows": incr.rows,
                    "rows_ratio": ratio(incr.rows, full.rows),
                }
        ingests = [s for s in self.stages if s.step == "ingest"]
        raw_after = sum(s.details.get("warehouse_rows", 0) for s in ingests if s.mode == "incremental")
        new_rows = sum(s.details.get("new_rows", 0) for s in ingests if s.mode == "incremental")
        out["new_raw_rows"] = new_rows
        out["raw_rows_after"] = raw_after
        out["new_data_share"] = ratio(new_rows, raw_after)
        full, incr = stage("dbt", "full"), stage("dbt", "incremental")
        if full and incr:
            fr, ir = self.dbt_runs.get("full", {}), self.dbt_runs.get("incremental", {})
            out["dbt"] = {
                "full_s": full.wall_s,
                "incremental_s": incr.wall_s,
                "time_ratio": ratio(incr.wall_s, full.wall_s),
                "full_elapsed_s": fr.get("dbt_elapsed_s"),
                "incremental_elapsed_s": ir.get("dbt_elapsed_s"),
                "elapsed_ratio": ratio(ir.get("dbt_elapsed_s"), fr.get("dbt_elapsed_s")),
                "full_rows": full.rows,
                "incremental_rows": incr.rows,
                "rows_ratio": ratio(incr.rows, full.rows),
            }
            full_nodes = {n["unique_id"]: n for n in fr.get("nodes", [])}
            models = {}
            for node in ir.get("nodes", []):
                before = full_nodes.get(node["unique_id"])
                if node["resource_type"] != "model" or not before or node["materialized"] == "view":
                    continue
                models[node["name"]] = {
                    "materialized": node["materialized"],
                    "full_s": before["seconds"],
                    "incremental_s": node["seconds"],
                    "time_ratio": ratio(node["seconds"], before["seconds"]),
                    "full_rows": before.get("rows"),
                    "incremental_rows": node.get("rows"),
                }
            out["dbt_models"] = models
        return out


# ------------------------------------------------------------------------------------------------ machine facts
def machine_facts(load_start: tuple[float, float, float]) -> dict[str, Any]:
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit or None,
        "load_avg_start": list(load_start),
        "load_avg_end": list(os.getloadavg()),
    }


# ------------------------------------------------------------------------------------------------ entry point
def run_bench(config: BenchConfig, progress: Progress | None = None) -> BenchRun:
    """Benchmark every scale in `config.scales`; one JSON report per scale in `config.out`."""
    from sandbox.manifest import resolve_scale

    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    for scale in config.scales:
        resolve_scale(scale, events=config.events)  # unknown scales fail before anything runs
    if config.events_format not in ("parquet", "jsonl"):
        raise ValueError(f"events format must be parquet or jsonl, not {config.events_format!r}")
    created = config.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="csops-bench-")) if created else Path(config.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    config.out.mkdir(parents=True, exist_ok=True)
    reports, files = [], []
    try:
        for scale in config.scales:
            root = work / scale
            shutil.rmtree(root, ignore_errors=True)
            spec = resolve_scale(scale, events=config.events)
            need, free = spec.events * BYTES_PER_EVENT, shutil.disk_usage(work).free
            if need > free:
                progress(
                    f"[bench {scale}] SKIPPED: needs about {need / 2**30:.1f} GiB in {work}, "
                    f"{free / 2**30:.1f} GiB free (use --work-dir on a bigger disk)"
                )
                continue
            root.mkdir(parents=True)
            report = ScaleBench(config, scale, root, progress).run()
            stamp = datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
            path = config.out / f"{scale}-{stamp}.json"
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
            reports.append(report)
            files.append(path)
            progress(f"[bench {scale}] report written to {path}")
            if not config.keep and any(s["status"] in ("failed", "mismatch") for s in report["stages"]):
                logs = config.out / f"{scale}-{stamp}-logs"
                shutil.copytree(root / "logs", logs, dirs_exist_ok=True)
                progress(f"[bench {scale}] a stage failed: its logs are kept in {logs}")
            if not config.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not config.keep and created:
            shutil.rmtree(work, ignore_errors=True)
    return BenchRun(reports, files)


# ------------------------------------------------------------------------------------------------ the printed report
def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_lines(reports: list[dict[str, Any]]) -> list[str]:
    header = f"{'stage':<38} {'scale':<7} {'wall s':>8} {'rows':>11} {'rows/s':>10} {'peak MB':>8} {'cpu s':>7}"
    lines = [header, "-" * len(header)]
    for report in reports:
        for s in report["stages"]:
            flag = "" if s["status"] == "ok" else f"  {s['status'].upper()}"
            if s["status"] == "skipped":
                lines.append(f"{s['name']:<38} {report['scale']['name']:<7} {'skipped: ' + (s['error'] or '')}")
                continue
            lines.append(
                f"{s['name']:<38} {report['scale']['name']:<7} {s['wall_s']:>8.1f} {_num(s['rows']):>11} "
                f"{_num(s['rows_per_s']):>10} {_num(s['peak_mb']):>8} {s['cpu_s']:>7.1f}{flag}"
            )
    return lines


def summary_lines(report: dict[str, Any]) -> list[str]:
    scale = report["scale"]
    machine = report["machine"]
    lines = [
        "",
        f"== {scale['name']}: {scale['accounts']:,} accounts, ~{scale['events']:,} events ({scale['events_format']}), "
        f"seed {scale['seed']}, today {scale['today']}; {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"load {machine['load_avg_start'][0]:.1f} -> {machine['load_avg_end'][0]:.1f}",
    ]
    for mode, run in report["dbt"].items():
        wall = next((s["wall_s"] for s in report["stages"] if s["step"] == "dbt" and s["mode"] == mode), None)
        slow = ", ".join(f"{m['model']} {m['seconds']:.1f}s" for m in run["slowest_models"])
        lines.append(
            f"dbt {mode}: {wall or 0:.1f}s wall, {run['dbt_elapsed_s'] or 0:.1f}s executing "
            f"(models {run['models_s']:.1f}s, tests {run['tests_s']:.1f}s summed over 2 threads); slowest: {slow}"
        )
    inc = report["incremental_vs_full"]
    if inc.get("ingest"):
        parts = [f"{src} {v['time_ratio']:.2f}" for src, v in inc["ingest"].items() if v["time_ratio"] is not None]
        lines.append("incremental / full wall time, ingest: " + ", ".join(parts))
    if inc.get("dbt"):
        d = inc["dbt"]
        lines.append(
            f"incremental / full, dbt build: wall {_num(d['time_ratio'], 2)}, executing {_num(d['elapsed_ratio'], 2)}, "
            f"rows {_num(d['rows_ratio'], 3)}; new raw rows {inc['new_raw_rows']:,} of {inc['raw_rows_after']:,} "
            f"({_num((inc['new_data_share'] or 0) * 100, 2)}%)"
        )
        incremental = {m: v for m, v in inc.get("dbt_models", {}).items() if v["materialized"] == "incremental"}
        if incremental:
            lines.append(
                "  incremental models (incr s / full s): "
                + ", ".join(f"{m} {v['incremental_s']:.2f}/{v['full_s']:.2f}" for m, v in sorted(incremental.items()))
            )
    for entry in report["plain_sql"]:
        check = entry.get("check", {})
        verdict = "same numbers" if check.get("match") else "MISMATCH " + json.dumps(check, default=str)
        lines.append(
            f"dbt vs plain DuckDB SQL, {entry['title']}: dbt {_num(entry.get('dbt_s'), 2)}s "
            f"({' + '.join(entry['dbt_models'])}) / plain {_num(entry.get('plain_s'), 2)}s = "
            f"{_num(entry.get('ratio'), 1)}x; {verdict}"
        )
    server = report["sandbox_server"]
    if server.get("full"):
        full = server["full"]
        lines.append(f"sandbox server: started in {full['start_s']:.1f}s, peak {_num(full.get('peak_mb'))} MB")
    lines.append(
        f"disk: sandbox {report['disk']['sandbox_bytes'] / 2**20:,.0f} MB, "
        f"warehouse {report['disk']['warehouse_bytes'] / 2**20:,.0f} MB, "
        f"whole work folder {report['disk']['work_bytes'] / 2**20:,.0f} MB"
    )
    return lines


def report_lines(run: BenchRun) -> list[str]:
    lines = table_lines(run.reports)
    for report in run.reports:
        lines += summary_lines(report)
    lines += ["", *(f"report: {path}" for path in run.files)]
    return lines


if __name__ == "__main__":  # python -m csops.bench child STEP PARAMS RESULT (the harness's child processes)
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        raise SystemExit(child_main(sys.argv[2:]))
    raise SystemExit("usage: csops bench --help (this module's command line is for the harness's child processes)")
