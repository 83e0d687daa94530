"""A page per planning mart (renewal forecast and CSM books excepted: they feed the core pages): its dbt description,
the headline trend where the mart has one, and the mart itself with dbt's column descriptions as tooltips.

Planning marts land one by one; a page appears when its mart is in the serving copy, so a mart that is not built
yet never shows as an error, and one added later shows without a dashboard change.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.components import table
from dashboard.data import query

KNOWN = {  # mart -> page title, in the order of SPEC's marts table
    "nps_summary": "NPS",
    "csm_capacity_plan": "CSM capacity",
    "csm_quarterly_retention": "CSM retention",
    "onboarding_progress": "Onboarding",
    "mrr_projection": "MRR projection",
    "health_band_calibration": "Health bands",
    "playbook_outcomes": "Playbook outcomes",
    "playbook_effectiveness": "Playbook effectiveness",
}
# (x, y, colour) of a line chart worth showing above a mart's rows, when the mart has those columns.
TRENDS = {
    "nps_summary": ("month", "nps", "segment"),
    "mrr_projection": ("month", "mrr_usd", "scenario"),
    "health_band_calibration": ("quarter_start", "observed_churn_rate_90d", "health_status"),
}


def sort_key(mart: str) -> tuple[int, str]:
    order = list(KNOWN)
    return (order.index(mart) if mart in order else len(order), mart)


def title(mart: str) -> str:
    return KNOWN.get(mart, mart.replace("_", " ").capitalize())


def render(mart: str, description: str) -> None:
    st.title(title(mart))
    if description:
        st.caption(description)
    rows = query(f'select * from marts."{mart}"')
    st.metric("Rows", f"{len(rows):,}")
    x, y, colour = TRENDS.get(mart, (None, None, None))
    if x in rows.columns and y in rows.columns:
        trend = rows.assign(**{y: rows[y].astype(float)})
        encoding = {"color": alt.Color(f"{colour}:N")} if colour in rows.columns else {}
        st.altair_chart(
            alt.Chart(trend)
            .mark_line(point=True)
            .encode(x=alt.X(f"{x}:T", title=None), y=alt.Y(f"{y}:Q"), **encoding)
            .properties(height=300),
            width="stretch",
        )
    table(rows, mart, height=520)
