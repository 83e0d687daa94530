"""The CSM books are the simulator's books: every account paying at the start of the current quarter is counted in
the book of the CSM the simulator assigned it to, and the books add up to the company's MRR movements."""

from __future__ import annotations

import duckdb
import pytest

from tests.support import Company

pytestmark = pytest.mark.slow


def test_each_account_is_in_the_book_of_its_true_owner(small_company: Company) -> None:
    accounts = small_company.truth / "accounts.parquet"
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        books = dict(
            con.execute(
                """
                select owner_id, accounts_at_start from marts.csm_quarterly_retention
                where quarter_start = (select max(quarter_start) from marts.csm_quarterly_retention)
                """
            ).fetchall()
        )
        truth = dict(
            con.execute(
                f"""
                select t.owner_id, count(*) from read_parquet('{accounts}') t
                join marts.mrr_movements m on m.account_id = t.account_id
                where m.month = (select max(quarter_start) from marts.csm_quarterly_retention)
                  and m.starting_mrr_usd > 0
                group by 1
                """
            ).fetchall()
        )
    assert len(truth) >= 10
    assert books == truth


def test_the_books_add_up_to_the_company(small_company: Company) -> None:
    with duckdb.connect(str(small_company.warehouse), read_only=True) as con:
        gaps = con.execute(
            """
            with books as (
                select quarter_start, sum(churned_mrr_usd + contraction_mrr_usd - expansion_mrr_usd
                                          - reactivation_mrr_usd) as net
                from marts.csm_quarterly_retention group by 1
            ), company as (
                select date_trunc('quarter', month)::date as quarter_start,
                    sum(churned_mrr_usd + contraction_mrr_usd - expansion_mrr_usd - reactivation_mrr_usd) as net
                from marts.mrr_movements group by 1
            )
            select count(*), max(abs(books.net - company.net)) from books join company using (quarter_start)
            """
        ).fetchone()
    assert gaps[0] >= 8 and gaps[1] < 0.005
