"""Benchmark (not a test): how many new tasks each CSM receives on the first nights of the CRM push, with the
flood control off (every task on night one, as before) and on (reviews spread over their cycle, a per-CSM cap).

    csops demo --dir /tmp/sbx          # or any warehouse the pipeline built over a sandbox
    .venv/bin/python -m bench.first_night /tmp/sbx data/warehouse.duckdb --nights 5

The marts are copied and the sync state dropped, so night one is a first push. Later nights reuse the same marts
with every date moved on by a day (the accounts do not change: only the calendar does), each against the CRM the
earlier nights wrote.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import duckdb

from activation import SyncConfig, run_sync
from activation.model import task_key
from sandbox.connect import environment
from sandbox.server.app import running_server

SHIFTS = {
    "customer_360": ("as_of_date",),
    "at_risk_accounts": ("as_of_date",),
    "cs_playbook_tasks": ("as_of_date", "due_date"),
    "customer_health_daily": ("health_date",),
}


def fresh_crm(sandbox: Path, work: Path, name: str) -> Path:
    directory = work / name
    directory.mkdir()
    shutil.copytree(sandbox / "world", directory / "world")
    shutil.copy2(sandbox / "manifest.json", directory / "manifest.json")
    return directory


def fresh_marts(warehouse: Path, work: Path, name: str) -> Path:
    copy = work / f"{name}.duckdb"
    con = duckdb.connect(str(copy))
    try:
        con.execute("set threads = 1")
        con.execute(f"attach '{warehouse}' as source (read_only)")
        con.execute("create schema marts")
        for table in SHIFTS:
            con.execute(f"create table marts.{table} as select * from source.marts.{table}")
    finally:
        con.close()
    return copy


def next_day(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        for table, columns in SHIFTS.items():
            con.execute(f"update marts.{table} set " + ", ".join(f"{c} = {c} + 1" for c in columns))
    finally:
        con.close()


def created_per_owner(warehouse: Path, run_id: str) -> Counter:
    """Tasks the run created, by (owner, review | event)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        keys = {
            key
            for (key,) in con.execute(
                "select object_key from activation.sync_log "
                "where run_id = ? and object_type = 'task' and action = 'create' and status = 'ok'",
                [run_id],
            ).fetchall()
        }
        rows = con.execute(
            "select account_id, owner_id, playbook, trigger_name from marts.cs_playbook_tasks"
        ).fetchall()
    finally:
        con.close()
    per_owner: Counter = Counter()
    for account_id, owner_id, playbook, trigger in rows:
        if task_key(account_id, playbook) in keys:
            per_owner[(owner_id, "review" if trigger == "periodic_review" else "event")] += 1
    return per_owner


def show(title: str, report, per_owner: Counter) -> None:
    owners = sorted({o for o, _ in per_owner})
    total = sum(per_owner.values())
    reviews = sum(n for (_, kind), n in per_owner.items() if kind == "review")
    cells = ", ".join(f"{o} {per_owner[(o, 'event')] + per_owner[(o, 'review')]}" for o in owners)
    print(f"{title}: {report.status}, {total} tasks created ({reviews} periodic reviews); per CSM: {cells}")
    print(f"    deferred {sum(report.deferred.values())}, later in cycle {report.plan.get('tasks_later_in_cycle', 0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sandbox", type=Path)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--nights", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="csops-first-night-"))
    try:
        for label, flood_control, nights in (("before (flood control off)", False, 1), ("after", True, args.nights)):
            crm = fresh_crm(args.sandbox, work, label.split()[0])
            warehouse = fresh_marts(args.warehouse, work, label.split()[0])
            with running_server(crm) as base:
                env = {**environment(crm, base), "CSOPS_DBT_TARGET_DIR": str(work / "no-dbt")}
                if not flood_control:
                    env |= {"CSOPS_SYNC_MAX_TASKS_PER_CSM": "0", "CSOPS_SYNC_SPREAD_REVIEWS": "false"}
                config = SyncConfig.from_env(env)
                print(f"== {label}")
                for night in range(1, nights + 1):
                    if night > 1:
                        next_day(warehouse)
                    report = run_sync(warehouse, config=config, log=lambda _: None)
                    if night == 1:
                        print(f"    circuit breaker: {report.breaker}")
                    show(f"  night {night}", report, created_per_owner(warehouse, report.run_id))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
