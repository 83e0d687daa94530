"""The bench's row counts on the spark target, where nothing is in DuckDB: the raw rows are the Parquet files dlt
appended to the lake, the dbt relations the Parquet tables Spark wrote (partitioned ones in `column=value/`
folders). Counted from the files' footers; checked here against what was written."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.warehouse import dataset_rows, relation_rows


def write(folder: Path, name: str, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": list(range(rows))}), folder / name)


def test_lake_rows_are_every_appended_load_of_each_table_bookkeeping_left_out(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write(lake / "raw_stripe" / "invoices", "load-1.parquet", 3)
    write(lake / "raw_stripe" / "invoices", "load-2.parquet", 2)  # a second load, appended
    write(lake / "raw_stripe" / "invoices__lines__data", "load-1.parquet", 7)
    write(lake / "raw_stripe" / "_dlt_loads", "x.parquet", 2)
    write(lake / "raw_stripe" / "quarantine", "x.parquet", 1)
    counts = dataset_rows(tmp_path / "no-warehouse.duckdb", "raw_stripe", lake=lake)
    assert counts == {"invoices": 5, "invoices__lines__data": 7}
    assert dataset_rows(tmp_path / "no-warehouse.duckdb", "raw_hubspot", lake=lake) == {}


def test_relation_rows_on_spark_read_the_tables_spark_wrote_partitions_included(tmp_path: Path) -> None:
    spark = tmp_path / "spark"
    write(spark / "warehouse" / "marts.db" / "customer_360", "part-0.parquet", 4)
    daily = spark / "warehouse" / "marts.db" / "customer_health_daily"
    write(daily / "health_date=2026-10-31", "part-0.parquet", 6)
    write(daily / "health_date=2026-11-01", "part-0.parquet", 5)
    relations = ["marts.customer_360", "`marts`.`customer_health_daily`", "intermediate.missing"]
    assert relation_rows(tmp_path / "w.duckdb", relations, spark_dir=spark) == {
        "marts.customer_360": 4,
        "`marts`.`customer_health_daily`": 11,
        "intermediate.missing": 0,
    }
