"""The renewal forecast learns from the company's own renewals and is better for it: scored on the renewals of the
last ten months of the small company's history, each with the probability the forecast would have given it 90 days
before, its Brier score beats the naive prior's. The renewal history it learns from agrees with the simulator, and
the forecast lists every term renewal of the next six months."""

from __future__ import annotations

import duckdb
import pytest

from tests.dbt.renewal_calibration import backtest, brier, reliability
from tests.support import Company

pytestmark = pytest.mark.slow
SPLIT = "2026-01-01"  # renewals before it are history only; the ones after are scored


@pytest.fixture(scope="module")
def scored(small_company: Company) -> list[dict]:
    return backtest(small_company.warehouse, small_company.truth, SPLIT)


def test_the_renewal_history_agrees_with_the_simulator(small_company: Company) -> None:
    rows = backtest(small_company.warehouse, small_company.truth, "2000-01-01")
    assert len(rows) >= 300
    agree = sum(row["is_renewed"] == row["truly_renewed"] for row in rows) / len(rows)
    assert agree >= 0.98


def test_the_calibrated_probability_beats_the_prior(scored: list[dict]) -> None:
    assert len(scored) >= 150 and sum(not row["truly_renewed"] for row in scored) >= 15
    calibrated, prior = brier(scored, "renewal_probability"), brier(scored, "prior_renewal_probability")
    assert calibrated <= prior, (calibrated, prior, reliability(scored, "renewal_probability"))


def test_red_renews_less_often_than_green_and_the_forecast_knows_it(scored: list[dict]) -> None:
    def mean(band: str, column: str) -> float:
        rows = [row for row in scored if row["health_status"] == band]
        return sum(row[column] for row in rows) / len(rows)

    assert mean("red", "truly_renewed") < mean("green", "truly_renewed")
    assert mean("red", "renewal_probability") < mean("green", "renewal_probability")


def test_every_term_renewal_of_the_next_six_months_is_forecast(small_company: Company) -> None:
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        missing = con.execute(
            """
            select c.account_id from marts.customer_360 c
            where c.billing_interval in ('annual', 'quarterly') and c.mrr_usd > 0
              and c.renewal_date >= c.as_of_date and c.renewal_date < c.as_of_date + interval 6 month
              and c.account_id not in (select account_id from marts.renewal_forecast)
            """
        ).fetchall()
        listed = con.execute("select count(*), sum(arr_usd) from marts.renewal_forecast").fetchone()
    assert missing == []
    assert listed[0] >= 100 and listed[1] > 0
