"""The `csops` command. Each command only parses options and calls into the package that does the work."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

DEFAULT_SANDBOX_DIR = Path("data/sandbox")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """csops: the data platform for Customer Success Operations (dlt + dbt + Dagster + CRM activation)."""


# --------------------------------------------------------------------------------------------------- sandbox
@main.group()
def sandbox() -> None:
    """The simulated company and its HubSpot-, Stripe- and Typeform-compatible local APIs."""


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
@click.option(
    "--events-format", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True
)
@click.option("--accounts", type=int, default=None, help="Override the scale's account count.")
@click.option("--events", type=int, default=None, help="Override the scale's approximate event count.")
def sandbox_generate(scale, seed, today, out, events_format, accounts, events) -> None:
    """Generate a deterministic simulated company (same seed, scale and today: identical files)."""
    from sandbox.generator.world import generate
    from sandbox.manifest import resolve_scale

    day = today.date() if today else datetime.now(UTC).date()
    started = datetime.now(UTC)
    try:
        spec = resolve_scale(scale, accounts=accounts, events=events)
        manifest = generate(out, seed, spec, day, events_format, progress=_progress)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    seconds = (datetime.now(UTC) - started).total_seconds()
    click.echo(
        f"sandbox generated in {out} ({spec.name}: {manifest.accounts} accounts, "
        f"~{manifest.events:,} events, {manifest.start_date} .. {manifest.today}) in {seconds:.1f}s"
    )


@sandbox.command("advance")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True
)
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
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True
)
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
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_SANDBOX_DIR, show_default=True
)
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


def _parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
