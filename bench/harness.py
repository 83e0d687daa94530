"""`csops bench`: wall time, rows/s and peak memory of every stage of the pipeline at several sandbox scales, full and
incremental, and how dbt compares with the same transformations hand-written as plain DuckDB SQL.

Per scale (bench.stages), on a fresh sandbox and warehouse in a work folder, deleted afterwards unless kept; one JSON
report per scale (bench.report). Benchmarks only: nothing here asserts a time.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.config import BYTES_PER_EVENT, BenchConfig, Progress
from bench.report import portable
from bench.stages import ScaleBench


@dataclass
class BenchRun:
    reports: list[dict[str, Any]]
    files: list[Path]

    @property
    def ok(self) -> bool:
        return all(s["status"] == "ok" for r in self.reports for s in r["stages"])


def run_bench(config: BenchConfig, progress: Progress | None = None) -> BenchRun:
    """Benchmark every scale in `config.scales`; one JSON report per scale in `config.out`."""
    from sandbox.manifest import resolve_scale

    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    for scale in config.scales:
        resolve_scale(
            scale, events=config.events, history_days=config.history_days
        )  # unknown scales fail before anything runs
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
            spec = resolve_scale(scale, events=config.events, history_days=config.history_days)
            need, free = spec.events * BYTES_PER_EVENT[config.events_format], shutil.disk_usage(work).free
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
            path.write_text(json.dumps(portable(report, work), indent=2, default=str) + "\n")
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
