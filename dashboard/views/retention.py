"""Retention: gross and net revenue retention, quick ratio and logo churn per month, from mrr_summary.

The headline figures are the last complete month's: the current month is measured to date and would flatter or
punish the ratios until it closes.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.components import month_label, percent, ratio
from dashboard.data import query


def render() -> None:
    st.title("Retention")
    summary = query(
        "select month, gross_revenue_retention, net_revenue_retention, quick_ratio, logo_churn_rate, "
        "net_mrr_churn_rate from marts.mrr_summary where is_month_complete and starting_mrr_usd > 0 order by month"
    )
    if summary.empty:
        st.info("No complete month with starting MRR yet: retention needs a month that began with customers.")
        return
    latest = summary.iloc[-1]
    st.caption(f"Headline figures: {month_label(latest['month'])}, the last complete month.")
    grr, nrr, quick, logo = st.columns(4)
    grr.metric("Gross revenue retention", percent(latest["gross_revenue_retention"]))
    nrr.metric("Net revenue retention", percent(latest["net_revenue_retention"]))
    quick.metric(
        "Quick ratio", ratio(latest["quick_ratio"]), help="(new + reactivation + expansion) / (churn + contraction)"
    )
    logo.metric("Logo churn", percent(latest["logo_churn_rate"]))

    retention = summary.melt(
        id_vars="month", value_vars=["gross_revenue_retention", "net_revenue_retention"], var_name="ratio"
    )
    retention["ratio"] = retention["ratio"].map({"gross_revenue_retention": "GRR", "net_revenue_retention": "NRR"})
    retention["value"] = retention["value"].astype(float)
    st.subheader("GRR and NRR by month")
    st.altair_chart(
        alt.Chart(retention)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=alt.Color("ratio:N", title=None),
            tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), "ratio", alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(height=300),
        width="stretch",
    )
    st.subheader("Quick ratio by month")
    st.caption("Above 1: the month added more MRR than it lost. Empty where nothing was lost (no ratio).")
    quick_ratio = summary.assign(quick=summary["quick_ratio"].astype(float))
    st.altair_chart(
        alt.Chart(quick_ratio)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("quick:Q", title="Quick ratio"),
            tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), alt.Tooltip("quick:Q", format=".2f")],
        )
        .properties(height=240),
        width="stretch",
    )
