"""The `csops` command. Each command only parses options and calls into the package that does the work."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

DEFAULT_SANDBOX_DIR = Path("data/sandbox")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """csops: the data platform for Customer Success Operations (dlt + dbt + Dagster + CRM activation)."""
    from ingestion.env_file import load_env_file

    load_env_file(Path(".env"))  # the environment always wins over .env


# --------------------------------------------------------------------------------------------------- sandbox
def require_sandbox() -> None:
    """Stop with a clear message when the sandbox distribution (csops-sandbox, sandbox/ in the repository) is missing.

    The product's wheel does not contain it (`make install` installs it for the demo, tests and benchmarks), so
    csops imports it only inside the commands that need it, and those ask here first instead of failing with a
    traceback.
    """
    import importlib.util

    try:  # without the distribution, `sandbox` is missing or only the repository's folder (a namespace package)
        installed = importlib.util.find_spec("sandbox.generator") is not None
    except ModuleNotFoundError:
        installed = False
    if not installed:
        raise click.ClickException("the sandbox is not installed: run make install")


@main.group()
def sandbox() -> None:
    """The simulated company and its HubSpot-, Stripe- and Typeform-compatible local APIs."""
    require_sandbox()


def _progress(name: str, done: int, total: int) -> None:
    if sys.stderr.isatty() or done in (0, total):
        pct = 100 * done // max(total, 1)
        click.echo(f"\r  {name}: {pct:3d}%", nl=done >= total, err=True)


@sandbox.command("generate")
@click.option("--scale", default="tiny", show_default=True, help="tiny | small | medium | large")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The simulation's today, a cut-off: 2024-12-31 .. 2034-11-01 (the company launched 2024-11-01; "
    "default: the real date, UTC).",
)
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
@click.option("--events-format", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option("--accounts", type=int, default=None, help="Override the scale's account count.")
@click.option("--events", type=int, default=None, help="Override the scale's approximate event count.")
@click.option(
    "--history-days",
    type=int,
    default=None,
    help="Days from launch until the company has the scale's accounts (default 730), events in proportion: with "
    "--today that many days after launch, the same company with a longer history.",
)
def sandbox_generate(scale, seed, today, out, events_format, accounts, events, history_days) -> None:
    """Generate a deterministic simulated company (same seed, scale and today: identical files)."""
    from sandbox.generator.world import generate
    from sandbox.manifest import resolve_scale

    day = today.date() if today else datetime.now(UTC).date()
    started = datetime.now(UTC)
    try:
        spec = resolve_scale(scale, accounts=accounts, events=events, history_days=history_days)
        manifest = generate(out, seed, spec, day, events_format, progress=_progress)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    seconds = (datetime.now(UTC) - started).total_seconds()
    click.echo(
        f"sandbox generated in {out} ({spec.name}: {manifest.accounts} accounts, "
        f"~{manifest.events:,} events, {manifest.start_date} .. {manifest.today}) in {seconds:.1f}s"
    )


@sandbox.command("advance")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
@click.option("--days", type=int, required=True, help="How many days happen.")
def sandbox_advance(directory: Path, days: int) -> None:
    """Move the simulation's today forward: new events, subscription changes, tickets, surveys."""
    from sandbox.generator.world import advance

    try:
        manifest = advance(directory, days, progress=_progress)
    except (ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"sandbox today is now {manifest.today}")


@sandbox.command("inject")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
@click.option(
    "--fault",
    "kind",
    default=None,
    help="malformed_events | renamed_column | bad_survey_rows | duplicate_events (sandbox/README.md).",
)
@click.option("--revert", is_flag=True, help="Undo every injected file fault instead.")
def sandbox_inject(directory: Path, kind: str | None, revert: bool) -> None:
    """Corrupt the sandbox's event or survey files like a bad drop would; recorded in
    truth/injected_faults.json."""
    from sandbox.generator.faults import FaultError, inject
    from sandbox.generator.faults import revert as revert_faults

    if revert == (kind is not None):
        raise click.UsageError("give either --fault KIND or --revert")
    if revert:
        kinds = revert_faults(directory)
        click.echo(f"reverted: {', '.join(kinds) or 'nothing was injected'}")
        return
    try:
        record = inject(directory, kind)
    except (FaultError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"injected {kind} into {record['file']} (expect {record['expected_quarantined']} quarantined rows; "
        "details in truth/injected_faults.json)"
    )


@sandbox.command("serve")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
@click.option("--port", type=int, default=8765, show_default=True, help="0 picks a free port (printed).")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="Fault to inject, e.g. 'stripe:rate_limit:0.2', 'hubspot:server_error:5' (see sandbox/README.md).",
)
def sandbox_serve(directory: Path, port: int, faults: tuple[str, ...]) -> None:
    """Serve the sandbox on 127.0.0.1 under /hubspot, /stripe and /typeform until interrupted."""
    from sandbox.server.app import serve

    serve(directory, port=port, faults=list(faults))


# --------------------------------------------------------------------------------------------------- pipeline
def _sandbox_option(function):
    return click.option(
        "--sandbox",
        "sandbox_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Run against the sandbox in this folder (started on a free local port) instead of the real vendors.",
    )(function)


@contextmanager
def _environment(sandbox_dir: Path | None) -> Iterator[None]:
    """The real vendors (from the environment), or, only when asked, a sandbox served for the duration (no
    endpoint or key from .env or the shell reaches a source then: ingestion/env_file.py)."""
    if sandbox_dir is None:
        yield
        return
    require_sandbox()
    from ingestion.env_file import enter_sandbox
    from sandbox.connect import environment
    from sandbox.server.app import running_server

    with running_server(sandbox_dir) as base_url:
        previous = dict(os.environ)
        enter_sandbox(environment(sandbox_dir, base_url), str(sandbox_dir.resolve()), os.environ)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(previous)


@main.command()
@_sandbox_option
@click.option("--select", "select", multiple=True, help="Only these assets, e.g. 'marts/*' or 'dlt/hubspot/companies'.")
@click.option(
    "--full-refresh",
    "full_refresh",
    multiple=True,
    metavar="SOURCE",
    help="Re-read this source whole (its incremental cursors are forgotten, tables kept) to repair a bad load.",
)
def run(sandbox_dir: Path | None, select: tuple[str, ...], full_refresh: tuple[str, ...]) -> None:
    """Materialize the whole graph once (load, transform, check, publish, push to the CRM). One line per step
    here; the full log goes to data/logs/run-<UTC time>.log (CSOPS_LOG_DIR), named at the end."""
    from ingestion.errors import SourceConfigError
    from ingestion.pipeline import forget_cursors
    from ingestion.registry import source_spec

    for name in full_refresh:
        try:
            source_spec(name)
        except SourceConfigError as error:
            raise click.BadParameter(str(error), param_hint="--full-refresh") from None
    with _environment(sandbox_dir):
        for name in full_refresh:
            reset = forget_cursors(name)
            click.echo(f"{name}: incremental cursors forgotten ({', '.join(reset) or 'none yet'}); re-reading whole")
        outcome, log_file = _run_logged(list(select) or None)
    _print_outcome(outcome, log_file)
    if not outcome.success:
        raise SystemExit(1)


def _log_dir() -> Path:
    from ingestion.settings import WarehouseSettings

    settings = WarehouseSettings.read()
    return settings.log_dir or settings.warehouse.parent / "logs"


def _run_logged(select: list[str] | None = None):
    """The graph run with the libraries' output in a log file; a configuration error (a SourceError anywhere in
    the exception's chain, e.g. CSOPS_TARGET mistyped) stops with its one-line message, anything else with its
    type and message and the log file holding the traceback."""
    import traceback

    from csops.console import captured
    from ingestion.errors import SourceError
    from ingestion.pipeline import root_cause
    from orchestration.run import run_graph

    problem: str | None = None
    with captured(_log_dir()) as terminal:
        try:
            outcome = run_graph(select=select, quiet=True, progress=terminal.say)
        except Exception as error:
            traceback.print_exc()  # into the log file
            cause = root_cause(error)
            if isinstance(cause, SourceError):
                problem = str(cause)
            else:
                problem = f"{type(error).__name__}: {error} (traceback in {terminal.log_file})"
    if problem:
        raise click.ClickException(problem)
    return outcome, terminal.log_file


def _print_outcome(outcome, log_file: Path) -> None:
    status = "succeeded" if outcome.success else "FAILED"
    click.echo(
        f"run {outcome.run_id} {status} in {outcome.seconds:.1f}s: {len(outcome.materialized)} assets materialized"
    )
    for step in outcome.failed_steps:
        click.echo(f"  failed step: {step}", err=True)
    for check in outcome.failed_checks:
        click.echo(f"  failed check: {check}", err=True)
    for check in outcome.warned_checks:
        click.echo(f"  warning (did not stop the run): {check}", err=True)
    click.echo(f"full log: {log_file}", err=not outcome.success)


@main.command()
@_sandbox_option
@click.option("--dry-run", is_flag=True, help="Show the plan (what would change in the CRM) without writing.")
@click.option("--force", is_flag=True, help="Push even when the change set trips the circuit breaker.")
def sync(sandbox_dir: Path | None, dry_run: bool, force: bool) -> None:
    """Push health fields, the at-risk list and CSM tasks into the CRM (only what changed since the last sync)."""
    from activation import run_sync
    from ingestion.pipeline import warehouse_path

    with _environment(sandbox_dir):
        report = run_sync(warehouse_path(), dry_run=dry_run, force=force, log=click.echo)
    for line in report.summary_lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


@main.command()
def status() -> None:
    """What the warehouse holds: raw loads, marts, today's health and at-risk list, the last CRM sync."""
    from csops.report import status_lines
    from ingestion.pipeline import warehouse_path

    for line in status_lines(warehouse_path()):
        click.echo(line)


@main.command()
@click.option("--scale", default="tiny", show_default=True, help="Sandbox scale: tiny | small | medium | large.")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
def demo(scale: str, seed: int, directory: Path) -> None:
    """Fresh sandbox company -> whole pipeline once -> push to the sandbox CRM -> what happened, where to look."""
    require_sandbox()
    from csops.report import demo_lines, reset_warehouse
    from ingestion.pipeline import warehouse_path
    from sandbox.generator.world import generate
    from sandbox.manifest import resolve_scale

    started = datetime.now(UTC)
    click.echo(f"1/3 generating the sandbox company ({scale}, seed {seed}) in {directory}")
    manifest = generate(directory, seed, resolve_scale(scale), started.date(), progress=_progress)
    reset_warehouse(warehouse_path())
    click.echo("2/3 serving it on 127.0.0.1 and running the whole graph (dlt -> dbt -> checks -> CRM push)")
    with _environment(directory):
        outcome, log_file = _run_logged()
    _print_outcome(outcome, log_file)
    click.echo("3/3 summary")
    for line in demo_lines(warehouse_path(), manifest, directory, outcome):
        click.echo(line)
    if not outcome.success:
        raise SystemExit(1)


@main.command()
@click.option("--scales", default="tiny,small", show_default=True, help="Comma-separated: tiny, small, medium, large.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.option("--events-format", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option("--keep", is_flag=True, help="Keep each scale's sandbox, warehouse and logs (the report says where).")
@click.option("--events", type=int, default=None, help="Override every scale's approximate event count.")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The simulation's today (fixed, so that runs compare)  [default: 2026-11-01, or launch + --history-days].",
)
@click.option(
    "--history-days",
    type=int,
    default=None,
    help="The company reaches each scale's accounts this many days after launch (default 730), events in "
    "proportion: doubling it doubles the history, not the company (the nightly stages should cost the same).",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where sandboxes and warehouses go (default: a new folder in the system temp dir).",
)
@click.option(
    "--memory-cap-mb",
    type=float,
    default=10_240,
    show_default=True,
    help="A stage whose processes hold more resident memory than this is killed and reported failed (0 = no cap).",
)
@click.option(
    "--target",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Engine: spark loads a Parquet lake and builds on a local Spark session (needs csops[spark] and Java 17).",
)
@click.option(
    "--nights",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Measured nights, one after the other (each: advance a day, one Dagster run); the report judges their "
    "median (one night's wall time moves with the host).",
)
def bench(
    scales, out, events_format, keep, events, seed, today, history_days, work_dir, memory_cap_mb, target, nights
) -> None:
    """Per stage wall time, rows/s and peak memory at several scales, full and incremental, and dbt vs plain SQL.

    Each stage runs in its own process: generate, ingest per source (full), the event files loaded by DuckDB alone,
    dbt build, the heaviest transformations as plain DuckDB SQL, advance one day, ingest per source (incremental),
    raw checks, dbt build again, publish, CRM sync dry run.
    Prints a table and writes OUT/<scale>-<timestamp>.json. Exits 1 when a stage fails or plain SQL and dbt differ.
    """
    require_sandbox()
    try:
        from bench.config import BenchConfig, default_today
        from bench.harness import run_bench
        from bench.report import report_lines
    except ModuleNotFoundError as error:
        raise click.ClickException(f"csops bench runs from a checkout (make install): {error}") from error

    config = BenchConfig(
        scales=[s.strip() for s in scales.split(",") if s.strip()],
        out=out,
        events_format=events_format,
        keep=keep,
        events=events,
        seed=seed,
        today=today.date() if today else default_today(history_days),
        history_days=history_days,
        work_dir=work_dir,
        memory_cap_mb=memory_cap_mb or None,
        target=target,
        nights=nights,
    )
    try:
        outcome = run_bench(config, progress=lambda line: click.echo(line, err=True))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for line in report_lines(outcome):
        click.echo(line)
    if not outcome.ok:
        raise SystemExit(1)


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True)
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address the UI binds to. It has no login: keep it on loopback, or put it behind an authenticating proxy.",
)
def dev(directory: Path, port: int, host: str) -> None:
    """The Dagster UI on the sandbox, ready to materialize (generates the sandbox first if there is none).
    Ctrl-C or SIGTERM stops every process it started."""
    require_sandbox()
    from orchestration.dev_server import serve_ui
    from orchestration.run import instance_for
    from sandbox.generator.world import generate
    from sandbox.manifest import MANIFEST_FILE, resolve_scale

    if not (directory / MANIFEST_FILE).exists():
        generate(directory, 42, resolve_scale("tiny"), datetime.now(UTC).date(), progress=_progress)
    instance_for()
    with _environment(directory):
        click.echo(f"Dagster UI: http://{host}:{port}  (Ctrl-C to stop)")
        raise SystemExit(serve_ui(port, host))


@main.command()
@click.option("--port", default=8501, show_default=True, type=int, help="Port of the dashboard.")
def dashboard(port: int) -> None:
    """The CS Ops dashboard (Streamlit) over the BI serving copy, on http://127.0.0.1:PORT until Ctrl-C."""
    from dashboard.launch import serve
    from dashboard.serving import serving_path

    click.echo(f"CS Ops dashboard: http://127.0.0.1:{port}  (reads {serving_path()}; Ctrl-C to stop)")
    raise SystemExit(serve(port))


@main.command("lint-sql")
def lint_sql() -> None:
    """Lint the dbt models with sqlfluff (dbt templater), against a scratch warehouse."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "CSOPS_WAREHOUSE": str(Path(scratch) / "lint.duckdb")}
        sqlfluff = Path(sys.executable).with_name("sqlfluff")
        result = subprocess.run([str(sqlfluff), "lint", "models"], cwd="dbt_project", env=env, check=False)
    raise SystemExit(result.returncode)


def entrypoint() -> None:
    """The `csops` console script: runs the command, then leaves without the interpreter's module teardown, where
    DuckDB 2.0's Python bindings print spurious "nanobind: leaked ..." lines after work that finished cleanly.

    multiprocessing's own exit hook still runs first: dbt's Manifest (loaded by dagster-dbt) holds a
    multiprocessing Lock, a named semaphore that the hook unlinks; skipped, the resource tracker would warn about
    "leaked semaphore objects" once the process is gone."""
    import multiprocessing.util

    code = 0
    try:
        main()
    except SystemExit as stop:
        if isinstance(stop.code, int):
            code = stop.code
        elif stop.code is not None:
            print(stop.code, file=sys.stderr)
            code = 1
    except Exception as error:  # a bad setting, wherever a command read it, is its one line (no traceback)
        from ingestion.errors import SourceConfigError
        from ingestion.settings import SettingError

        if not isinstance(error, SourceConfigError | SettingError):
            raise
        print(f"Error: {error}", file=sys.stderr)
        code = 1
    multiprocessing.util._exit_function()  # what atexit would run: unlink semaphores, join children
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
