"""ROC AUC of the health score for "churns within the next 90 days", over monthly snapshots of the scored history.

The score is read from the warehouse (built from observable data only); the simulator's truth gives only the labels.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

HORIZON_DAYS = 90
COMPONENTS = (
    "health_score",
    "usage_score",
    "adoption_score",
    "sentiment_score",
    "support_score",
    "relationship_score",
    "billing_score",
)


def snapshots(warehouse: Path, truth_dir: Path, as_of: str) -> list[dict]:
    """One row per account and first-of-month health day, with the label: churned within 90 days after."""
    churn = truth_dir / "churn_events.parquet"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            f"""
            select h.account_id, h.health_date, {", ".join("h." + c for c in COMPONENTS)},
                exists (
                    select 1 from read_parquet('{churn}') c
                    where c.event = 'churn' and c.account_id = h.account_id
                      and c.on_date > h.health_date and c.on_date <= h.health_date + interval {HORIZON_DAYS} day
                ) as churns
            from marts.customer_health_daily h
            where day(h.health_date) = 1 and h.health_date <= date '{as_of}' - interval {HORIZON_DAYS} day
            """
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def auc(rows: list[dict], column: str) -> float:
    """Mann-Whitney AUC of low `column` predicting churn (ties count half); rows without a value are left out."""
    scored = [(r[column], r["churns"]) for r in rows if r[column] is not None]
    positives = [s for s, label in scored if label]
    negatives = [s for s, label in scored if not label]
    if not positives or not negatives:
        raise ValueError("need churners and non-churners to compute an AUC")
    ordered = sorted(scored, key=lambda pair: pair[0])
    ranks: dict[float, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        ranks[ordered[i][0]] = (i + j + 1) / 2  # average rank of the tie group (1-based)
        i = j
    # Low scores mean risk: rank churners by how low they are.
    rank_sum = sum(len(ordered) + 1 - ranks[s] for s in positives)
    return (rank_sum - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives))
