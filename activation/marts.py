"""Reading what the CRM should say tonight from the marts (schema `marts`): one `AccountRow` per customer account,
one `TaskRow` per row of `cs_playbook_tasks` (its title and body filled from the playbook templates in one pass,
`activation.templates`), and the health statuses of the previous scored day (the circuit breaker's yardstick on a
first sync). Values are rendered as the text the CRM stores, so that the diff compares exactly what would be
sent."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb

from activation.model import AccountRow, MartSnapshot, TaskRow, task_key
from activation.templates import FILL_COLUMNS, PLACEHOLDERS, render

# The columns the sync reads, per mart (the preflight checks they exist).
READS: dict[str, tuple[str, ...]] = {
    "customer_360": ("account_id", "company_id", "arr_usd", "as_of_date"),
    "customer_health_daily": ("account_id", "health_date", "health_score", "health_status", "health_change_30d"),
    "at_risk_accounts": ("account_id", "company_id", "risk_reasons", "recommended_playbook", "as_of_date"),
    "cs_playbook_tasks": (
        "account_id",
        "company_id",
        "owner_id",
        "playbook",
        "trigger_name",
        "priority",
        "is_at_risk",
        "task_title_template",
        "task_body_template",
        *FILL_COLUMNS,
        "due_date",
        "cadence_days",
        "as_of_date",
    ),
    "crm_removed_companies": ("company_id", "removal", "survivor_company_id"),
}
MAX_TEXT = 65_000  # HubSpot string properties hold 65,536 characters


def number_text(value: float | None, decimals: int) -> str:
    """`63.2`, `-5`, `12000`: rounded, no float noise, no trailing zeros; "" for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    text = f"{rounded:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def cleared_fields(arr: str = "") -> dict[str, str]:
    """What an account that left the scored population shows: no health, not at risk."""
    return {
        "cs_health_score": "",
        "cs_health_status": "",
        "cs_health_change_30d": "",
        "cs_risk_reasons": "",
        "cs_at_risk": "false",
        "cs_playbook": "",
        "cs_arr": arr,
    }


ACCOUNTS_SQL = """
with latest as (
    select max(health_date) as health_date from marts.customer_health_daily
),
health as (
    select h.account_id, h.health_score, h.health_status, h.health_change_30d
    from marts.customer_health_daily as h
    inner join latest on h.health_date = latest.health_date
),
at_risk as (
    select account_id, risk_reasons, recommended_playbook from marts.at_risk_accounts
)
select
    c.account_id,
    c.company_id,
    c.arr_usd,
    h.account_id is not null as has_health,
    h.health_score,
    h.health_status,
    h.health_change_30d,
    r.account_id is not null as is_at_risk,
    r.risk_reasons,
    r.recommended_playbook
from marts.customer_360 as c
left join health as h on c.account_id = h.account_id
left join at_risk as r on c.account_id = r.account_id
order by c.account_id
"""

TASKS_SQL = f"""
select t.account_id, t.company_id, t.owner_id, t.playbook, t.trigger_name, t.priority, t.is_at_risk,
       t.due_date, t.cadence_days, c.arr_usd, t.task_title_template, t.task_body_template,
       {", ".join("t." + column for column in FILL_COLUMNS)}
from marts.cs_playbook_tasks as t
left join marts.customer_360 as c on t.account_id = c.account_id
order by t.account_id, t.playbook
"""

# The health status of every account on the scored day before the latest one (none when only one day is scored).
PREVIOUS_HEALTH_SQL = """
with days as (
    select max(health_date) as latest from marts.customer_health_daily
),
previous as (
    select max(h.health_date) as health_date
    from marts.customer_health_daily as h, days
    where h.health_date < days.latest
)
select h.account_id, h.health_status, h.health_date, days.latest
from marts.customer_health_daily as h
inner join previous on h.health_date = previous.health_date
cross join days
"""


def attach_spark_marts(con: duckdb.DuckDBPyConnection, spark_directory: Path) -> list[str]:
    """Make the marts Spark built readable as `marts.<name>` in this DuckDB connection, so the push reads them with
    the same SQL whichever engine built them. Returns the marts found.

    dbt-spark writes each mart as a Parquet table in Spark's warehouse folder (`marts.db/<name>/`, partitioned
    tables in `<column>=<value>/` folders). The push reads a few thousand rows: DuckDB reads those files in well
    under a second, where a Spark session would start a JVM (7-40 s, over 1 GB) for them. The views live in an
    in-memory catalog named `marts`, so nothing is written into the warehouse file, which keeps the sync state."""
    folder = spark_directory / "warehouse" / "marts.db"
    con.execute("attach if not exists ':memory:' as marts (read_only false)")
    found = []
    for table in sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []:
        if not any(table.rglob("*.parquet")):
            continue  # an empty mart has no files: the preflight reports it as missing
        files = str(table / "**" / "*.parquet").replace("'", "''")
        con.execute(
            f"create or replace view marts.{table.name} as "
            f"select * from read_parquet('{files}', hive_partitioning = true)"
        )
        found.append(table.name)
    return found


def read_snapshot(con: duckdb.DuckDBPyConnection) -> MartSnapshot:
    as_of = con.execute("select max(as_of_date) from marts.customer_360").fetchone()[0]
    accounts = []
    for (
        account_id,
        company_id,
        arr_usd,
        has_health,
        score,
        status,
        change,
        is_at_risk,
        reasons,
        playbook,
    ) in con.execute(ACCOUNTS_SQL).fetchall():
        arr = number_text(arr_usd, 0)
        if has_health or is_at_risk:
            fields = {
                "cs_health_score": number_text(score, 1),
                "cs_health_status": status or "",
                "cs_health_change_30d": number_text(change, 1),
                "cs_risk_reasons": (reasons or "")[:MAX_TEXT] if is_at_risk else "",
                "cs_at_risk": "true" if is_at_risk else "false",
                "cs_playbook": (playbook or "") if is_at_risk else "",
                "cs_arr": arr,
            }
        else:
            fields = cleared_fields(arr)
        accounts.append(AccountRow(account_id, company_id or None, fields, bool(has_health or is_at_risk)))
    tasks = [_task_row(*row) for row in con.execute(TASKS_SQL).fetchall()]
    previous = con.execute(PREVIOUS_HEALTH_SQL).fetchall()
    removed = con.execute(
        "select company_id, removal, survivor_company_id from marts.crm_removed_companies where company_id is not null"
    ).fetchall()
    return MartSnapshot(
        as_of=as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)),
        accounts=accounts,
        tasks=tasks,
        previous_health={account_id: status or "" for account_id, status, _, _ in previous},
        health_days=(previous[0][2], previous[0][3]) if previous else None,
        removed={str(crm_id): (removal, str(survivor) if survivor else None) for crm_id, removal, survivor in removed},
    )


def _task_row(
    account_id: str,
    company_id: str | None,
    owner_id: object,
    playbook: str,
    trigger_name: str,
    priority: int | None,
    is_at_risk: bool | None,
    due_date: date,
    cadence_days: int,
    arr_usd: float | None,
    title_template: str | None,
    body_template: str | None,
    *fills: str | None,
) -> TaskRow:
    values = {name: value or "" for name, value in zip(PLACEHOLDERS, fills, strict=True)}
    title = render(title_template or playbook, values, playbook=playbook)
    return TaskRow(
        key=task_key(account_id, playbook),
        account_id=account_id,
        crm_id=company_id or None,
        owner_id=str(owner_id).strip() or None if owner_id else None,
        playbook=playbook,
        trigger_name=trigger_name,
        priority=int(priority) if priority is not None else 9,
        is_at_risk=bool(is_at_risk),
        title=" ".join(title.split()),  # a title is one line, whatever the customer's name holds
        body=render(body_template or "", values, playbook=playbook)[:MAX_TEXT],
        due_date=due_date,
        cadence_days=int(cadence_days),
        arr_usd=float(arr_usd or 0.0),
    )
