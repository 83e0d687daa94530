"""Reading the BI serving copy: the only place the dashboard touches a database.

The dashboard reads `serving.duckdb` (what `csops run` publishes after every successful build), never the
warehouse: a refresh holds the warehouse's single writer lock, while the serving copy is replaced whole by a rename.
Each query opens the file read-only and closes it again, so the next page view after a publish reads the new file;
results are cached per file identity (inode and modification time), which a publish always changes.

Money arrives as DECIMAL(18,2) (older copies: DOUBLE): pages convert to float only to draw charts, and format
figures from the values as read.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import streamlit as st

from dashboard.serving import published_version, serving_path

SCHEMA = "marts"
CONNECTION_LIMITS = {"threads": 1, "memory_limit": "512MB"}


@st.cache_data(max_entries=256, show_spinner=False)
def _run(version: tuple[str, int, int], sql: str, params: tuple) -> pd.DataFrame:
    with duckdb.connect(version[0], read_only=True, config=CONNECTION_LIMITS) as con:
        return con.execute(sql, list(params)).df()


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Rows of `sql` on the serving copy (tables as `marts.<name>`), as a DataFrame."""
    return _run(published_version(serving_path()), sql, params)


def marts() -> dict[str, str]:
    """The marts the serving copy holds, with dbt's description of each (empty when it has none)."""
    rows = query(
        "select table_name, coalesce(comment, '') as comment from duckdb_tables() where schema_name = ? order by 1",
        (SCHEMA,),
    )
    return dict(zip(rows["table_name"], rows["comment"], strict=True))


def column_docs(table: str) -> dict[str, str]:
    """dbt's column descriptions for `table` (kept as comments in the serving copy), for column tooltips."""
    rows = query(
        "select column_name, coalesce(comment, '') as comment from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index",
        (SCHEMA, table),
    )
    return dict(zip(rows["column_name"], rows["comment"], strict=True))
