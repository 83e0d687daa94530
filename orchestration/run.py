"""Run the whole graph once, in process, outside the UI (the CLI, the demo, tests and benchmarks use this).

In-process execution avoids a subprocess per step, which dominates small runs; the Dagster UI and the nightly
schedule use the instance's normal executor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetCheckSeverity, AssetKey, AssetSelection, DagsterInstance, InitLoggerContext, logger

from orchestration.failures import explain
from orchestration.run_guard import own_run_tags, wait_for_warehouse


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    seconds: float
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # severity ERROR: blocking checks stop what is downstream
    warned_checks: list[str] = field(default_factory=list)  # severity WARN: shown, nothing stopped
    step_seconds: dict[str, float] = field(default_factory=dict)
    # What each check that ran reported ("<asset>:<check>" -> its metadata's values), passed or not.
    check_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class StepTally:
    """What one step did, from its events: assets materialized, rows, checks passed and failed."""

    started: float = field(default_factory=time.monotonic)
    assets: int = 0
    rows: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.assets:
            parts.append(f"{self.assets} asset{'s' if self.assets != 1 else ''}")
        if self.rows:
            parts.append(f"{self.rows:,} rows")
        if self.checks_passed or self.checks_failed or self.checks_warned:
            total = self.checks_passed + len(self.checks_failed) + len(self.checks_warned)
            parts.append(f"{self.checks_passed}/{total} checks passed")
            if self.checks_warned:
                parts.append(f"{len(self.checks_warned)} warned")
        return ", ".join(parts)


ROW_KEYS = ("dagster/row_count", "rows_loaded")
UNGATED = re.compile(r"emitted no result in step '([^']+)'.*will proceed without gating")


class StepProgress(logging.Handler):
    """One line per step (`say`), with what it did: Dagster's full event log goes elsewhere (the log file)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.DEBUG)
        self.say = say
        self.steps: dict[str, StepTally] = {}
        self.not_run: set[str] = set()  # steps that failed or were skipped

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        kind = getattr(event, "event_type_value", None)
        step = getattr(event, "step_key", None)
        if kind is None or step is None:
            return
        tally = self.steps.setdefault(step, StepTally())
        if kind == "STEP_START":
            self.steps[step] = StepTally()
            self.say(f"  ... {step}")
        elif kind == "ASSET_MATERIALIZATION":
            tally.assets += 1
            metadata = event.event_specific_data.materialization.metadata
            tally.rows += next((int(metadata[k].value) for k in ROW_KEYS if k in metadata), 0)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                tally.checks_passed += 1
            elif evaluation.severity == AssetCheckSeverity.WARN:
                tally.checks_warned.append(evaluation.check_name)
            else:
                tally.checks_failed.append(evaluation.check_name)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            seconds = time.monotonic() - tally.started
            mark = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}[kind]
            if kind != "STEP_SUCCESS":
                self.not_run.add(step)
            detail = tally.summary()
            timing = f"{seconds:.1f}s" if kind != "STEP_SKIPPED" else "an upstream step failed"
            self.say(f"  {mark:>3} {step}" + (f": {detail}" if detail else "") + f" ({timing})")

    def drops(self, record: logging.LogRecord) -> bool:
        """Dagster warns that a downstream step "will proceed without gating" on a blocking check that emitted no
        result, also when that check's step failed or was skipped, so the downstream step does not run at all."""
        found = UNGATED.search(record.getMessage())
        return bool(found and found.group(1) in self.not_run)


@contextmanager
def step_progress(say: Callable[[str], None]) -> Iterator[tuple[Any, StepProgress]]:
    """A Dagster logger definition reporting one line per step through `say`, for the duration of a run."""
    handler = StepProgress(say)
    gating = logging.getLogger("dagster._core.execution.plan.active")
    gate_filter = logging.Filter()
    gate_filter.filter = lambda record: not handler.drops(record)  # type: ignore[method-assign]
    gating.addFilter(gate_filter)

    @logger(description="One line per step (the CLI's progress).")
    def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
        progress = logging.getLogger(f"csops.steps.{id(handler)}")
        progress.setLevel(logging.DEBUG)
        progress.propagate = False
        progress.handlers = [handler]
        return progress

    try:
        yield progress_logger, handler
    finally:
        gating.removeFilter(gate_filter)


@logger(description="Dagster's event log as plain text on stderr (the CLI sends stderr to the run's log file).")
def plain_log(init_context: InitLoggerContext) -> logging.Logger:
    details = logging.getLogger("csops.run_log")
    details.setLevel(logging.DEBUG)
    details.propagate = False
    if not details.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        details.addHandler(handler)
    return details


def sync_instance_config(home: Path, source: Path) -> None:
    """Keep DAGSTER_HOME's dagster.yaml the repository's: copied when missing, and again whenever the repository's
    file changed, as long as the home's copy is still one csops wrote (a hand-edited or deployment-provided
    dagster.yaml in the home is left alone). The hash of the last copy is kept beside it."""
    config, stamp = home / "dagster.yaml", home / ".csops-dagster-yaml.sha256"
    wanted = source.read_bytes()
    if config.exists():
        current = config.read_bytes()
        if stamp.exists():
            ours = stamp.read_text().strip() == hashlib.sha256(current).hexdigest()
        else:  # copied by a csops that kept no hash: still the repository's file if it opens with its header
            header = wanted.split(b"\n", 1)[0]
            ours = header.startswith(b"#") and current.split(b"\n", 1)[0] == header
        if current == wanted or not ours:
            return
    config.write_bytes(wanted)
    stamp.write_text(hashlib.sha256(wanted).hexdigest() + "\n")


def instance_for(home: Path | None = None) -> DagsterInstance:
    """The persistent instance under DAGSTER_HOME (or `home`), so runs show up in the UI afterwards."""
    home = home or Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    sync_instance_config(home, Path(__file__).resolve().parents[1] / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return DagsterInstance.get()


def run_graph(
    select: Sequence[str] | None = None,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = False,
    quiet: bool = False,
    progress: Callable[[str], None] | None = None,
    dbt_tests: bool = True,
    exclude: Sequence[str] = (),
) -> RunOutcome:
    """Materialize everything (or the assets matching `select`, e.g. ["marts/*"]) in one in-process run.
    `quiet` replaces Dagster's console log by one line per step (to `progress`, default stderr) and Dagster's event
    log as plain text on stderr. `dbt_tests=False` leaves dbt's tests (asset checks) out of the run, the other checks
    in: on Spark each test is a Spark job, minutes in all on one machine. The definitions are loaded for each call, so
    the warehouse resource binds the environment of this run. `exclude` leaves assets out by key (the benchmark's
    nightly leaves the CRM push out: it measures the push apart, as a dry run)."""
    from orchestration.definitions import defs as load_definitions

    defs = load_definitions()
    instance = instance or instance_for()
    job = defs.resolve_job_def("nightly_refresh")
    graph = defs.resolve_asset_graph()
    if select or not dbt_tests or exclude:
        selection = AssetSelection.all()
        if select:
            selection = AssetSelection.assets(*[AssetKey.from_user_string(s) for s in select if not s.endswith("*")])
            for pattern in [s for s in select if s.endswith("*")]:
                selection = selection | AssetSelection.key_prefixes(pattern.rstrip("*").rstrip("/").split("/"))
        if exclude:
            selection = selection - AssetSelection.assets(*[AssetKey.from_user_string(s) for s in exclude])
        assets = set(selection.resolve(graph))
        checks = set(selection.resolve_checks(graph))
        if not dbt_tests:
            from orchestration.defs.transformation import dbt_models

            checks -= set(dbt_models.check_keys)  # dagster-dbt's translation of the project's data tests
        job = job.get_subset(asset_selection=assets, asset_check_selection=checks)
    started = time.monotonic()
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    # A run killed earlier must not hold the warehouse forever; a live one is queued behind, with a message.
    wait_for_warehouse(instance, say=lambda line: say(f"  {line}"))
    with ExitStack() as stack:
        run_config = None
        if quiet:
            progress_logger, _ = stack.enter_context(step_progress(say))
            job = job.with_logger_defs({"progress": progress_logger, "log": plain_log})
            run_config = {"loggers": {"progress": {}, "log": {}}}
        result = job.execute_in_process(
            instance=instance, raise_on_error=raise_on_error, run_config=run_config, tags=own_run_tags()
        )
    outcome = RunOutcome(success=result.success, run_id=result.run_id, seconds=time.monotonic() - started)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            outcome.materialized.append(event.asset_key.to_user_string())
        elif event.event_type_value == "STEP_FAILURE":
            explained = explain(event.step_key, event.event_specific_data.error, os.environ)
            outcome.failed_steps.append(f"{event.step_key}: {explained}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            outcome.check_metadata[name] = {label: value.value for label, value in evaluation.metadata.items()}
            if not evaluation.passed:
                warned = evaluation.severity == AssetCheckSeverity.WARN
                (outcome.warned_checks if warned else outcome.failed_checks).append(name)
    stats = instance.get_run_step_stats(result.run_id)
    outcome.step_seconds = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in stats}
    return outcome
