"""Health: how the book splits into green / yellow / red today, and that split week by week (customer_health_daily).

A week is represented by its last scored day, so each account counts once per week with the status it ended on.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.components import STATUS_COLOURS
from dashboard.data import query

STATUSES = ["green", "yellow", "red"]

WEEKLY_STATUS = """
with scored as (
    select health_date, health_status from marts.customer_health_daily where health_status is not null
),
week_ends as (
    select date_trunc('week', health_date) as week, max(health_date) as health_date from scored group by 1
)
select week_ends.week, week_ends.health_date, scored.health_status, count(*) as accounts
from week_ends
inner join scored on scored.health_date = week_ends.health_date
group by all
order by week_ends.week, scored.health_status
"""


def render() -> None:
    st.title("Health")
    weekly = query(WEEKLY_STATUS)
    if weekly.empty:
        st.info("customer_health_daily has no scored days yet.")
        return
    latest_day = weekly["health_date"].max()
    today = weekly[weekly["health_date"] == latest_day]
    counts = dict(zip(today["health_status"], today["accounts"], strict=True))
    total = sum(counts.values())
    st.caption(f"Accounts scored on {latest_day:%Y-%m-%d}: {total:,}")
    for column, status in zip(st.columns(len(STATUSES)), STATUSES, strict=True):
        count = int(counts.get(status, 0))
        column.metric(
            status.capitalize(),
            f"{count:,}",
            delta=f"{100 * count / total:.1f}% of accounts",
            delta_color="off",
            delta_arrow="off",
        )

    # Every week has all three statuses (zero where none), so the stacked areas stay continuous.
    counts_by_week = weekly.pivot_table(index="week", columns="health_status", values="accounts", fill_value=0)
    weekly = counts_by_week.reindex(columns=STATUSES, fill_value=0).stack().rename("accounts").reset_index()
    weekly["share"] = weekly["accounts"] / weekly.groupby("week")["accounts"].transform("sum")
    st.subheader("Share of accounts by health status, per week")
    st.altair_chart(
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=alt.X("yearweek(week):O", title="Week", axis=alt.Axis(format="%b %Y", labelAngle=0, labelOverlap=True)),
            y=alt.Y("share:Q", stack="normalize", title=None, axis=alt.Axis(format="%")),
            color=alt.Color(
                "health_status:N",
                title="Status",
                scale=alt.Scale(domain=STATUSES, range=[STATUS_COLOURS[s] for s in STATUSES]),
                sort=STATUSES,
            ),
            order=alt.Order("status_order:Q"),
            tooltip=["week:T", "health_status", "accounts", alt.Tooltip("share:Q", format=".1%")],
        )
        .transform_calculate(status_order="indexof(['green', 'yellow', 'red'], datum.health_status)")
        .properties(height=360),
        width="stretch",
    )
