"""Activation: the nightly push of health fields, the at-risk list and CSM tasks from the marts into the CRM.

    from activation import run_sync
    report = run_sync(warehouse_path(), dry_run=False, force=False, log=print)
    report.ok, report.summary_lines(), report.as_metadata()

Layout: `config` (environment), `marts` (what the CRM should say), `templates` (task text, filled in one pass),
`preflight` (blocking checks), `plan` (the diff, breaker, tasks due, per-CSM cap; pure), `state` (DuckDB
schema `activation` + crash journal), `sync` (one run), `crm/` (the CRM interface and its HubSpot adapter).
Product code only: it never imports the sandbox or Dagster.
"""

from activation.config import ConfigError, SyncConfig
from activation.report import SyncReport
from activation.sync import run_sync

__all__ = ["ConfigError", "SyncConfig", "SyncReport", "run_sync"]
