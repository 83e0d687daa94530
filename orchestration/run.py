"""Run the whole graph once, in process, outside the UI (the CLI, the demo, tests and benchmarks use this).

In-process execution avoids a subprocess per step, which dominates small runs; the Dagster UI and the nightly
schedule use the instance's normal executor.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, AssetSelection, DagsterInstance, InitLoggerContext, logger

from orchestration.run_guard import own_run_tags, wait_for_warehouse


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    seconds: float
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)


class StepProgress(logging.Handler):
    """One line per step to stderr: what long work is doing, without Dagster's full debug log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        kind = getattr(event, "event_type_value", None)
        step = getattr(event, "step_key", None)
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            print(f"  ... {step}", file=sys.stderr, flush=True)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            seconds = time.monotonic() - self.started.get(step, time.monotonic())
            mark = "ok" if kind == "STEP_SUCCESS" else "FAILED"
            print(f"  {mark:>3} {step} ({seconds:.1f}s)", file=sys.stderr, flush=True)


@logger(description="One line per step (the CLI's progress).")
def step_progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    progress = logging.getLogger("csops.steps")
    progress.setLevel(logging.DEBUG)
    progress.propagate = False
    if not progress.handlers:
        progress.addHandler(StepProgress())
    return progress


def instance_for(home: Path | None = None) -> DagsterInstance:
    """The persistent instance under DAGSTER_HOME (or `home`), so runs show up in the UI afterwards."""
    home = home or Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        source = Path(__file__).resolve().parents[1] / "dagster.yaml"
        config.write_text(source.read_text())
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return DagsterInstance.get()


def run_graph(
    select: Sequence[str] | None = None,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = False,
    quiet: bool = False,
) -> RunOutcome:
    """Materialize everything (or the assets matching `select`, e.g. ["marts/*"]) in one in-process run.
    `quiet` replaces Dagster's console log by one line per step. The definitions are loaded for each call, so the
    warehouse resource binds the environment of this run."""
    from orchestration.definitions import defs as load_definitions

    defs = load_definitions()
    instance = instance or instance_for()
    job = defs.resolve_job_def("nightly_refresh")
    if select:
        selection = AssetSelection.assets(*[AssetKey.from_user_string(s) for s in select if not s.endswith("*")])
        for pattern in [s for s in select if s.endswith("*")]:
            selection = selection | AssetSelection.key_prefixes(pattern.rstrip("*").rstrip("/").split("/"))
        job = job.get_subset(asset_selection=set(selection.resolve(defs.resolve_asset_graph())))
    started = time.monotonic()
    # A run killed earlier must not hold the warehouse forever; a live one is queued behind, with a message.
    wait_for_warehouse(instance, say=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    run_config = None
    if quiet:
        job = job.with_logger_defs({"progress": step_progress_logger})
        run_config = {"loggers": {"progress": {}}}
    result = job.execute_in_process(
        instance=instance, raise_on_error=raise_on_error, run_config=run_config, tags=own_run_tags()
    )
    outcome = RunOutcome(success=result.success, run_id=result.run_id, seconds=time.monotonic() - started)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            outcome.materialized.append(event.asset_key.to_user_string())
        elif event.event_type_value == "STEP_FAILURE":
            outcome.failed_steps.append(f"{event.step_key}: {event.event_specific_data.error.message.strip()}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                outcome.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    stats = instance.get_run_step_stats(result.run_id)
    outcome.step_seconds = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in stats}
    return outcome
