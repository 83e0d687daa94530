"""Before anything is pushed: did a blocking data check upstream fail, and do the marts the sync reads hold their
basic invariants? Any problem here stops the run (even with force: force only overrides the circuit breaker).

1. dbt: the newest `run_results.json` under the dbt target folder (`dbt build` writes `target/run_results.json`;
   Dagster's dbt invocations write `target/<invocation>/run_results.json`). A test that failed or errored (dbt
   reports a failing severity-warn test as `warn`, so `fail` means severity error) on a mart the sync reads or on
   anything upstream of it, or an upstream model that errored, blocks the sync. Upstream is taken from the
   `manifest.json` beside it; without one every failure counts.
2. The marts: they exist with the columns read, keys are unique, values are in range, the as-of dates agree and
   tonight's health is not stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from activation.marts import READS

MARTS = tuple(READS)
HEALTH_MAX_AGE_DAYS = 2  # health is scored up to yesterday; older means the refresh did not run


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def newest_run_results(target_dir: Path) -> Path | None:
    candidates = [target_dir / "run_results.json", *target_dir.glob("*/run_results.json")]
    existing = [p for p in candidates if p.is_file()]
    return max(existing, key=lambda p: p.stat().st_mtime) if existing else None


def _upstream(manifest: dict, roots: Iterable[str]) -> set[str]:
    parents = manifest.get("parent_map") or {
        uid: (node.get("depends_on") or {}).get("nodes", [])
        for uid, node in {**manifest.get("nodes", {}), **manifest.get("sources", {})}.items()
    }
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        stack.extend(parents.get(uid, []))
    return seen


def dbt_problems(target_dir: Path, marts: Iterable[str] = MARTS) -> Preflight:
    result = Preflight()
    path = newest_run_results(target_dir)
    if path is None:
        result.notes.append(f"no dbt run_results.json under {target_dir}: dbt test results not checked")
        return result
    try:
        run_results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        result.problems.append(f"cannot read {path}: {exc}")
        return result
    manifest_path = path.with_name("manifest.json")
    manifest = None
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = None
    relevant: set[str] | None = None
    nodes: dict = {}
    if manifest:
        nodes = manifest.get("nodes", {})
        roots = [uid for uid, n in nodes.items() if n.get("resource_type") == "model" and n.get("name") in set(marts)]
        relevant = _upstream(manifest, roots)
    else:
        result.notes.append(f"no manifest.json beside {path}: every failed dbt test counts as blocking")
    for item in run_results.get("results", []):
        uid, status = item.get("unique_id", ""), item.get("status")
        if status not in ("fail", "error"):
            continue
        node = nodes.get(uid, {})
        if relevant is not None:
            if uid.startswith("test."):
                depends = set((node.get("depends_on") or {}).get("nodes", []))
                if node.get("attached_node"):
                    depends.add(node["attached_node"])
                if not depends & relevant:
                    continue
            elif uid not in relevant:
                continue
        message = (item.get("message") or "").strip().splitlines()
        result.problems.append(
            f"dbt {uid.split('.')[0]} {uid.split('.', 2)[-1]} {status}"
            + (f": {message[0][:200]}" if message else "")
            + f" ({path})"
        )
    return result


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def mart_problems(con: duckdb.DuckDBPyConnection) -> Preflight:
    result = Preflight()
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        # The warehouse's `marts` schema, or on the spark target the `marts` catalog of views over Spark's Parquet
        # tables (activation.marts.attach_spark_marts), where the marts are in its `main` schema.
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' or (table_catalog = 'marts' and table_schema = 'main')"
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    for mart, wanted in READS.items():
        if mart not in columns:
            result.problems.append(f"marts.{mart} does not exist: build the marts first (csops run)")
            continue
        missing = [c for c in wanted if c not in columns[mart]]
        if missing:
            result.problems.append(f"marts.{mart} lacks column(s) {', '.join(missing)} that the sync reads")
    if result.problems:
        return result

    checks = {
        "marts.customer_360 is empty": "select count(*) = 0 from marts.customer_360",
        "marts.customer_360: account_id null or duplicated": (
            "select count(*) - count(distinct account_id) + count(*) filter (where account_id is null) "
            "from marts.customer_360"
        ),
        "marts.customer_360: a CRM company (company_id) belongs to more than one account": (
            "select count(company_id) - count(distinct company_id) from marts.customer_360"
        ),
        "marts.customer_360: more than one as_of_date": (
            "select count(distinct as_of_date) > 1 from marts.customer_360"
        ),
        "marts.customer_health_daily has no rows for the latest day": (
            "select count(*) = 0 from marts.customer_health_daily "
            "where health_date = (select max(health_date) from marts.customer_health_daily)"
        ),
        "marts.customer_health_daily: an account scored twice on the latest day": (
            "select count(*) - count(distinct account_id) from marts.customer_health_daily "
            "where health_date = (select max(health_date) from marts.customer_health_daily)"
        ),
        "marts.customer_health_daily: health_score outside 0-100 or health_status not green/yellow/red": (
            "select count(*) from marts.customer_health_daily "
            "where health_date = (select max(health_date) from marts.customer_health_daily) and "
            "(health_score < 0 or health_score > 100 or health_status not in ('green', 'yellow', 'red'))"
        ),
        f"marts.customer_health_daily is stale (latest day more than {HEALTH_MAX_AGE_DAYS} days before as_of_date)": (
            "select (select max(health_date) from marts.customer_health_daily) < "
            f"(select max(as_of_date) from marts.customer_360) - interval {HEALTH_MAX_AGE_DAYS} day"
        ),
        "marts.at_risk_accounts: account_id null or duplicated": (
            "select count(*) - count(distinct account_id) + count(*) filter (where account_id is null) "
            "from marts.at_risk_accounts"
        ),
        "marts.at_risk_accounts: an account missing from customer_360": (
            "select count(*) from marts.at_risk_accounts where account_id not in "
            "(select account_id from marts.customer_360 where account_id is not null)"
        ),
        "marts.at_risk_accounts: as_of_date differs from customer_360": (
            "select count(*) from marts.at_risk_accounts "
            "where as_of_date is distinct from (select max(as_of_date) from marts.customer_360)"
        ),
        "marts.cs_playbook_tasks: more than one row per (account_id, playbook)": (
            "select count(*) - count(distinct (account_id, playbook)) from marts.cs_playbook_tasks"
        ),
        "marts.cs_playbook_tasks: due_date, playbook or task_title missing, or cadence_days < 1": (
            "select count(*) from marts.cs_playbook_tasks where due_date is null or playbook is null "
            "or task_title is null or account_id is null or coalesce(cadence_days, 0) < 1"
        ),
        "marts.cs_playbook_tasks: as_of_date differs from customer_360": (
            "select count(*) from marts.cs_playbook_tasks "
            "where as_of_date is distinct from (select max(as_of_date) from marts.customer_360)"
        ),
    }
    for message, sql in checks.items():
        bad = _count(con, sql)
        if bad:
            result.problems.append(message if bad == 1 else f"{message} ({bad} rows)")
    return result
