"""The MRR projection starts from the simulator's own numbers: today's MRR, the average new MRR and the net MRR
churn rate of the last three complete months, as the simulator recorded them, and compounds them month by month."""

from __future__ import annotations

import duckdb
import pytest

from tests.support import Company

pytestmark = pytest.mark.slow


def test_the_projection_compounds_the_true_recent_rates(small_company: Company) -> None:
    truth = small_company.truth / "mrr_monthly.parquet"
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        base_mrr, new_mrr, churn_rate = con.execute(
            f"""
            with months as (
                select month, sum(mrr_usd) as ending,
                    sum(case when movement_type = 'new' then movement_usd else 0 end) as new,
                    sum(case when movement_type in ('churn', 'contraction') then movement_usd
                             when movement_type in ('expansion', 'reactivation') then -movement_usd else 0 end) as lost
                from read_parquet('{truth}') group by month
            ), recent as (
                select *, lag(ending) over (order by month) as starting from months
            )
            select max_by(ending, month), avg(new), sum(lost) / sum(starting)
            from (select * from recent order by month desc limit 3)
            """
        ).fetchone()
        rows = dict(
            con.execute(
                "select month_number, ending_mrr_usd from marts.mrr_projection where scenario = 'current'"
            ).fetchall()
        )
        five = con.execute(
            "select ending_mrr_usd from marts.mrr_projection where scenario = 'churn_5pct' and month_number = 24"
        ).fetchone()[0]
    expected = base_mrr
    for month in range(1, 25):
        expected = expected * (1 - churn_rate) + new_mrr
        assert rows[month] == pytest.approx(expected, rel=0.005), month
    assert five < rows[24]  # more churn, less MRR
