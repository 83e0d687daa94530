"""The health bands mean a churn risk: with thresholds fitted each quarter on the outcomes known before it, the
accounts the mart called red churned within 90 days at least 25% of the time and the green ones at most 5% — judged
by the simulator's own record of who churned when, not by the billing data the thresholds were fitted on. The fixed
40 / 70 thresholds they replace put almost nobody in red."""

from __future__ import annotations

import duckdb
import pytest

from tests.support import Company

pytestmark = pytest.mark.slow
HORIZON_DAYS = 90


def band_churn(company: Company, band_sql: str) -> dict[str, tuple[int, float]]:
    """Samples and truth churn rate within 90 days per band, over the monthly samples of calibrated quarters."""
    churn = company.truth / "churn_events.parquet"
    with duckdb.connect(str(company.warehouse), read_only=True) as con:
        rows = con.execute(
            f"""
            with samples as (
                select h.*, exists (
                    select 1 from read_parquet('{churn}') c
                    where c.event = 'churn' and c.account_id = h.account_id
                      and c.on_date > h.health_date and c.on_date <= h.health_date + interval {HORIZON_DAYS} day
                ) as churns
                from marts.customer_health_daily h
                where day(h.health_date) = 1 and h.mrr_usd > 0 and h.thresholds_method = 'calibrated'
                  and h.health_date <= date '{company.today.isoformat()}' - interval {HORIZON_DAYS} day
            )
            select {band_sql} as band, count(*), avg(case when churns then 1.0 else 0.0 end)
            from samples group by 1
            """
        ).fetchall()
    return {band: (samples, rate) for band, samples, rate in rows}


@pytest.fixture(scope="module")
def calibrated(small_company: Company) -> dict[str, tuple[int, float]]:
    return band_churn(small_company, "health_status")


def test_enough_calibrated_history_to_judge(calibrated: dict[str, tuple[int, float]]) -> None:
    assert sum(samples for samples, _ in calibrated.values()) >= 3000


def test_red_accounts_churn_at_least_the_red_target(calibrated: dict[str, tuple[int, float]]) -> None:
    samples, rate = calibrated["red"]
    assert samples >= 100 and rate >= 0.25, calibrated


def test_green_accounts_churn_at_most_the_green_target(calibrated: dict[str, tuple[int, float]]) -> None:
    _, rate = calibrated["green"]
    assert rate <= 0.05, calibrated


def test_the_bands_order_the_risk(calibrated: dict[str, tuple[int, float]]) -> None:
    assert calibrated["red"][1] > calibrated["yellow"][1] > calibrated["green"][1]


def test_the_fixed_thresholds_left_red_almost_empty(
    small_company: Company, calibrated: dict[str, tuple[int, float]]
) -> None:
    fixed = band_churn(
        small_company,
        "case when health_score >= 70 then 'green' when health_score < 40 then 'red' else 'yellow' end",
    )
    total = sum(samples for samples, _ in fixed.values())
    assert fixed.get("red", (0, 0.0))[0] / total < 0.01
    assert calibrated["red"][0] / total > 0.05


def test_the_published_calibration_matches_the_daily_status(small_company: Company) -> None:
    """health_band_calibration counts the same samples, in the same bands, as customer_health_daily shows."""
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        daily = con.execute(
            "select date_trunc('quarter', health_date)::date, health_status, count(*) from marts.customer_health_daily "
            "where day(health_date) = 1 and mrr_usd > 0 group by all"
        ).fetchall()
        published = con.execute(
            "select quarter_start, health_status, samples from marts.health_band_calibration where samples > 0"
        ).fetchall()
    assert sorted(daily) == sorted(published)
