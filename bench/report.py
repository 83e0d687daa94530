"""A benchmark's report: the JSON document of one scale (with the machine it ran on and incremental against full),
and the table and summary `csops bench` prints from it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.config import ADVANCE_DAYS, NIGHTLY_RUN, REPO_ROOT, REPORT_VERSION
from bench.warehouse import folder_bytes
from ingestion.registry import SOURCE_NAMES

if TYPE_CHECKING:
    from bench.harness import BenchRun
    from bench.stages import ScaleBench, Stage

VERSIONED_PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dlt", "dagster", "pyarrow", "pandas")


def scale_report(bench: ScaleBench, started: datetime, load_start: tuple[float, float, float]) -> dict[str, Any]:
    """The JSON report of one scale (REPORT_VERSION): what ran, on what machine, and the comparisons."""
    return {
        "report_version": REPORT_VERSION,
        "scale": {
            "name": bench.scale,
            "accounts": bench.spec.accounts,
            "events": bench.spec.events,
            "history_days": bench.spec.history_days,
            "seed": bench.config.seed,
            "today": bench.config.today.isoformat(),
            "events_format": bench.config.events_format,
            "advance_days": ADVANCE_DAYS,
            "measured_nights": bench.config.nights,
            "target": bench.config.target,
        },
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine_facts(load_start),
        "stages": [s.as_dict() for s in bench.stages],
        "dbt": {mode: {k: v for k, v in run.items() if k != "nodes"} for mode, run in bench.dbt_runs.items()},
        "incremental_vs_full": incremental_vs_full(bench.stages, bench.dbt_runs),
        "plain_sql": bench.plain,
        "sandbox_server": bench.servers,
        "disk": {
            "sandbox_bytes": folder_bytes(bench.sandbox),
            "warehouse_bytes": folder_bytes(bench.warehouse),
            "lake_bytes": folder_bytes(bench.lake),
            "spark_bytes": folder_bytes(bench.spark_dir),
            "work_bytes": folder_bytes(bench.root),
        },
        "work_dir": str(bench.root) if bench.config.keep else None,
    }


def incremental_vs_full(stages: list[Stage], dbt_runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Incremental against full, per source, for the dbt build and per incremental model: times, rows, ratios."""

    def stage(step: str, mode: str, source: str | None = None) -> Stage | None:
        for s in stages:
            if s.step == step and s.mode == mode and s.details.get("source") == source:
                return s
        return None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    out: dict[str, Any] = {"ingest": {}}
    for source in SOURCE_NAMES:
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
    ingests = [s for s in stages if s.step == "ingest"]
    raw_after = sum(s.details.get("warehouse_rows", 0) for s in ingests if s.mode == "incremental")
    new_rows = sum(s.details.get("new_rows", 0) for s in ingests if s.mode == "incremental")
    out["new_raw_rows"] = new_rows
    out["raw_rows_after"] = raw_after
    out["new_data_share"] = ratio(new_rows, raw_after)
    full, incr = stage("dbt", "full"), stage("dbt", "incremental")
    if full and incr:
        fr, ir = dbt_runs.get("full", {}), dbt_runs.get("incremental", {})
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


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_lines(reports: list[dict[str, Any]]) -> list[str]:
    header = f"{'stage':<38} {'scale':<7} {'wall s':>8} {'rows':>11} {'rows/s':>10} {'peak MB':>8} {'cpu s':>7}"
    lines = [header, "-" * len(header)]
    for report in reports:
        for s in report["stages"]:
            flag = "" if s["status"] == "ok" else f"  {s['status'].upper()}"
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
        f"== {scale['name']} on {scale.get('target', 'duckdb')}: {scale['accounts']:,} accounts, "
        f"~{scale['events']:,} events ({scale['events_format']}), "
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
    lines += load_lines(report["stages"])
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


def _stage(stages: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((s for s in stages if s["name"] == name and s["status"] == "ok"), None)


def load_lines(stages: list[dict[str, Any]]) -> list[str]:
    """The loads against their floors: usage against DuckDB's own reader, rate-limited sources against the request
    floor of their vendor's documented limits, and the nightly run with rate-limit waits apart."""
    lines = []
    usage, plain = _stage(stages, "ingest full: usage"), _stage(stages, "plain load: usage events (DuckDB)")
    if usage and plain:
        lines.append(
            f"usage full load: {usage['wall_s']:.1f}s, DuckDB read -> table {plain['wall_s']:.1f}s on the same files: "
            f"speed {plain['wall_s'] / usage['wall_s']:.2f}x DuckDB's (goal >= 0.7); peak {_num(usage['peak_mb'])} "
            f"MB vs {_num(plain['peak_mb'])} MB; rows copied {usage['details'].get('after_load', {}).get('copied')} "
            "(copies of an event included: dbt removes them)"
        )
        steps = usage["details"].get("step_seconds") or {}
        if steps:
            lines.append("  of which " + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in steps.items()))
    for s in stages:
        floor = s["details"].get("floor")
        if s["status"] == "ok" and floor:
            lines.append(
                f"{s['name']}: {s['wall_s']:.1f}s, {s['details'].get('requests', 0):,} requests; floor "
                f"{floor['requests']:,} requests at {floor['rate_per_s']:g}/s = {floor['seconds']:.1f}s -> "
                f"{_num(floor['wall_vs_floor'], 2)}x the floor (goal <= 1.2)"
            )
    nightly = [s for s in stages if s["mode"] == "incremental" and s["step"] != "advance"]
    if nightly:
        wall = sum(s["wall_s"] for s in nightly)
        waits = sum(s["details"].get("throttle_wait_s", 0.0) for s in nightly)
        # The vendors' answers: here the sandbox server's work, on the same two cores, stands in for the vendors'.
        responses = sum(s["details"].get("response_wait_s", 0.0) for s in nightly)
        # CPU seconds of the same work move with the machine's speed that hour (other tenants of the host): they
        # tell a slower machine from slower code when two runs are compared.
        cpu = sum(s["cpu_s"] or 0.0 for s in nightly)
        lines.append(
            f"nightly in stages (+{ADVANCE_DAYS} day: ingest, checks, dbt build, publish, sync dry run, each in a "
            f"process of its own): {wall:.1f}s wall, of which rate-limit waits {waits:.1f}s; ours {wall - waits:.1f}s, "
            f"of which waiting for the vendors' (sandbox's) answers {responses:.1f}s; {cpu:.1f} CPU-s; peak "
            f"{_num(max((s['peak_mb'] or 0) for s in nightly))} MB"
        )
    runs = [s for s in stages if s["name"] == NIGHTLY_RUN and s["status"] == "ok"]
    sync = _stage(stages, "CRM sync dry run")
    if runs and sync:
        nights = [night_figures(run, sync) for run in runs]
        # The median night; of an even count, the upper of the two middle ones.
        median = sorted(nights, key=lambda night: night["ours"])[len(nights) // 2]
        details = median["run"]["details"]
        steps = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in (details.get("step_seconds") or {}).items())
        which = f"the median of {len(nights)} nights" if len(nights) > 1 else "one night"
        lines.append(
            f"nightly as the product runs it (+{ADVANCE_DAYS} day: one Dagster run in one process, "
            f"{median['run']['wall_s']:.1f}s, + the sync dry run {sync['wall_s']:.1f}s), {which}: "
            f"{median['wall']:.1f}s wall, of which rate-limit waits {median['waits']:.1f}s; ours {median['ours']:.1f}s "
            f"(goal <= 60), of which waiting for the vendors' (sandbox's) answers "
            f"{details.get('response_wait_s', 0.0):.1f}s; {median['cpu']:.1f} CPU-s; peak "
            f"{_num(max(median['run']['peak_mb'] or 0, sync['peak_mb'] or 0))} MB"
        )
        if steps:
            lines.append(f"  steps: {steps}")
        if len(nights) > 1:
            lines.append(
                "  every night, ours / CPU-s: "
                + ", ".join(f"{night['ours']:.1f}s / {night['cpu']:.1f}" for night in nights)
            )
    return lines


def night_figures(run: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    """One measured night as the product runs it: its Dagster run plus the sync dry run (measured once, after the
    last night), with the rate-limit waits apart."""
    wall = run["wall_s"] + sync["wall_s"]
    waits = run["details"].get("throttle_wait_s", 0.0)
    return {
        "run": run,
        "wall": wall,
        "waits": waits,
        "ours": wall - waits,
        "cpu": (run["cpu_s"] or 0) + (sync["cpu_s"] or 0),
    }


def report_lines(run: BenchRun) -> list[str]:
    lines = table_lines(run.reports)
    for report in run.reports:
        lines += summary_lines(report)
    lines += ["", *(f"report: {path}" for path in run.files)]
    return lines


def portable(value: Any, work: Path) -> Any:
    """`value` (a report, recursively: keys and strings) without this machine's paths, so a report can be committed:
    the bench's work folder becomes `<work>`, the repository `.`, the Python installation `<python>`."""
    names = {str(work.resolve()): "<work>", str(Path(REPO_ROOT).resolve()): "."}
    names |= {sys.base_prefix: "<python>", sys.prefix: "<python>"}
    prefixes = sorted(names.items(), key=lambda item: -len(item[0]))  # longest first: a venv inside the repo

    def clean(text: str) -> str:
        for prefix, name in prefixes:
            text = text.replace(prefix, name)
        return text

    if isinstance(value, dict):
        return {clean(str(k)): portable(v, work) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, work) for v in value]
    return clean(value) if isinstance(value, str) else value
