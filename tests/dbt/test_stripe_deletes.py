"""Stripe's deletes in the models, against the small company's truth (`stripe_deletions`, `mrr_monthly`): a deleted
customer is marked, never live, and its history and churn stay in MRR; lines billed on archived prices still count;
coupons deleted after they were redeemed still discount the subscriptions that hold them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.support import Company


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def deletions(company: Company, object_type: str) -> dict[str, dict]:
    rows = pq.read_table(company.truth / "stripe_deletions.parquet").to_pylist()
    return {r["object_id"]: r for r in rows if r["object_type"] == object_type}


def mrr_differences(company: Company, accounts_sql: str) -> tuple[int, int, int, int]:
    """(account-months, unmatched, MRR differences, movement differences) against the truth, for the accounts the
    SQL selects (one column, account_id, over the truth's files)."""
    truth = company.truth / "mrr_monthly.parquet"
    return query(
        company.warehouse,
        f"""
        with chosen as ({accounts_sql}),
        built as (select * from marts.mrr_movements where account_id in (select account_id from chosen)),
        expected as (select * from read_parquet('{truth}') where account_id in (select account_id from chosen))
        select
            count(*),
            count(*) filter (where m.account_id is null or t.account_id is null),
            count(*) filter (where abs(m.ending_mrr_usd - t.mrr_usd) >= 0.005),
            count(*) filter (where m.movement_type is distinct from t.movement_type)
        from built as m
        full outer join expected as t on m.account_id = t.account_id and m.month = t.month
        """,
    )[0]


def test_deleted_customers_are_marked_never_live_and_keep_their_mrr_history(small_company: Company) -> None:
    deleted = {c: r for c, r in deletions(small_company, "customer").items() if r["story"] != "duplicate"}
    assert len(deleted) > 10
    staged = dict(query(small_company.warehouse, "select customer_id, is_deleted from staging.stg_stripe__customers"))
    assert {c: staged.get(c) for c in deleted} == dict.fromkeys(deleted, True)
    live_duplicates = [c for c in deletions(small_company, "customer") if staged.get(c) is False]
    assert live_duplicates == []

    truth = small_company.truth / "stripe_deletions.parquet"
    chosen = f"select account_id from read_parquet('{truth}') where object_type = 'customer' and story <> 'duplicate'"
    months, unmatched, mrr, movements = mrr_differences(small_company, chosen)
    assert months > 50 and (unmatched, mrr, movements) == (0, 0, 0)

    # Deleting a customer canceled its running subscription at that second: the account's churn is that month.
    ended = query(
        small_company.warehouse,
        "select account_id, max(ended_at) from intermediate.int_billing__subscriptions group by 1",
    )
    ended = {a: at for a, at in ended}
    while_active = [r for r in deleted.values() if r["story"] == "deleted_while_active"]
    assert while_active
    assert {r["account_id"]: ended[r["account_id"]] for r in while_active} == {
        r["account_id"]: r["deleted_at"].replace(tzinfo=None) for r in while_active
    }
    churn_months = set(
        query(
            small_company.warehouse, "select account_id, month from marts.mrr_movements where movement_type = 'churn'"
        )
    )
    churned = [r for r in while_active if (r["account_id"], r["deleted_at"].date().replace(day=1)) in churn_months]
    assert churned  # (a subscription canceled in the month it started never had month-end MRR to lose)

    # customer_360 shows them without a live subscription or MRR, and says the customer was deleted.
    shown = query(
        small_company.warehouse,
        "select account_id, is_billing_customer_deleted, subscription_status, mrr_usd from marts.customer_360",
    )
    accounts = {r["account_id"] for r in deleted.values()}
    assert {(a, flag, status, mrr) for a, flag, status, mrr in shown if a in accounts} == {
        (a, True, None, 0) for a in accounts
    }


def test_lines_billed_on_archived_prices_still_count_in_mrr(small_company: Company) -> None:
    archived = set(deletions(small_company, "price"))
    assert archived
    staged = dict(query(small_company.warehouse, "select price_id, is_active from staging.stg_stripe__prices"))
    assert {p: staged.get(p) for p in archived} == dict.fromkeys(archived, False)
    world = small_company.sandbox / "world"
    billed = query(
        small_company.warehouse,
        f"""
        select count(*) filter (where r.invoice_line_id is null), count(*)
        from read_parquet('{world}/stripe_invoice_lines.parquet') as l
        join read_parquet('{world}/stripe_invoices.parquet') as i on i.id = l.invoice
        join read_parquet('{world}/stripe_prices.parquet') as p on p.id = l.price
        left join intermediate.int_billing__recurring_lines as r on r.invoice_line_id = l.id
        where not p.active and p.recurring_usage_type = 'licensed' and not l.proration and i.status <> 'void'
        """,
    )[0]
    missing, lines = billed
    assert lines > 100 and missing == 0


def test_deleted_coupons_still_discount_the_subscriptions_that_redeemed_them(small_company: Company) -> None:
    deleted = set(deletions(small_company, "coupon"))
    assert deleted
    staged = dict(query(small_company.warehouse, "select coupon_id, is_deleted from staging.stg_stripe__coupons"))
    assert {c: staged.get(c) for c in deleted} == dict.fromkeys(deleted, True)
    world = small_company.sandbox / "world"
    ids = ", ".join(f"'{c}'" for c in sorted(deleted))
    chosen = (
        f"select distinct c.account_id from read_parquet('{world}/stripe_discounts.parquet') as d "
        f"join read_parquet('{world}/stripe_customers.parquet') as c on c.id = d.customer where d.coupon in ({ids})"
    )
    months, unmatched, mrr, movements = mrr_differences(small_company, chosen)
    assert months > 20 and (unmatched, mrr, movements) == (0, 0, 0)
