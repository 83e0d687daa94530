"""The BI serving copy opens in DuckDB 1.x drivers, keeps dbt's comments, carries money as DECIMAL, ships Parquet,
publishes to Postgres, and is always replaced whole.

The DuckDB 1.x reader is a real old client: duckdb 1.1.3 in a throwaway virtualenv (what Metabase and Superset
drivers still ship), run as a separate process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.serving import publish_duckdb, publish_postgres
from tests.support import postgres_available, require_service

OLD_DUCKDB = "1.1.3"


@pytest.fixture(scope="session")
def old_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with DuckDB 1.x only, like a BI tool's driver."""
    venv = tmp_path_factory.mktemp("duckdb1") / "venv"
    uv = [shutil.which("uv")] if shutil.which("uv") else ["python3", "-m", "uv"]  # the Makefile's bootstrap
    made = subprocess.run([*uv, "venv", "-q", str(venv)], capture_output=True, text=True)
    python = venv / "bin" / "python"
    if made.returncode == 0:
        made = subprocess.run(
            [*uv, "pip", "install", "-q", "--python", str(python), f"duckdb=={OLD_DUCKDB}"],
            capture_output=True,
            text=True,
        )
    if made.returncode != 0:
        require_service(False, f"a DuckDB {OLD_DUCKDB} client from PyPI ({made.stderr.strip()[-200:]})")
    return python


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    """A warehouse with a marts schema as dbt leaves it: doubles for money and scores, comments, lists, times."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_360 (account_id varchar, mrr_usd double, health_score double, "
            "drivers varchar[], scored_at timestamptz, is_at_risk boolean)"
        )
        con.execute(
            "insert into marts.customer_360 values "
            "('acc_1', 1234.5678, 71.25, ['usage down', 'NPS 3'], '2026-11-01 02:00:00+00', true), "
            "('acc_2', 99.994, null, [], null, false), ('acc''3', null, 12.5, null, '2026-11-02 02:00:00+00', null)"
        )
        con.execute("comment on table marts.customer_360 is 'One row per account; it''s the 360.'")
        con.execute("comment on column marts.customer_360.mrr_usd is 'MRR at the as-of date (USD).'")
        con.execute(
            "create table marts.mrr_summary as select date '2026-10-01' as month, 10.0::double as ending_mrr_usd"
        )
        con.execute("create schema staging")
        con.execute("create table staging.not_served as select 1 as x")
    return path


def read_with_old_duckdb(python: Path, database: Path, queries: dict[str, str]) -> dict:
    script = (
        "import duckdb, json, sys\n"
        f"con = duckdb.connect({str(database)!r}, read_only=True)\n"
        f"queries = json.loads({json.dumps(json.dumps(queries))})\n"
        "print(json.dumps({'version': duckdb.__version__, **{k: [list(map(str, r)) for r in con.execute(q).fetchall()]"
        " for k, q in queries.items()}}))\n"
    )
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_duckdb_1x_opens_the_serving_copy_with_comments_and_decimal_money(
    warehouse: Path, tmp_path: Path, old_duckdb: Path
):
    serving = tmp_path / "serving" / "serving.duckdb"
    published = publish_duckdb(warehouse, serving)
    assert published.rows == {"customer_360": 3, "mrr_summary": 1}

    seen = read_with_old_duckdb(
        old_duckdb,
        serving,
        {
            "types": "select column_name, data_type from duckdb_columns() where table_name = 'customer_360' "
            "order by column_index",
            "comments": "select coalesce(comment, '') from duckdb_columns() where table_name = 'customer_360' "
            "and column_name = 'mrr_usd' union all select comment from duckdb_tables() where table_name = "
            "'customer_360'",
            "money": "select account_id, mrr_usd from marts.customer_360 order by account_id",
            "tables": "select schema_name || '.' || table_name from duckdb_tables() order by 1",
        },
    )
    assert seen["version"] == OLD_DUCKDB
    types = dict(map(tuple, seen["types"]))
    assert types["mrr_usd"] == "DECIMAL(18,2)"
    assert types["health_score"] == "DOUBLE"  # a score is not money
    assert types["drivers"] == "VARCHAR[]"
    assert seen["comments"] == [["MRR at the as-of date (USD)."], ["One row per account; it's the 360."]]
    assert seen["money"] == [["acc'3", "None"], ["acc_1", "1234.57"], ["acc_2", "99.99"]]
    assert seen["tables"] == [["marts.customer_360"], ["marts.mrr_summary"]]  # only the marts are served


def test_the_serving_copy_and_parquet_are_replaced_whole_on_each_publish(warehouse: Path, tmp_path: Path):
    serving = tmp_path / "serving.duckdb"
    parquet = tmp_path / "marts_parquet"
    publish_duckdb(warehouse, serving, parquet_dir=parquet)
    first_folder = parquet.resolve()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into marts.mrr_summary values (date '2026-11-01', 20.0)")
    publish_duckdb(warehouse, serving, parquet_dir=parquet)

    assert parquet.is_symlink() and parquet.resolve() != first_folder
    assert not first_folder.exists()  # the previous night's files are gone, not mixed in
    assert sorted(p.name for p in parquet.iterdir()) == ["customer_360.parquet", "mrr_summary.parquet"]
    with duckdb.connect() as con:
        rows = con.execute(f"select sum(ending_mrr_usd) from '{parquet / 'mrr_summary.parquet'}'").fetchone()[0]
    assert rows == Decimal("30.00")
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select count(*) from marts.mrr_summary").fetchone()[0] == 2
    assert not serving.with_name("serving.duckdb.next").exists()


def add_daily_mart(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table marts.customer_health_daily as select 'acc_' || (i % 7) as account_id, "
            "date '2026-10-01' + (i // 7)::int as health_date, (i * 37 % 100)::double as health_score, "
            "(i * 1.005)::double as mrr_usd from range(70) as t(i)"
        )


def served_rows(serving: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return sorted(con.execute(f"select * from marts.{table}").fetchall())


def test_a_daily_mart_is_republished_by_the_days_that_changed_and_equals_a_fresh_copy(
    warehouse: Path, tmp_path: Path, old_duckdb: Path
):
    add_daily_mart(warehouse)
    serving = tmp_path / "serving.duckdb"
    first = publish_duckdb(warehouse, serving)
    assert first.how["customer_health_daily"] == "new" and first.rows["customer_health_daily"] == 70
    with duckdb.connect(str(warehouse)) as con:  # a night: one day re-scored, one new day, one mart gone
        con.execute("update marts.customer_health_daily set health_score = 1 where health_date = '2026-10-03'")
        con.execute("insert into marts.customer_health_daily values ('acc_0', '2026-10-11', 50, 10.006)")
        con.execute("drop table marts.mrr_summary")
    second = publish_duckdb(warehouse, serving)
    assert second.how == {"customer_360": "replaced", "customer_health_daily": "2 days"}
    fresh = tmp_path / "fresh.duckdb"
    publish_duckdb(warehouse, fresh)
    for table in ("customer_360", "customer_health_daily"):
        assert served_rows(serving, table) == served_rows(fresh, table)
    assert served_rows(serving, "customer_health_daily")[0][3] == Decimal("0.00")  # money as DECIMAL still
    assert publish_duckdb(warehouse, serving).how["customer_health_daily"] == "0 days"
    seen = read_with_old_duckdb(
        old_duckdb,
        serving,
        {
            "tables": "select table_name from duckdb_tables() order by 1",
            "day": "select count(*), min(health_score) from marts.customer_health_daily where health_date = "
            "'2026-10-03'",
        },
    )
    assert seen["tables"] == [["customer_360"], ["customer_health_daily"]]
    assert seen["day"] == [["7", "1.0"]]


def parquet_months(parquet: Path) -> dict[str, int]:
    """The month folders of the daily mart's Parquet, each with the inode of its file (the same inode: not written)."""
    folder = parquet / "customer_health_daily"
    return {
        month.name: (month / "data_0.parquet").stat().st_ino for month in sorted(folder.iterdir()) if month.is_dir()
    }


def parquet_rows(parquet: Path) -> list[tuple]:
    """The daily mart's rows as a Parquet reader sees them, each checked to sit in its own month's folder."""
    files = str(parquet / "customer_health_daily" / "*" / "*.parquet")
    with duckdb.connect() as con:
        misplaced = con.execute(
            f"select count(*) from read_parquet('{files}', hive_partitioning = true) "
            "where health_month is distinct from date_trunc('month', health_date)::date"
        ).fetchone()[0]
        assert misplaced == 0
        return sorted(con.execute(f"select * exclude (health_month) from read_parquet('{files}')").fetchall())


def test_a_daily_mart_is_one_parquet_folder_per_month_and_a_night_writes_only_the_months_that_changed(
    warehouse: Path, tmp_path: Path
):
    with duckdb.connect(str(warehouse)) as con:  # 5 accounts x 80 days, 2026-08-20 to 2026-11-07
        con.execute(
            "create table marts.customer_health_daily as select 'acc_' || (i % 5) as account_id, "
            "date '2026-08-20' + (i // 5)::int as health_date, (i * 37 % 100)::double as health_score, "
            "(i * 1.005)::double as mrr_usd from range(400) as t(i)"
        )
    serving, parquet = tmp_path / "serving.duckdb", tmp_path / "marts_parquet"
    first = publish_duckdb(warehouse, serving, parquet_dir=parquet)
    assert first.how["customer_health_daily"] == "new" and first.parquet_months == {"customer_health_daily": 4}
    before = parquet_months(parquet)
    assert list(before) == [f"health_month=2026-{m}-01" for m in ("08", "09", "10", "11")]
    assert parquet_rows(parquet) == served_rows(serving, "customer_health_daily")
    assert len(parquet_rows(parquet)) == 400

    with duckdb.connect(str(warehouse)) as con:  # a night: a day of September re-scored, a new day in November
        con.execute("update marts.customer_health_daily set health_score = 1 where health_date = '2026-09-15'")
        con.execute("insert into marts.customer_health_daily values ('acc_0', '2026-11-08', 50, 10.006)")
    second = publish_duckdb(warehouse, serving, parquet_dir=parquet)
    assert second.how["customer_health_daily"] == "2 days" and second.parquet_months == {"customer_health_daily": 2}
    after = parquet_months(parquet)
    assert list(after) == list(before)
    unchanged = [month for month in after if after[month] == before[month]]
    assert unchanged == ["health_month=2026-08-01", "health_month=2026-10-01"]  # hard-linked from last night
    assert parquet_rows(parquet) == served_rows(serving, "customer_health_daily")
    assert ("acc_0", date(2026, 11, 8), 50.0, Decimal("10.01")) in parquet_rows(parquet)  # money as DECIMAL
    fresh = tmp_path / "fresh"
    publish_duckdb(warehouse, fresh / "serving.duckdb", parquet_dir=fresh / "marts_parquet")
    assert parquet_rows(parquet) == parquet_rows(fresh / "marts_parquet")
    quiet = publish_duckdb(warehouse, serving, parquet_dir=parquet)
    assert quiet.how["customer_health_daily"] == "0 days" and quiet.parquet_months == {"customer_health_daily": 0}

    with duckdb.connect(str(warehouse)) as con:  # a new column: every month is written again, with it
        con.execute("alter table marts.customer_health_daily add column seats integer default 3")
    third = publish_duckdb(warehouse, serving, parquet_dir=parquet)
    assert third.how["customer_health_daily"] == "replaced" and third.parquet_months == {"customer_health_daily": 4}
    assert {row[4] for row in parquet_rows(parquet)} == {3}


def test_a_serving_file_in_a_newer_format_is_replaced_not_built_on(warehouse: Path, tmp_path: Path, old_duckdb: Path):
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(serving)) as con:  # DuckDB 2.x's own format: DuckDB 1.x drivers cannot open it
        con.execute("create schema marts")
        con.execute("create table marts.customer_360 as select 'acc_9' as account_id")
    published = publish_duckdb(warehouse, serving)
    assert published.how == {"customer_360": "new", "mrr_summary": "new"}
    seen = read_with_old_duckdb(old_duckdb, serving, {"ids": "select account_id from marts.customer_360 order by 1"})
    assert seen["ids"] == [["acc'3"], ["acc_1"], ["acc_2"]]


def test_publishing_names_a_missing_mart_and_leaves_the_previous_copy(warehouse: Path, tmp_path: Path):
    serving = tmp_path / "serving.duckdb"
    publish_duckdb(warehouse, serving)
    before = serving.read_bytes()
    with pytest.raises(RuntimeError, match=r"marts\.renewal_forecast"):
        publish_duckdb(warehouse, serving, marts=["customer_360", "renewal_forecast"])
    assert serving.read_bytes() == before


@pytest.mark.postgres
def test_marts_publish_to_postgres_in_one_swap_with_comments_and_numeric_money(warehouse: Path):
    require_service(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    import psycopg2

    url = "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"serving_test_{uuid.uuid4().hex[:8]}"
    try:
        assert publish_postgres(warehouse, url, schema=schema) == 2
        assert publish_postgres(warehouse, url, schema=schema) == 2  # a second night replaces the first
        with psycopg2.connect(url) as pg, pg.cursor() as cur:
            cur.execute(
                "select column_name, data_type from information_schema.columns where table_schema = %s "
                "and table_name = 'customer_360' order by ordinal_position",
                [schema],
            )
            types = dict(cur.fetchall())
            cur.execute(f"select account_id, mrr_usd, drivers, is_at_risk from {schema}.customer_360 order by 1")
            rows = cur.fetchall()
            cur.execute(f"select col_description('{schema}.customer_360'::regclass, 2)")
            (comment,) = cur.fetchone()
    finally:
        with psycopg2.connect(url) as pg, pg.cursor() as cur:
            cur.execute(f"drop schema if exists {schema} cascade")
    assert types["mrr_usd"] == "numeric" and types["health_score"] == "double precision"
    assert rows == [
        ("acc'3", None, None, None),
        ("acc_1", Decimal("1234.57"), '["usage down","NPS 3"]', True),
        ("acc_2", Decimal("99.99"), "[]", False),
    ]
    assert comment == "MRR at the as-of date (USD)."
