"""CSM books of business: each CSM's paying accounts, ARR, health mix and at-risk ARR. From csm_book_of_business
once that mart is published (it adds workload against the coverage target), until then from customer_360 grouped by
owner."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.components import STATUS_COLOURS, money, table
from dashboard.data import marts, query

FROM_CUSTOMER_360 = """
select
    coalesce(c.owner_name, 'Unassigned') as owner_name,
    any_value(c.owner_email) as owner_email,
    count(*) as accounts,
    sum(c.arr_usd) as arr_usd,
    count(*) filter (where c.health_status = 'green') as green_accounts,
    count(*) filter (where c.health_status = 'yellow') as yellow_accounts,
    count(*) filter (where c.health_status = 'red') as red_accounts,
    count(r.account_id) as at_risk_accounts,
    coalesce(sum(r.arr_at_stake_usd), 0) as at_risk_arr_usd
from marts.customer_360 as c
left join marts.at_risk_accounts as r on r.account_id = c.account_id
where c.arr_usd > 0
group by all
order by arr_usd desc
"""
ARR_BY_OWNER_AND_STATUS = """
select coalesce(owner_name, 'Unassigned') as owner_name, coalesce(health_status, 'unscored') as health_status,
    sum(arr_usd)::double as arr
from marts.customer_360
where arr_usd > 0
group by all
"""


def render() -> None:
    st.title("CSM books of business")
    if "csm_book_of_business" in marts():
        books = query("select * from marts.csm_book_of_business")
        source = "csm_book_of_business"
        st.caption("From csm_book_of_business.")
    else:
        books = query(FROM_CUSTOMER_360)
        source = "customer_360"
        st.caption("Paying accounts in customer_360 by owner (csm_book_of_business replaces this once published).")
    csms = query(
        "select count(distinct owner_id) as csms, sum(arr_usd) as arr from marts.customer_360 where arr_usd > 0"
    ).iloc[0]
    first, second = st.columns(2)
    first.metric("CSMs with paying accounts", f"{int(csms['csms']):,}")
    second.metric("ARR in their books", money(csms["arr"]))
    arr_by_status = query(ARR_BY_OWNER_AND_STATUS)
    if not arr_by_status.empty:
        st.subheader("ARR by CSM and health")
        st.altair_chart(
            alt.Chart(arr_by_status)
            .mark_bar()
            .encode(
                y=alt.Y("owner_name:N", title=None, sort="-x"),
                x=alt.X("arr:Q", title="ARR (USD)", axis=alt.Axis(format="$,.0f")),
                color=alt.Color(
                    "health_status:N",
                    title="Status",
                    scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
                ),
                tooltip=["owner_name", "health_status", alt.Tooltip("arr:Q", format="$,.0f")],
            )
            .properties(height=40 * arr_by_status["owner_name"].nunique() + 40),
            width="stretch",
        )
    table(books, source)
