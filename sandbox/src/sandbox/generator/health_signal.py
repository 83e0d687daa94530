"""Can a health score see churn coming in this sandbox? A prototype to tune the simulation, not product code.

For monthly snapshots of history, every paying account gets the signals the product's dbt health score will
use, computed as of the snapshot from what the vendors expose (rendered world tables, event files, survey
CSVs) — never from ground truth, which only gives the label: does the account churn within the next 90 days.
It reports the ROC AUC of a weighted component score and of each signal alone, so the simulation can keep
churn predictable but not trivial.

    python -m sandbox.generator.health_signal data/sandbox
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sandbox.generator.views import connect
from sandbox.manifest import Manifest

HORIZON_DAYS = 90

SIGNALS_SQL = """
with
snapshots as (
    select s::date as as_of from range(date_trunc('month', $start::date + interval 4 month),
                                    $today::date - interval 90 day, interval 1 month) as t(s)
),
paying as (  -- accounts with a paid recurring line covering the snapshot, and its seats
    select sn.as_of, c.account_id, max(l.quantity) as seats
    from snapshots as sn
    join stripe_invoice_lines as l
        on to_timestamp(l.period_start) < sn.as_of and sn.as_of <= to_timestamp(l.period_end) and l.amount > 0
        and not l.proration
    join stripe_invoices as i on i.id = l.invoice and i.status <> 'void'
    join stripe_prices as p on p.id = l.price and p.recurring_usage_type = 'licensed'
    join stripe_subscriptions as s on s.id = l.subscription
        and (s.ended_at is null or to_timestamp(s.ended_at) >= sn.as_of)
    join stripe_customers as c on c.id = s.customer
    group by all
),
daily as (
    select groupId as account_id, timestamp::date as day, count(distinct messageId) as events,
        count(distinct userId) as users
    from events group by all
),
daily_features as (select distinct groupId as account_id, timestamp::date as day, event from events),
usage as (
    select p.as_of, p.account_id,
        coalesce(sum(d.users) filter (where d.day >= p.as_of - 28), 0) / 28.0 as users_30,
        coalesce(sum(d.events) filter (where d.day >= p.as_of - 28), 0) as events_30,
        coalesce(sum(d.events) filter (where d.day < p.as_of - 28), 0) as events_prev_30
    from paying as p
    left join daily as d on d.account_id = p.account_id and d.day between p.as_of - 56 and p.as_of - 1
    group by all
),
breadth as (
    select p.as_of, p.account_id, count(distinct f.event) as features_30
    from paying as p left join daily_features as f
        on f.account_id = p.account_id and f.day between p.as_of - 30 and p.as_of - 1
    group by all
),
nps as (
    select account_id, submitted_at, score::int as score from typeform_responses
    union all
    select account_id, submitted_at::timestamptz, score::int from survey_csv
),
latest_nps as (
    select p.as_of, p.account_id, arg_max(n.score, n.submitted_at) as nps
    from paying as p join nps as n on n.account_id = p.account_id and n.submitted_at < p.as_of
    group by all
),
companies as (select id as company_id, account_id, cs_segment from hubspot_companies),
support as (
    select p.as_of, p.account_id,
        count(*) filter (where t.createdate < p.as_of and (t.closed_date is null or t.closed_date >= p.as_of))
            as open_tickets,
        count(*) filter (where t.hs_ticket_priority in ('HIGH', 'URGENT')
                         and t.createdate >= p.as_of - interval 30 day and t.createdate < p.as_of)
            as high_tickets_30,
        count(*) filter (where t.createdate >= p.as_of - interval 90 day and t.createdate < p.as_of)
            as tickets_90
    from paying as p join companies as c using (account_id)
    left join hubspot_tickets as t on t.company_id = c.company_id
    group by all
),
touch as (
    select p.as_of, p.account_id, date_diff('day', max(e.hs_timestamp), p.as_of) as days_since_touch
    from paying as p join companies as c using (account_id)
    join hubspot_engagements as e on e.company_id = c.company_id and e.hs_timestamp < p.as_of
    group by p.as_of, p.account_id
),
champion as (
    select p.as_of, p.account_id,
        count(*) filter (where k.cs_is_champion = 'true' and k.createdate < p.as_of
                         and (k.cs_left_company_date is null or k.cs_left_company_date >= p.as_of)) > 0
            as has_champion
    from paying as p join companies as c using (account_id)
    left join hubspot_contacts as k on k.company_id = c.company_id
    group by all
),
billing as (
    select p.as_of, p.account_id,
        count(distinct i.id) filter (where i.attempt_count > 1) as failed_payments_90
    from paying as p join stripe_customers as c using (account_id)
    left join stripe_invoices as i on i.customer = c.id
        and to_timestamp(i.created) >= p.as_of - interval 90 day and to_timestamp(i.created) < p.as_of
    group by all
),
line_history as (
    select c.account_id, to_timestamp(l.period_start) as period_start, l.quantity,
        case split_part(pr.lookup_key, '_', 1) when 'starter' then 1 when 'growth' then 2 else 3 end as tier,
        lag(l.quantity) over w as previous_quantity,
        lag(case split_part(pr.lookup_key, '_', 1) when 'starter' then 1 when 'growth' then 2 else 3 end)
            over w as previous_tier
    from stripe_invoice_lines as l
    join stripe_invoices as i on i.id = l.invoice and i.status <> 'void'
    join stripe_prices as pr on pr.id = l.price and pr.recurring_usage_type = 'licensed'
    join stripe_subscriptions as s on s.id = l.subscription
    join stripe_customers as c on c.id = s.customer
    where l.amount > 0 and not l.proration
    window w as (partition by l.subscription order by l.period_start)
),
downgrades as (
    select p.as_of, p.account_id, count(*) as downgrades_90
    from paying as p join line_history as h on h.account_id = p.account_id
        and h.period_start >= p.as_of - interval 90 day and h.period_start < p.as_of
        and (h.quantity < h.previous_quantity or h.tier < h.previous_tier)
    group by all
),
labels as (  -- ground truth, for the label only
    select p.as_of, p.account_id, count(ch.account_id) > 0 as churns
    from paying as p left join truth_churn_events as ch on ch.account_id = p.account_id and ch.event = 'churn'
        and ch.on_date >= p.as_of and ch.on_date < p.as_of + $horizon
    group by all
)
select p.as_of, p.account_id, co.cs_segment as segment, p.seats, u.users_30, u.events_30, u.events_prev_30,
    b.features_30, n.nps, s.open_tickets, s.high_tickets_30, s.tickets_90, t.days_since_touch,
    ch.has_champion, bi.failed_payments_90, coalesce(d.downgrades_90, 0) as downgrades_90, l.churns
from paying as p
join companies as co using (account_id)
join usage as u using (as_of, account_id)
join breadth as b using (as_of, account_id)
left join latest_nps as n using (as_of, account_id)
join support as s using (as_of, account_id)
left join touch as t using (as_of, account_id)
join champion as ch using (as_of, account_id)
join billing as bi using (as_of, account_id)
left join downgrades as d using (as_of, account_id)
join labels as l using (as_of, account_id)
order by as_of, account_id
"""


def signals(directory: Path) -> pd.DataFrame:
    """One row per (snapshot, paying account): the observable signals and the 90-day churn label."""
    manifest = Manifest.read(directory)
    con = connect(directory)
    try:
        params = {"start": manifest.start_date, "today": manifest.today, "horizon": HORIZON_DAYS}
        return con.execute(SIGNALS_SQL, params).df()
    finally:
        con.close()


def components(frame: pd.DataFrame) -> pd.DataFrame:
    """Component scores 0–100 (higher is healthier), as the dbt health score defines them; NaN when no
    data."""
    utilisation = frame["users_30"] / frame["seats"].clip(lower=1)
    # Utilisation differs by segment (big seat counts include occasional viewers): benchmark it per segment,
    # as the dbt seeds will (the median account of its segment scores 50).
    benchmark = utilisation.groupby(frame["segment"]).transform("median")
    trend = (frame["events_30"] + 1) / (frame["events_prev_30"] + 1)
    touch = frame["days_since_touch"].astype(float)
    return pd.DataFrame(
        {
            "usage": (utilisation / benchmark * 50).clip(0, 100),
            "usage_trend": (100 * trend - 20).clip(0, 100),
            "adoption": (frame["features_30"] / 8 * 100).clip(0, 100),
            "sentiment": frame["nps"].astype(float) * 10,
            "support": (100 - 12 * frame["open_tickets"] - 12 * frame["high_tickets_30"]).clip(0, 100),
            "relationship": 0.6 * frame["has_champion"].astype(float) * 100
            + 0.4 * (100 - touch.fillna(365) / 90 * 100).clip(0, 100),
            "billing": (100 - 50 * frame["failed_payments_90"] - 40 * frame["downgrades_90"]).clip(0, 100),
        }
    )


WEIGHTS = {
    "usage": 0.25,
    "usage_trend": 0.25,
    "adoption": 0.1,
    "sentiment": 0.15,
    "support": 0.1,
    "relationship": 0.1,
    "billing": 0.05,
}


def health_score(parts: pd.DataFrame, weights: dict[str, float] = WEIGHTS) -> pd.Series:
    """Weighted mean of the components present (a missing one is left out and the weights re-normalised)."""
    w = pd.Series(weights)
    present = parts[w.index].notna()
    total = (parts[w.index].fillna(0) * w).sum(axis=1)
    return total / (present * w).sum(axis=1)


def roc_auc(risk: pd.Series, label: pd.Series) -> float:
    """Probability that a churner ranks riskier than a non-churner (ties count half): Mann–Whitney."""
    ranks = risk.rank(method="average").to_numpy()
    positive = label.to_numpy().astype(bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def report(directory: Path) -> dict[str, float]:
    """AUC of the health score and of each component alone (risk = 100 − score; missing data = neutral 50),
    and the share of churners the score still calls green (≥ 70): churn no signal saw coming."""
    frame = signals(directory)
    parts = components(frame)
    score = health_score(parts)
    label = frame["churns"].astype(bool)
    result = {
        "snapshots": float(frame["as_of"].nunique()),
        "account_snapshots": float(len(frame)),
        "churn_rate_90d": float(label.mean()),
        "health_score": roc_auc(-score, label),
    }
    for name in parts.columns:
        result[name] = roc_auc(-parts[name].fillna(50), label)
    result["churners_scored_green"] = float((score[label] >= 70).mean())
    result["non_churners_scored_red"] = float((score[~label] < 40).mean())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    for name, value in report(args.directory).items():
        print(f"{name:>20}: {value:,.3f}" if value < 10 else f"{name:>20}: {value:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
