"""Renewals coming up: from renewal_forecast (probability, expected and at-risk ARR) once that mart is published,
until then from customer_360's renewal dates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.components import money, table
from dashboard.data import marts, query

FORECAST_COLUMNS = [  # shown in this order when the forecast has them
    "renewal_date", "days_to_renewal", "company_name", "arr_usd", "renewal_probability", "expected_arr_usd",
    "arr_at_risk_usd", "health_status", "owner_name", "billing_interval", "is_cancellation_scheduled", "health_score",
    "segment",
]  # fmt: skip
FROM_CUSTOMER_360 = """
select
    renewal_date,
    datediff('day', as_of_date, renewal_date) as days_to_renewal,
    company_name,
    arr_usd,
    health_status,
    coalesce(owner_name, 'Unassigned') as owner_name,
    billing_interval,
    is_cancellation_scheduled,
    health_score,
    segment,
    plan_name
from marts.customer_360
where arr_usd > 0 and renewal_date >= as_of_date and renewal_date <= as_of_date + ?::integer
order by renewal_date, arr_usd desc
"""


def from_forecast(days: int) -> pd.DataFrame:
    present = set(query("select * from marts.renewal_forecast limit 0").columns)
    columns = [c for c in FORECAST_COLUMNS if c in present] or ["*"]
    within = (
        "days_to_renewal <= ?::integer" if "days_to_renewal" in present else "renewal_date <= current_date + ?::integer"
    )
    return query(
        f"select {', '.join(columns)} from marts.renewal_forecast where {within} order by renewal_date", (days,)
    )


def render() -> None:
    st.title("Renewals coming up")
    days = st.select_slider("Renewing within (days)", options=[30, 60, 90, 120, 180], value=90)
    forecast = "renewal_forecast" in marts()
    renewals = from_forecast(days) if forecast else query(FROM_CUSTOMER_360, (days,))
    source = "renewal_forecast" if forecast else "customer_360"
    st.caption(
        "From renewal_forecast: probability calibrated by health band."
        if forecast
        else "From customer_360's renewal dates (the renewal forecast appears here once renewal_forecast is published)."
    )
    figures = st.columns(4 if forecast else 3)
    figures[0].metric("Renewals", f"{len(renewals):,}")
    figures[1].metric("ARR up for renewal", money(renewals["arr_usd"].sum() if "arr_usd" in renewals else None))
    if forecast:
        figures[2].metric("Expected ARR", money(renewals.get("expected_arr_usd", pd.Series(dtype=float)).sum()))
        figures[3].metric("ARR at risk", money(renewals.get("arr_at_risk_usd", pd.Series(dtype=float)).sum()))
    else:
        unhealthy = renewals[renewals["health_status"].isin(["red", "yellow"])]
        figures[2].metric("ARR renewing red or yellow", money(unhealthy["arr_usd"].sum()))
    if renewals.empty:
        st.info(f"No renewal in the next {days} days.")
        return
    table(renewals, source, height=520)
