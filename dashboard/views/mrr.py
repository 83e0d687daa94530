"""MRR: the trend of ending MRR and the month's MRR bridge (starting + new + reactivation + expansion − contraction
− churn = ending) as a waterfall, from mrr_summary."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.components import money, month_label
from dashboard.data import query

BRIDGE = [  # (label, column, sign): the bridge's order, as in the DECISIONLOG
    ("Starting", "starting_mrr_usd", 0),
    ("New", "new_mrr_usd", 1),
    ("Reactivation", "reactivation_mrr_usd", 1),
    ("Expansion", "expansion_mrr_usd", 1),
    ("Contraction", "contraction_mrr_usd", -1),
    ("Churn", "churned_mrr_usd", -1),
    ("Ending", "ending_mrr_usd", 0),
]
COLOURS = {"total": "#4c78a8", "gain": "#54a24b", "loss": "#e45756"}


def bridge_steps(month: pd.Series) -> pd.DataFrame:
    """The waterfall's bars: totals stand on zero, each movement floats from the running total."""
    rows, running = [], 0.0
    for label, column, sign in BRIDGE:
        amount = float(month[column])
        if sign == 0:
            low, high, kind, running = 0.0, amount, "total", amount
        else:
            after = running + sign * amount
            low, high, kind, running = min(running, after), max(running, after), "gain" if sign > 0 else "loss", after
        shown = amount if sign == 0 else sign * amount
        rows.append({"step": label, "low": low, "high": high, "kind": kind, "amount": money(shown)})
    return pd.DataFrame(rows)


def waterfall(steps: pd.DataFrame) -> alt.LayerChart:
    """The bridge; the axis starts below the lowest point the movements reach (the totals are cut there), so a month's
    movements stay visible beside a much larger MRR."""
    floating = steps[steps["kind"] != "total"]
    lowest = min(steps["high"][steps["kind"] == "total"].min(), floating["low"].min())
    highest = steps["high"].max()
    floor = max(0.0, lowest - (highest - lowest) * 0.5) if highest > lowest else 0.0
    scale = alt.Scale(domain=[floor, highest * 1.02 or 1.0], clamp=True)
    base = alt.Chart(steps).encode(
        x=alt.X("step:N", sort=[label for label, _, _ in BRIDGE], title=None, axis=alt.Axis(labelAngle=0))
    )
    bars = base.mark_bar().encode(
        y=alt.Y("low:Q", title="MRR (USD)", axis=alt.Axis(format="$,.0f"), scale=scale),
        y2="high:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())), legend=None),
        tooltip=["step", "amount"],
    )
    labels = base.mark_text(dy=-8).encode(y="high:Q", text="amount:N")
    return (bars + labels).properties(height=380)


def render() -> None:
    st.title("MRR")
    summary = query(
        "select month, is_month_complete, starting_mrr_usd, new_mrr_usd, reactivation_mrr_usd, expansion_mrr_usd, "
        "contraction_mrr_usd, churned_mrr_usd, ending_mrr_usd, ending_arr_usd, customers "
        "from marts.mrr_summary order by month"
    )
    if summary.empty:
        st.info("mrr_summary has no months yet.")
        return
    latest = summary.iloc[-1]
    to_date = "" if latest["is_month_complete"] else " (to date)"
    first, second, third = st.columns(3)
    first.metric(
        f"Ending MRR · {month_label(latest['month'])}{to_date}",
        money(latest["ending_mrr_usd"]),
        delta=money(float(latest["ending_mrr_usd"]) - float(latest["starting_mrr_usd"])),
        delta_description="since the start of the month",
    )
    second.metric("ARR", money(latest["ending_arr_usd"]))
    third.metric("Paying customers", f"{int(latest['customers']):,}")

    st.subheader("MRR trend")
    trend = summary.assign(ending_mrr=summary["ending_mrr_usd"].astype(float))
    st.altair_chart(
        alt.Chart(trend)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("ending_mrr:Q", title="Ending MRR (USD)", axis=alt.Axis(format="$,.0f")),
            tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), alt.Tooltip("ending_mrr:Q", format="$,.0f")],
        )
        .properties(height=300),
        width="stretch",
    )

    st.subheader("MRR bridge")
    labels = [month_label(m) for m in summary["month"]]
    complete = [i for i, done in enumerate(summary["is_month_complete"]) if done]
    chosen = st.selectbox("Month", labels, index=complete[-1] if complete else len(labels) - 1)
    month = summary.iloc[labels.index(chosen)]
    st.altair_chart(waterfall(bridge_steps(month)), width="stretch")
    movements = " ".join(
        f"{'−' if sign < 0 else '+'} {label.lower()} {money(month[column])}" for label, column, sign in BRIDGE[1:-1]
    )
    st.markdown(
        f"**{chosen}**: starting {money(month['starting_mrr_usd'])} {movements} = "
        f"ending **{money(month['ending_mrr_usd'])}**"
    )
