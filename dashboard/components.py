"""How every page shows figures and tables, so the same number reads the same everywhere."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard.data import column_docs

STATUS_COLOURS = {"green": "#54a24b", "yellow": "#eeca3b", "red": "#e45756", "unscored": "#bab0ac"}


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: object) -> str:
    """Whole US dollars with thousands separators ("$12,345", "−$250"); "–" when unknown."""
    if is_missing(value):
        return "–"
    amount = round(float(value))
    return f"{'−' if amount < 0 else ''}${abs(amount):,}"


def percent(value: object, digits: int = 1) -> str:
    """A ratio (1.0 = 100%) as a percentage."""
    return "–" if is_missing(value) else f"{100 * float(value):.{digits}f}%"


def ratio(value: object) -> str:
    return "–" if is_missing(value) else f"{float(value):.2f}"


def month_label(value: object) -> str:
    return pd.Timestamp(value).strftime("%b %Y")


def _is_date_only(values: pd.Series) -> bool:
    """DuckDB DATE columns arrive as midnight timestamps: show them as dates."""
    present = values.dropna()
    return present.empty or bool((present == present.dt.normalize()).all())


def table(frame: pd.DataFrame, mart: str, height: int | None = None, narrow: tuple[str, ...] = ()) -> None:
    """A table whose column headers carry dbt's description of the column as a tooltip; `narrow` columns (long
    text) are cut to a medium width so the columns after them stay in view (the full text shows on hover)."""
    docs = column_docs(mart)
    config: dict[str, object] = {}
    for column in frame.columns:
        options = {"help": docs.get(column) or None, "width": "medium" if column in narrow else None}
        if column.endswith("_usd"):
            config[column] = st.column_config.NumberColumn(column, format="dollar", **options)
        elif pd.api.types.is_datetime64_any_dtype(frame[column]) and _is_date_only(frame[column]):
            config[column] = st.column_config.DateColumn(column, format="YYYY-MM-DD", **options)
        else:
            config[column] = st.column_config.Column(column, **options)
    options = {"height": height} if height else {}
    st.dataframe(frame, hide_index=True, column_config=config, width="stretch", **options)
