"""What the CLI prints about the warehouse (status, the demo's summary). Reads only, through one read-only
connection."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ingestion.registry import DATASETS

RAW_DATASETS = tuple(DATASETS.values())


@contextmanager
def _read(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    if not warehouse.exists():
        yield None
        return
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.Error:
        return []


def reset_warehouse(warehouse: Path) -> None:
    """A fresh start for the demo: the warehouse, its serving copy and dlt's local pipeline state."""
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal"), warehouse.with_name("serving.duckdb")):
        path.unlink(missing_ok=True)
    shutil.rmtree(warehouse.parent / "dlt_pipelines", ignore_errors=True)


def raw_table_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    tables = _rows(
        con,
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in RAW_DATASETS)}) "
        "and table_name not like '\\_%' escape '\\' and table_name not like '%\\_\\_%' escape '\\' "
        "order by 1, 2",
        list(RAW_DATASETS),
    )
    return [(schema, table, _rows(con, f'select count(*) from {schema}."{table}"')[0][0]) for schema, table in tables]


def status_lines(warehouse: Path) -> list[str]:
    with _read(warehouse) as con:
        if con is None:
            return [f"no warehouse at {warehouse} yet: run `csops run` (or `make demo`)"]
        lines = [f"warehouse: {warehouse}"]
        for source, endpoint, account in _rows(
            con, "select source, endpoint, account from csops_meta.source_identity order by source"
        ):
            lines.append(f"  {source} reads {endpoint} ({account})")
        for schema, table, count in raw_table_rows(con):
            lines.append(f"  {schema}.{table}: {count:,} rows")
        for dataset in RAW_DATASETS:
            for (at,) in _rows(con, f"select max(inserted_at) from {dataset}._dlt_loads having count(*) > 0"):
                lines.append(f"  last load of {dataset}: {at}")
        lines += _marts_lines(con)
        return lines


def _marts_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    lines = []
    customers = _rows(
        con,
        "select count(*), count(*) filter (where mrr_usd > 0), sum(mrr_usd), max(as_of_date) from marts.customer_360",
    )
    if customers:
        accounts, paying, mrr, as_of = customers[0]
        lines.append(f"customer_360: {accounts} accounts, {paying} paying, MRR ${mrr or 0:,.0f} (as of {as_of})")
    health = _rows(
        con,
        "select health_status, count(*) from marts.customer_health_daily where health_date = "
        "(select max(health_date) from marts.customer_health_daily) group by 1 order by 1",
    )
    if health:
        lines.append("health today: " + ", ".join(f"{n} {status}" for status, n in health))
    risk = _rows(con, "select count(*), sum(arr_at_stake_usd) from marts.at_risk_accounts")
    if risk:
        lines.append(f"at risk: {risk[0][0]} accounts, ARR ${risk[0][1] or 0:,.0f} at stake")
    sync = _rows(con, "select run_id, started_at, status from activation.sync_runs order by started_at desc limit 1")
    if sync:
        lines.append(f"last CRM sync: {sync[0][0]} at {sync[0][1]} ({sync[0][2]})")
    return lines


def demo_lines(warehouse: Path, manifest: Any, sandbox_dir: Path, outcome: Any) -> list[str]:
    with _read(warehouse) as con:
        if con is None:
            return ["the run produced no warehouse"]
        lines = [
            f"sandbox: {manifest.accounts} accounts simulated {manifest.start_date} .. {manifest.today} "
            f"(seed {manifest.seed})",
            "rows loaded per source:",
        ]
        for schema, table, count in raw_table_rows(con):
            lines.append(f"  {schema}.{table}: {count:,}")
        with_quarantine = [
            d
            for d in RAW_DATASETS
            if _rows(
                con, "select 1 from information_schema.tables where table_schema = ? and table_name = 'quarantine'", [d]
            )
        ]
        union = " union all ".join(f"select '{d}', count(*) from {d}.quarantine" for d in with_quarantine)
        quarantined = _rows(con, union) if union else []
        for dataset, count in quarantined:
            lines.append(f"  {dataset}.quarantine: {count} rows set aside (see the reason column)")
        lines += _marts_lines(con)
        top = _rows(
            con,
            "select priority_rank, company_name, owner_name, arr_at_stake_usd, recommended_playbook, "
            "risk_reasons from marts.at_risk_accounts order by priority_rank limit 5",
        )
        if top:
            lines.append("top of the at-risk list:")
            for rank, company, owner, arr, playbook, reasons in top:
                lines.append(f"  {rank}. {company} ({owner}) ARR ${arr:,.0f} -> {playbook}: {reasons}")
        writes = _rows(
            con,
            "select object_type, action, status, count(*) from activation.sync_log where run_id = "
            "(select run_id from activation.sync_runs order by started_at desc limit 1) "
            "group by all order by 1, 2, 3",
        )
        if writes:
            lines.append("CRM writes in the sandbox (HubSpot API):")
            for object_type, action, status, count in writes:
                lines.append(f"  {object_type} {action}: {count} {status}")
    slowest = sorted(outcome.step_seconds.items(), key=lambda kv: -kv[1])[:3]
    lines += [
        "slowest steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest),
        "where to look next:",
        f"  warehouse (DuckDB 2.x): {warehouse}   BI copy: {warehouse.with_name('serving.duckdb')}",
        f"  the sandbox CRM: csops sandbox serve --dir {sandbox_dir}  then GET /hubspot/crm/v3/objects/companies",
        "  the Dagster UI: make dev  (http://127.0.0.1:3000)",
    ]
    return lines
