"""Calibration of the renewal forecast, measured honestly: each past renewal is scored with the probability the
forecast would have given it 90 days before (learnt only from outcomes known by then, int_renewals__backtest),
against what the simulator says happened. Brier score and a reliability table by decile, for the calibrated
probability and for the prior alone."""

from __future__ import annotations

from pathlib import Path

import duckdb

CHURN_WINDOW_DAYS = (45, 30)  # a churn this close before / after a renewal date is that renewal lost


def backtest(warehouse: Path, truth_dir: Path, since: str) -> list[dict]:
    """Renewals from `since` on, with both forecasts and the truth: renewed unless the simulator churned the account
    around the renewal date."""
    churn = truth_dir / "churn_events.parquet"
    before, after = CHURN_WINDOW_DAYS
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            f"""
            select b.account_id, b.renewal_date, b.health_status, b.is_renewed,
                b.renewal_probability, b.prior_renewal_probability,
                not exists (
                    select 1 from read_parquet('{churn}') c
                    where c.event = 'churn' and c.account_id = b.account_id
                      and c.on_date between b.renewal_date - interval {before} day
                                        and b.renewal_date + interval {after} day
                ) as truly_renewed
            from intermediate.int_renewals__backtest b
            where b.renewal_date >= date '{since}'
            """
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def brier(rows: list[dict], column: str) -> float:
    """Mean squared error of the probability in `column` against the true outcome (lower is better)."""
    return sum((row[column] - row["truly_renewed"]) ** 2 for row in rows) / len(rows)


def reliability(rows: list[dict], column: str, bins: int = 10) -> list[tuple[float, float, int]]:
    """Mean predicted vs observed renewal rate per decile of the prediction (ties kept in one decile)."""
    ordered = sorted(rows, key=lambda row: row[column])
    table = []
    for i in range(bins):
        chunk = ordered[i * len(ordered) // bins : (i + 1) * len(ordered) // bins]
        if chunk:
            predicted = sum(row[column] for row in chunk) / len(chunk)
            observed = sum(row["truly_renewed"] for row in chunk) / len(chunk)
            table.append((round(predicted, 3), round(observed, 3), len(chunk)))
    return table
