"""What one `csops bench` run is asked to do, and the constants every stage shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_TODAY = date(2026, 11, 1)  # a fixed simulated today: the same world on every run, so runs compare
ADVANCE_DAYS = 1
NIGHTLY_RUN = "nightly run (Dagster, in process)"  # the stage that runs a night as the product does: one Dagster run
CRM_PUSH = "activation/crm_sync"  # the asset that run leaves out: the sync dry run stage measures the push
REPORT_VERSION = 1
# Disk a scale needs per configured event, by the format of the event files, with room: sandbox files, dlt's
# packages, warehouse and dbt's tables took about 170 bytes per event at the small scale and 69 at large with Parquet
# event files (6.8 GB for 99M events, bench/results/large-20261207T085721Z.json); JSONL files add about 250. At 500
# for both, the large company with twice the history (200M events) asked for 93 GiB and was skipped.
BYTES_PER_EVENT = {"parquet": 200, "jsonl": 500}
QUIET = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
}

Progress = Callable[[str], None]


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
    # A stage whose process tree passes this much resident memory is killed and reported failed (the machine is
    # shared); None = no cap.
    memory_cap_mb: float | None = 10_240
    # The engine (CSOPS_TARGET): duckdb, or spark (dlt writes a Parquet lake, dbt builds on a local Spark session;
    # the plain-DuckDB reference stages are left out, they compare against DuckDB's tables).
    target: str = "duckdb"
    # Days until each scale's company is complete (sandbox --history-days); None = the scale's 730.
    history_days: int | None = None
    # Measured nights, one after the other (each: advance a day, one Dagster run); the report judges their median,
    # since on a shared host one night's wall time moves by up to 40% between runs of the same code.
    nights: int = 1

    def __post_init__(self) -> None:
        if self.nights < 1:
            raise ValueError(f"nights: {self.nights}: at least one night is measured")


def default_today(history_days: int | None) -> date:
    """The simulated today: the fixed reference, or the day a company with a longer history is complete."""
    if history_days is None:
        return DEFAULT_TODAY
    from sandbox.manifest import LAUNCH_DATE

    return LAUNCH_DATE + timedelta(days=history_days)
