"""The billing component's downgrade signal: each scored day's 90-day MRR high is the highest MRR of the 90 days
before it, a day the account was not a customer counting as 0. The model computes it with a range window over the
customer days alone (not on its day grid); here it is recomputed day by day in Python from the same table's daily
MRR, for every scored day whose 90 days before are all in the table."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import duckdb
import pytest

from tests.support import Company

pytestmark = pytest.mark.slow

SAMPLED_ACCOUNTS = 120


def test_the_90_day_mrr_high_is_the_highest_mrr_of_the_90_days_before(small_company: Company) -> None:
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        rows = con.execute(
            """
            with sampled as (
                select distinct account_id from intermediate.int_health__component_scores
                order by hash(account_id) limit ?
            )
            select account_id, day, mrr_usd, mrr_usd_90d_high
            from intermediate.int_health__component_scores
            where account_id in (select account_id from sampled)
            """,
            [SAMPLED_ACCOUNTS],
        ).fetchall()
        (first_day,) = con.execute("select min(day) from intermediate.int_health__component_scores").fetchone()
    mrr: dict[str, dict[date, float]] = defaultdict(dict)
    for account, day, mrr_usd, _ in rows:
        mrr[account][day] = mrr_usd or 0.0
    checked = downgrades = 0
    wrong = []
    for account, day, mrr_usd, high in rows:
        if day < first_day + timedelta(days=90):
            continue  # part of its 90 days is before the scored history
        expected = max(mrr[account].get(day - timedelta(days=back), 0.0) for back in range(1, 91))
        checked += 1
        downgrades += expected > (mrr_usd or 0) + 0.01 and (mrr_usd or 0) > 0
        if high is None or abs(high - expected) > 1e-6:
            wrong.append((account, day, high, expected))
    assert checked > 10_000, checked
    assert downgrades > 50, downgrades  # the sample holds downgrades, so the check can tell a wrong window
    assert not wrong, f"{len(wrong)} of {checked} days differ, e.g. {wrong[:5]}"
