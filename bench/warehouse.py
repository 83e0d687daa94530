"""What a stage left behind, read back from the warehouse and the sandbox's files: rows per raw table, rows per dbt
relation, what an incremental run changed, events in the sandbox's files, bytes on disk."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb


def dataset_rows(warehouse: Path, dataset: str, lake: Path | None = None) -> dict[str, int]:
    """Rows per data table of a raw dataset (dlt's and csops' bookkeeping tables, named `_...`, and the quarantine
    left out). With `lake` (the spark target), the rows of its Parquet files: every load appended."""
    if lake is not None:
        return lake_rows(lake / dataset)
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_name not like '\\_%' escape '\\' and table_name != 'quarantine' order by 1",
                [dataset],
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from {dataset}."{t}"').fetchone()[0] for t in tables}


def _relation(relation_name: str) -> str:
    """`"warehouse"."intermediate"."x"` -> `intermediate."x"` (independent of the catalog name)."""
    parts = [p.strip('"') for p in relation_name.split(".")]
    return f'{parts[-2]}."{parts[-1]}"'


def lake_rows(folder: Path) -> dict[str, int]:
    """Rows per table folder of Parquet files (a dlt dataset in the lake, or Spark's `<schema>.db`)."""
    if not folder.is_dir():
        return {}
    return {
        table.name: parquet_rows(table)
        for table in sorted(folder.iterdir())
        if table.is_dir() and not table.name.startswith("_") and table.name != "quarantine"
    }


def parquet_rows(folder: Path) -> int:
    """Rows of the Parquet files under `folder` (from their footers: nothing else is read)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet")) if folder.is_dir() else 0


def relation_rows(warehouse: Path, relations: list[str], spark_dir: Path | None = None) -> dict[str, int]:
    """Rows of each dbt relation: in the warehouse, or (spark) in the Parquet tables of Spark's warehouse folder."""
    if spark_dir is not None:
        rows = {}
        for relation in relations:
            schema, table = (p.strip('"`') for p in relation.split(".")[-2:])
            rows[relation] = parquet_rows(spark_dir / "warehouse" / f"{schema}.db" / table)
        return rows
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: con.execute(f"select count(*) from {_relation(r)}").fetchone()[0] for r in relations}


def snapshot_tables(warehouse: Path, snapshot: Path, relations: list[str]) -> None:
    snapshot.unlink(missing_ok=True)
    with duckdb.connect(str(snapshot)) as con:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        for i, relation in enumerate(relations):
            con.execute(f"create table t{i} as select * from wh.{_relation(relation)}")


def changed_rows(warehouse: Path, snapshot: Path, relations: list[str]) -> dict[str, int | None]:
    """Rows of each relation that are new or different since the snapshot (what an incremental run wrote)."""
    counts: dict[str, int | None] = {}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        for i, relation in enumerate(relations):
            try:
                counts[relation] = con.execute(
                    f"select count(*) from (select * from wh.{_relation(relation)} except all select * from t{i})"
                ).fetchone()[0]
            except duckdb.Error:  # columns added since: no like-for-like comparison
                counts[relation] = None
    return counts


def count_events(events_dir: Path, since: date | None = None) -> int:
    """Events in the sandbox's files (received on or after `since`, when given)."""
    import pyarrow.parquet as pq

    total = 0
    for folder in sorted(events_dir.glob("received_date=*")):
        if since and date.fromisoformat(folder.name.split("=", 1)[1]) < since:
            continue
        for path in folder.iterdir():
            if path.suffix == ".parquet":
                total += pq.read_metadata(path).num_rows
            elif path.suffix in (".jsonl", ".json", ".ndjson"):
                with path.open("rb") as handle:
                    total += sum(1 for line in handle if line.strip())
    return total


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
