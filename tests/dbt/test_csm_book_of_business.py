"""Today's CSM books and the capacity plan built on them are the simulator's books: every account paying today is
counted once, with its ARR, under the owner the simulator gave it, and the plan starts from that book and staff."""

from __future__ import annotations

import duckdb
import pytest

from tests.support import Company

pytestmark = pytest.mark.slow

TRUE_BOOKS = """
    select t.owner_id, count(*) as accounts, sum(m.mrr_usd) * 12 as arr_usd
    from read_parquet('{truth}/accounts.parquet') t
    join read_parquet('{truth}/mrr_monthly.parquet') m on m.account_id = t.account_id
    where m.month = date_trunc('month', date '{today}' - interval 1 day) and m.mrr_usd > 0
    group by 1
"""


def true_books(con: duckdb.DuckDBPyConnection, company: Company) -> dict[str, tuple[int, float]]:
    """Owner -> (paying accounts, ARR) from the simulator's MRR at the last month end before today."""
    query = TRUE_BOOKS.format(truth=company.truth, today=company.today)
    return {owner: (accounts, arr) for owner, accounts, arr in con.execute(query).fetchall()}


def test_books_of_business_are_the_simulators_books(small_company: Company) -> None:
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        truth = true_books(con, small_company)
        books = {
            owner: (accounts, arr)
            for owner, accounts, arr in con.execute(
                "select owner_id, accounts, arr_usd from marts.csm_book_of_business"
            ).fetchall()
        }
        workload_sum, ratio_sum = con.execute(
            """
            select sum(b.workload),
                   sum((b.enterprise_accounts / e.accounts_per_csm) + (b.mid_market_accounts / m.accounts_per_csm)
                       + (b.smb_accounts / s.accounts_per_csm))
            from marts.csm_book_of_business b
            cross join (select * from seeds.csm_coverage_targets where segment = 'enterprise') e
            cross join (select * from seeds.csm_coverage_targets where segment = 'mid_market') m
            cross join (select * from seeds.csm_coverage_targets where segment = 'smb') s
            """
        ).fetchone()
    assert len(truth) >= 10
    assert books.keys() == truth.keys()
    for owner, (accounts, arr) in truth.items():
        assert books[owner][0] == accounts, f"owner {owner}: {books[owner][0]} accounts in the mart, {accounts} true"
        assert books[owner][1] == pytest.approx(arr, abs=0.01), f"owner {owner}: ARR differs from the simulator's"
    assert workload_sum == pytest.approx(ratio_sum)


def test_capacity_plan_starts_from_the_true_book_and_staff(small_company: Company) -> None:
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        truth = true_books(con, small_company)
        current = con.execute(
            """
            select accounts, arr_usd, csms_on_staff from marts.csm_capacity_plan where quarter_number = 0
            """
        ).fetchone()
        quarters = con.execute("select count(*) from marts.csm_capacity_plan").fetchone()[0]
    assert quarters == 5
    assert current[0] == sum(accounts for accounts, _ in truth.values())
    assert current[1] == pytest.approx(sum(arr for _, arr in truth.values()), abs=0.05)
    assert current[2] == len(truth)
