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


def ingest(source: str) -> dict[str, Any]:
    from ingestion.pipeline import run_source

    report = run_source(source)
    return {
        "rows": report.loaded,
        "tables": report.rows,
        "quarantined": report.quarantined,
        "load_id": report.load_id,
        "seconds": report.seconds,
    }


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


STEPS: dict[str, Callable[..., dict[str, Any]]] = {"ingest": ingest, "plain_sql": plain_sql, "sync": sync}


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
