"""`python -m bench.child STEP PARAMS_JSON RESULT_PATH`: one stage's work in the process the harness measures, its
result written as JSON for the harness to read back."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any


def request_totals() -> dict[str, Any]:
    """The vendor requests this process sent, summed over its HTTP clients (a source's clients may be named for the
    vendor, surveys: typeform): requests, client-side rate-limit waits, waits for the answers."""
    from ingestion.http import REQUEST_STATS

    return {
        "requests": sum(stats.requests for stats in REQUEST_STATS.values()),
        "throttle_wait_s": sum(stats.throttle_wait_s for stats in REQUEST_STATS.values()),
        "response_wait_s": sum(stats.response_wait_s for stats in REQUEST_STATS.values()),
    }


def ingest(source: str) -> dict[str, Any]:
    from ingestion.http import REQUEST_STATS
    from ingestion.pipeline import run_source

    report = run_source(source)
    by_limit = {f"{name} {rule}".strip(): n for name, st in REQUEST_STATS.items() for rule, n in st.by_path.items()}
    return {
        "rows": report.loaded,
        "tables": report.rows,
        "quarantined": report.quarantined,
        "load_id": report.load_id,
        "seconds": report.seconds,
        "step_seconds": report.step_seconds,
        "after_load": report.after_load,
        "pending_loaded": report.pending_loaded,
        **request_totals(),
        "requests_by_limit": by_limit,
    }


def plain_load(events: str, scratch: str, events_format: str) -> dict[str, Any]:
    """The floor of the usage load: DuckDB's own reader into a table, the same files, the same limits."""
    import duckdb

    from ingestion.pipeline import duckdb_limits

    reader = (
        f"read_parquet('{events}/**/*.parquet')"
        if events_format == "parquet"
        else f"read_ndjson_auto('{events}/**/*.jsonl')"
    )
    started = time.perf_counter()
    with duckdb.connect(scratch, config=duckdb_limits(Path(scratch))) as con:
        con.execute(f"create table events as select * from {reader}")
        rows = con.execute("select count(*) from events").fetchone()[0]
    return {"rows": rows, "query_s": time.perf_counter() - started}


def plain_sql(name: str, warehouse: str, scratch: str, as_of: str) -> dict[str, Any]:
    from bench.plain_sql import TRANSFORMATIONS, run_plain

    transformation = next(t for t in TRANSFORMATIONS if t.name == name)
    started = time.perf_counter()
    result = run_plain(transformation, Path(warehouse), Path(scratch), date.fromisoformat(as_of))
    return {**result, "query_s": time.perf_counter() - started}


def sync(warehouse: str) -> dict[str, Any]:
    from activation import run_sync

    report = run_sync(Path(warehouse), dry_run=True, force=False, log=print)
    for line in report.summary_lines():
        print(line)
    return {"rows": sum(report.plan.values()), "ok": report.ok, "status": report.status, **report.as_metadata()}


def warehouse_resource() -> Any:
    """The warehouse as the nightly graph's steps see it, from the environment the harness set (CSOPS_WAREHOUSE,
    CSOPS_TARGET, the DuckDB limits...): on the spark target its connections read the lake and Spark's marts."""
    from orchestration.resources import warehouse_from_env

    return warehouse_from_env(resolved=True)


def checks(warehouse: str) -> dict[str, Any]:
    """The blocking Great Expectations suites on every raw table, as the nightly graph runs them."""
    from ingestion.registry import SOURCE_NAMES
    from orchestration.raw_checks import VolumeRule, check_sources

    resource = warehouse_resource()
    selection = dict.fromkeys(SOURCE_NAMES)  # every table of every source, in one step as the nightly graph runs them
    results, _ = check_sources(selection, resource.connect, Path(warehouse).parent, VolumeRule.from_env())
    tables = sum(len(by_table) for by_table in results.values())
    failed = [
        f"{r.relation}: {'; '.join(r.failures)}"
        for by_table in results.values()
        for r in by_table.values()
        if not r.passed
    ]
    warned = [
        f"{r.relation}: {'; '.join(r.warnings)}"
        for by_table in results.values()
        for r in by_table.values()
        if r.warnings
    ]
    return {"rows": tables, "failed": failed, "warned": warned}


def publish(warehouse: str) -> dict[str, Any]:
    """The BI copy (serving.duckdb and Parquet), as the nightly graph publishes it."""
    from orchestration.serving import publish_duckdb

    path = Path(warehouse)
    source = warehouse_resource().marts_database()  # on spark, staged from Spark's tables as the nightly does
    published = publish_duckdb(source, path.with_name("serving.duckdb"), parquet_dir=path.with_name("marts_parquet"))
    return {
        "rows": sum(published.rows.values()),
        "marts": len(published.rows),
        "how": published.how,
        "parquet_months": published.parquet_months,
    }


def nightly_run(exclude: list[str]) -> dict[str, Any]:
    """The night as the product runs it: one Dagster run of the graph in this process (what `csops run` does, and the
    nightly job's in-process executor), every asset but `exclude`."""
    from orchestration.defs.checks import CHECK_NAME
    from orchestration.raw_checks import JUDGED_VOLUME_FACT
    from orchestration.run import run_graph

    outcome = run_graph(quiet=True, progress=print, exclude=exclude)
    raw_checks = {k: v for k, v in outcome.check_metadata.items() if k.endswith(f":{CHECK_NAME}")}
    return {
        "rows": len(outcome.materialized),
        "materialized": outcome.materialized,
        "success": outcome.success,
        "run_s": outcome.seconds,
        "step_seconds": outcome.step_seconds,
        "failed_steps": outcome.failed_steps,
        "failed_checks": outcome.failed_checks,
        "warned_checks": outcome.warned_checks,
        # Raw tables whose volume the GX check judged against earlier loads (it costs a validation each).
        "volume_judged": sorted(k for k, facts in raw_checks.items() if JUDGED_VOLUME_FACT in facts),
        "raw_tables_checked": len(raw_checks),
        **request_totals(),
    }


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "nightly_run": nightly_run,
    "checks": checks,
    "publish": publish,
    "ingest": ingest,
    "plain_load": plain_load,
    "plain_sql": plain_sql,
    "sync": sync,
}


def main(argv: list[str]) -> int:
    step, params, result_path = argv
    started = time.perf_counter()
    result = STEPS[step](**json.loads(params))
    result["work_s"] = time.perf_counter() - started
    Path(result_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: csops bench --help (this module's command line is for the harness's child processes)")
    raise SystemExit(main(sys.argv[1:]))
