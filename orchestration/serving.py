"""The BI serving copy: what BI tools read, never the warehouse a refresh is writing.

DuckDB lets one process write a file and then nobody else can even open it, so BI tools would be locked out
during every refresh and could see half-built marts. After the build the marts are copied, and every copy replaces
the previous one atomically: readers see last night's marts or tonight's, never a mix.

- `serving.duckdb` in DuckDB's v1.1.0 storage format, so the DuckDB 1.x drivers that Metabase, Superset and most
  ODBC/JDBC tools still ship can open it (the warehouse itself is DuckDB 2.x, which they cannot read). dbt's table
  and column descriptions are kept as comments; money (`*_usd` columns) is DECIMAL(18,2), not binary floating point.
- Parquet files of the marts in a folder reached through a symlink that is swapped atomically: one file per mart,
  but one folder per month for a daily mart (Hive style, `health_month=2026-10-01/`), so a night writes the months
  that changed and hard-links the others from the last folder (rewriting 5.4M rows took 3 s a night at large).
- Optionally a Postgres schema (CSOPS_SERVING_POSTGRES_URL), swapped in one transaction, for BI tools that only
  speak Postgres.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

STORAGE_VERSION = "v1.1.0"  # the oldest format DuckDB 2.0 writes that every DuckDB >= 1.1 reader opens
MONEY_TYPE = "DECIMAL(18,2)"
SCHEMA = "marts"


@dataclass(frozen=True)
class DailyMart:
    """A mart with one row per account and day whose older days rarely change: served day by day (see
    publish_duckdb), and in Parquet one folder per month of `day` (the partition column is `month`)."""

    day: str
    month: str


DAILY_MARTS = {"customer_health_daily": DailyMart(day="health_date", month="health_month")}
MONTHS_FILE = "_csops_months.json"  # beside a daily mart's month folders; readers skip names starting with "_"


@dataclass
class Published:
    rows: dict[str, int] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)  # per mart: new, replaced, or "N days" rewritten
    parquet_months: dict[str, int] = field(default_factory=dict)  # per daily mart: Parquet months written (not linked)
    duckdb_file: Path | None = None
    parquet_dir: Path | None = None
    postgres_schema: str | None = None


def is_money(column: str, data_type: str) -> bool:
    """Money columns carry their unit in the name (`mrr_usd`, `arr_at_stake_usd`); scores and ratios do not."""
    return column.endswith("_usd") and data_type in ("DOUBLE", "FLOAT", "REAL")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select_list(con: duckdb.DuckDBPyConnection, table: str) -> str:
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = 'source' and schema_name = ? "
        "and table_name = ? order by column_index",
        [SCHEMA, table],
    ).fetchall()
    return ", ".join(
        f"round({_quote(c)}, 2)::{MONEY_TYPE} as {_quote(c)}" if is_money(c, t) else _quote(c) for c, t in columns
    )


def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    target = f"serving.{SCHEMA}.{_quote(table)}"
    con.execute(f"comment on table {target} is null")  # a kept table may carry last night's
    (comment,) = con.execute(
        "select comment from duckdb_tables() where database_name = 'source' and schema_name = ? and table_name = ?",
        [SCHEMA, table],
    ).fetchone()
    if comment:
        con.execute(f"comment on table {target} is {_literal(comment)}")
    for column, text in con.execute(
        "select column_name, comment from duckdb_columns() where database_name = 'source' and schema_name = ? "
        "and table_name = ? and comment is not null",
        [SCHEMA, table],
    ).fetchall():
        con.execute(f"comment on column {target}.{_quote(column)} is {_literal(text)}")


def _marts_in(con: duckdb.DuckDBPyConnection, wanted: Sequence[str] | None) -> list[str]:
    present = [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'source' and schema_name = ? order by 1",
            [SCHEMA],
        ).fetchall()
    ]
    if wanted is None:
        return present
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise RuntimeError(f"cannot publish: the warehouse has no {', '.join(f'{SCHEMA}.{m}' for m in missing)}")
    return sorted(wanted)


def stage_spark_marts(spark_directory: Path, staged: Path) -> Path:
    """On the spark target: the marts Spark built (Parquet tables) copied into a DuckDB file of their own, which
    publish_duckdb then serves like the DuckDB warehouse (the copy is the size of the marts, not of the history)."""
    from activation.marts import attach_spark_marts

    staged.unlink(missing_ok=True)
    with duckdb.connect(str(staged)) as con:
        con.execute(f"create schema {SCHEMA}")
        with duckdb.connect() as reader:
            tables = attach_spark_marts(reader, spark_directory)  # the marts that have files
        for table in tables:
            files = spark_directory / "warehouse" / f"{SCHEMA}.db" / table / "**" / "*.parquet"
            con.execute(
                f"create table {SCHEMA}.{_quote(table)} as "
                f"select * from read_parquet({_literal(str(files))}, hive_partitioning = true)"
            )
    return staged


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip("v+").split("."))


def _start_from_last_copy(con: duckdb.DuckDBPyConnection, serving: Path, next_file: Path) -> set[str]:
    """Attach `next_file` as `serving`: a copy of the last serving file when DuckDB 1.x opens it (its marts, returned,
    are then built on), else a new file in STORAGE_VERSION (a file written otherwise, by hand or by an older csops,
    is not built on)."""
    if serving.exists():
        shutil.copyfile(serving, next_file)  # keeps the file's storage version
        con.execute(f"attach {_literal(str(next_file))} as serving")
        (tags,) = con.execute("select tags from duckdb_databases() where database_name = 'serving'").fetchone()
        written = (tags or {}).get("storage_version")
        if written and _version(written) <= _version(STORAGE_VERSION):
            return {
                name
                for (name,) in con.execute(
                    "select table_name from duckdb_tables() where database_name = 'serving' and schema_name = ?",
                    [SCHEMA],
                ).fetchall()
            }
        con.execute("detach serving")
        next_file.unlink()
    con.execute(f"attach {_literal(str(next_file))} as serving (storage_version {_literal(STORAGE_VERSION)})")
    con.execute(f"create schema serving.{SCHEMA}")
    return set()


def _columns_of(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {query}").fetchall()]


def _day_fingerprints(rows: str, day: str) -> str:
    """SQL: per day of `rows` (a table or a parenthesized query), the row count and the sum of the rows' hashes."""
    return f"select {_quote(day)} as day, count(*) as n, sum(hash(r)) as h from {rows} as r group by 1"


def _fingerprint_days(con: duckdb.DuckDBPyConnection, query: str, day: str) -> None:
    """The day fingerprints of `query` (a daily mart's new content), kept in the temporary table csops_new_days:
    what the serving copy and the Parquet months are compared with."""
    con.execute(f"create or replace temp table csops_new_days as {_day_fingerprints(f'({query})', day)}")


def _changed_days(con: duckdb.DuckDBPyConnection, served: str, day: str) -> list[Any]:
    """The days whose rows differ between the serving table `served` and csops_new_days (0.5 s over 5.4M rows)."""
    return [
        row[0]
        for row in con.execute(
            f"""with old as ({_day_fingerprints(served, day)})
            select coalesce(new.day, old.day) from csops_new_days as new full outer join old
                on new.day is not distinct from old.day
            where new.n is distinct from old.n or new.h is distinct from old.h"""
        ).fetchall()
    ]


def _publish_table(con: duckdb.DuckDBPyConnection, table: str, previous: set[str]) -> str:
    """Write one mart into the attached serving copy; returns how ("new", "replaced", or "N days" rewritten)."""
    target = f"serving.{SCHEMA}.{_quote(table)}"
    query = f"select {_select_list(con, table)} from source.{SCHEMA}.{_quote(table)}"
    daily = DAILY_MARTS.get(table)
    if daily:
        _fingerprint_days(con, query, daily.day)
    if daily and table in previous and _columns_of(con, target) == _columns_of(con, query):
        days = _changed_days(con, target, daily.day)
        if days:
            con.execute("create or replace temp table csops_changed_days as select unnest(?) as day", [days])
            changed = (
                f"exists (select 1 from csops_changed_days as c where c.day is not distinct from {_quote(daily.day)})"
            )
            con.execute(f"delete from {target} where {changed}")
            con.execute(f"insert into {target} select * from ({query}) where {changed}")
        return f"{len(days)} days"
    con.execute(f"drop table if exists {target}")
    con.execute(f"create table {target} as {query}")
    return "replaced" if table in previous else "new"


def _write_daily_parquet(
    con: duckdb.DuckDBPyConnection, table: str, daily: DailyMart, folder: Path, last_folder: Path | None
) -> int:
    """Write the served daily mart `table` as one Parquet folder per month under `folder`; a month whose rows are
    the same as in the last publish's folder (its row count and hash sum, kept in MONTHS_FILE) is hard-linked from
    there instead of written. Returns the number of months written."""
    target = f"serving.{SCHEMA}.{_quote(table)}"
    columns = [list(column) for column in _columns_of(con, f"select * from {target}")]
    months = {
        str(month): [rows, str(hashes)]
        for month, rows, hashes in con.execute(
            "select cast(date_trunc('month', day) as date), sum(n), sum(h) from csops_new_days group by 1"
        ).fetchall()
    }
    last = _read_months_file(last_folder / MONTHS_FILE) if last_folder else None
    kept: dict[str, list[Path]] = {}
    if last and last.get("columns") == columns:
        for month, fingerprint in months.items():
            files = sorted((last_folder / f"{daily.month}={month}").glob("*.parquet"))
            if files and last["months"].get(month) == fingerprint:
                kept[month] = files
    day = _quote(daily.day)
    written = [month for month in months if month not in kept]
    if written:
        # A range of days per written month, on the day column itself: DuckDB filters as it scans and reads the
        # other columns only for those months. (An anti-join on the month of every row read every column of the
        # whole mart: 2.7 s of a 5.4 s nightly publish at large with twice the history.) `months` is keyed by the
        # month as text, so the rows without a day are the month "None".
        ranges = [
            f"({day} >= {_literal(month)}::date and {day} < {_literal(month)}::date + interval 1 month)"
            for month in written
            if month != "None"
        ]
        ranges += [f"{day} is null"] if "None" in written else []
        con.execute(
            f"copy (select *, cast(date_trunc('month', {day}) as date) as {_quote(daily.month)} from {target} "
            f"where {' or '.join(ranges)}) "
            f"to {_literal(str(folder))} (format parquet, partition_by ({_quote(daily.month)}))"
        )
    for month, files in kept.items():
        month_folder = folder / f"{daily.month}={month}"
        month_folder.mkdir(parents=True)
        for file in files:
            _link_or_copy(file, month_folder / file.name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MONTHS_FILE).write_text(json.dumps({"columns": columns, "months": months}, sort_keys=True))
    return len(written)


def _read_months_file(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # no file (a first publish, or one by an older csops) or an unreadable one: write every month


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)  # the same bytes under a second name: no copy, no doubled disk
    except OSError:
        shutil.copy2(source, destination)  # a file system without hard links


def publish_duckdb(
    warehouse: Path, serving: Path, marts: Sequence[str] | None = None, parquet_dir: Path | None = None
) -> Published:
    """Copy the marts into `serving` (DuckDB 1.x-readable) and, when asked, Parquet files; swap both in atomically.

    The next copy starts from the current one: marts in DAILY_MARTS rewrite only the days whose rows changed (the
    nightly build adds a day and re-scores a month: 5.4M rows at the large scale, all but 0.3M the same as last
    night), and in Parquet only the months those days fall in; every other mart is replaced whole."""
    serving.parent.mkdir(parents=True, exist_ok=True)
    next_file = serving.with_name(serving.name + ".next")
    next_file.unlink(missing_ok=True)
    next_parquet = last_parquet = None
    if parquet_dir is not None:
        last_parquet = parquet_dir.resolve() if parquet_dir.is_symlink() and parquet_dir.exists() else None
        next_parquet = parquet_dir.with_name(f"{parquet_dir.name}.{time.time_ns()}")
        next_parquet.mkdir(parents=True)
    published = Published(duckdb_file=serving, parquet_dir=parquet_dir)
    with duckdb.connect() as con:
        con.execute("set threads = 2")
        con.execute("set memory_limit = '2GB'")
        con.execute(f"attach {_literal(str(warehouse))} as source (read_only)")
        wanted = _marts_in(con, marts)
        previous = _start_from_last_copy(con, serving, next_file)
        for gone in sorted(previous - set(wanted)):
            con.execute(f"drop table serving.{SCHEMA}.{_quote(gone)}")
        for table in wanted:
            target = f"serving.{SCHEMA}.{_quote(table)}"
            published.how[table] = _publish_table(con, table, previous)
            _copy_comments(con, table)
            published.rows[table] = con.execute(f"select count(*) from {target}").fetchone()[0]
            if next_parquet is not None and table in DAILY_MARTS:
                last = last_parquet / table if last_parquet else None
                published.parquet_months[table] = _write_daily_parquet(
                    con, table, DAILY_MARTS[table], next_parquet / table, last
                )
            elif next_parquet is not None:
                out = next_parquet / f"{table}.parquet"
                con.execute(f"copy {target} to {_literal(str(out))} (format parquet)")
        con.execute("detach serving")
        con.execute("detach source")
    os.replace(next_file, serving)
    if parquet_dir is not None:
        _swap_folder(parquet_dir, next_parquet)
    return published


def _swap_folder(link: Path, new_folder: Path) -> None:
    """Point `link` (a symlink) at `new_folder` atomically and delete the folder it pointed at before."""
    previous = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a folder left by an older csops: replaced once by the symlink
    temporary = link.with_name(link.name + ".link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(new_folder.name)
    os.replace(temporary, link)
    if previous is not None and previous != new_folder.resolve() and previous.exists():
        shutil.rmtree(previous)


def publish_postgres(warehouse: Path, url: str, marts: Sequence[str] | None = None, schema: str = SCHEMA) -> int:
    """Copy the marts into Postgres schema `schema`, replaced in one transaction (readers see old or new)."""
    import psycopg2
    from psycopg2 import sql

    staging = f"{schema}__next"
    with duckdb.connect() as con, psycopg2.connect(url) as pg:
        con.execute("set threads = 2")
        con.execute(f"attach {_literal(str(warehouse))} as source (read_only)")
        with pg.cursor() as cur:
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(staging)))
            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
            tables = _marts_in(con, marts)
            for table in tables:
                _copy_table_to_postgres(con, cur, table, staging)
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(staging), sql.Identifier(schema)))
        pg.commit()
    return len(tables)


POSTGRES_TYPES = {"VARCHAR": "text", "BOOLEAN": "boolean", "DATE": "date", "BIGINT": "bigint", "INTEGER": "integer"}


def _postgres_type(column: str, data_type: str) -> str:
    if is_money(column, data_type):
        return "numeric(18,2)"
    if data_type.startswith("TIMESTAMP"):
        return "timestamptz" if "TIME ZONE" in data_type else "timestamp"
    if data_type.startswith("DECIMAL"):
        return data_type.lower().replace("decimal", "numeric")
    if data_type in ("DOUBLE", "FLOAT", "REAL"):
        return "double precision"
    if data_type.endswith("[]"):
        return "text"
    return POSTGRES_TYPES.get(data_type, "text")


def _copy_table_to_postgres(con: duckdb.DuckDBPyConnection, cur, table: str, schema: str) -> None:
    from psycopg2 import sql

    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() where database_name = 'source' "
        "and schema_name = ? and table_name = ? order by column_index",
        [SCHEMA, table],
    ).fetchall()
    target = sql.Identifier(schema, table)
    cur.execute(
        sql.SQL("create table {} ({})").format(
            target,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_postgres_type(c, t))) for c, t, _ in columns
            ),
        )
    )
    for column, _, comment in columns:
        if comment:
            cur.execute(sql.SQL("comment on column {}.{} is %s").format(target, sql.Identifier(column)), [comment])
    (table_comment,) = con.execute(
        "select comment from duckdb_tables() where database_name = 'source' and schema_name = ? and table_name = ?",
        [SCHEMA, table],
    ).fetchone()
    if table_comment:
        cur.execute(sql.SQL("comment on table {} is %s").format(target), [table_comment])
    select = ", ".join(
        f"to_json({_quote(c)})::varchar as {_quote(c)}" if t.endswith("[]") else _quote(c) for c, t, _ in columns
    )
    # DuckDB streams the table to a CSV file and Postgres' COPY reads it: no table is held in Python memory.
    with tempfile.TemporaryDirectory(prefix="csops-publish-") as folder:
        csv_file = Path(folder) / f"{table}.csv"
        con.execute(
            f"copy (select {select} from source.{SCHEMA}.{_quote(table)}) to {_literal(str(csv_file))} "
            "(format csv, header false, nullstr '\\N')"
        )
        with csv_file.open("rb") as stream:
            cur.copy_expert(
                sql.SQL("copy {} from stdin with (format csv, null '\\N')").format(target).as_string(cur), stream
            )
