"""The heaviest dbt transformations hand-written as plain DuckDB SQL over the raw tables, and the checks that they
give the same numbers as the dbt models. `csops bench` times both and reports dbt time / plain SQL time.

The plain SQL runs in a scratch DuckDB file with the warehouse attached read-only as `wh`, so the warehouse is never
written and the result is materialized, as dbt materializes its tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from bench.config import DBT_PROJECT_DIR

FX_SEED = DBT_PROJECT_DIR / "seeds" / "fx_rates_monthly.csv"
# Stripe's zero-decimal currencies (dbt_project/macros/money.sql).
ZERO_DECIMAL = (
    "'BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'"
)


@dataclass(frozen=True)
class Transformation:
    """One transformation done twice: by the dbt `models` (their summed execution time), and by `sql`."""

    name: str
    title: str
    models: tuple[str, ...]  # the dbt models that do the same work, raw tables to `dbt_table`
    dbt_table: str  # schema.table in the warehouse
    keys: tuple[str, ...]
    exact: tuple[str, ...]  # columns that must be equal
    approx: tuple[str, ...]  # money columns: equal within 1e-6 (sums of doubles depend on the summation order)
    sums: tuple[str, ...]

    def sql(self, as_of: date) -> str:
        return SQL[self.name].format(as_of=as_of.isoformat(), fx_seed=str(FX_SEED), zero_decimal=ZERO_DECIMAL)


# stg_usage__first_copies + int_usage__account_daily on a full build (the stg views are inlined by DuckDB in both
# cases): the events of each day minus the later copies of a message (its first copy received kept), found the way a
# hand-written query would: the (day, message) pairs seen more than once, then only their rows ranked.
USAGE_ACCOUNT_DAILY = """
create or replace table usage_account_daily as
with
received as (
    select *, cast("timestamp" at time zone 'UTC' as date) as activity_date
    from wh.raw_usage.events
    where group_id is not null
),
repeated as (
    select activity_date, message_id from received group by all having count(*) > 1
),
events as (
    select * from received anti join repeated using (activity_date, message_id)
    union all
    (
        select * from received semi join repeated using (activity_date, message_id)
        qualify row_number() over (
            partition by activity_date, message_id order by received_at nulls last, _dlt_load_id, file_name
        ) = 1
    )
)
select
    group_id as account_id,
    activity_date,
    count(*) as events,
    count(distinct user_id) as active_users,
    count(distinct event) as features_used,
    max(received_at at time zone 'UTC') as last_received_at
from events
group by all
"""

# int_billing__subscriptions + int_billing__recurring_lines + int_mrr__months + int_mrr__account_months, by the rules
# of dbt_project/DECISIONLOG.md (MRR): subscription lines of non-void invoices with recurring licensed prices, no
# prorations, net of forever/repeating coupons, per month of the interval, at one FX rate per subscription (its start
# month's, else the first), in force at each month's last instant (the as-of instant for the current month).
MRR_ACCOUNT_MONTHS = """
create or replace table mrr_account_months as
with
fx as (
    select cast(month as date) as month, upper(currency) as currency, cast(usd_per_unit as double) as usd_per_unit
    from read_csv('{fx_seed}', header = true)
),
first_fx as (
    select currency, arg_min(usd_per_unit, month) as usd_per_unit from fx group by currency
),
subscriptions as (
    select
        s.id as subscription_id,
        coalesce(c.metadata__account_id, s.metadata__account_id) as account_id,
        upper(s.currency) as currency,
        cast(date_trunc('month', to_timestamp(coalesce(s.start_date, s.created)) at time zone 'UTC') as date)
            as start_month,
        to_timestamp(s.ended_at) at time zone 'UTC' as ended_at
    from wh.raw_stripe.subscriptions as s
    -- a deleted customer keeps no metadata (or is gone): the subscription's own account id stands in
    left join wh.raw_stripe.customers as c on s.customer = c.id
),
subscription_fx as (
    select s.*, coalesce(r.usd_per_unit, f.usd_per_unit) as fx_rate_to_usd
    from subscriptions as s
    asof left join fx as r on s.currency = r.currency and s.start_month >= r.month
    left join first_fx as f on s.currency = f.currency
),
coupon_of_discount as (
    -- the loader expands each discount's coupon: a deleted coupon is served nowhere else
    select id as discount_id, max(source__coupon__duration) as duration
    from (
        select id, source__coupon__duration from wh.raw_stripe.invoices__discounts
        union all
        select id, source__coupon__duration from wh.raw_stripe.subscriptions__discounts
    )
    where id is not null
    group by id
),
recurring_discounts as (
    select l.id as invoice_line_id, sum(a.amount) as discount_minor
    from wh.raw_stripe.invoices__lines__data__discount_amounts as a
    inner join wh.raw_stripe.invoices__lines__data as l on a._dlt_parent_id = l._dlt_id
    inner join coupon_of_discount as d on a.discount = d.discount_id
    where d.duration in ('forever', 'repeating')
    group by l.id
),
prices as (
    select
        id as price_id,
        case recurring__interval
            when 'year' then 12 * coalesce(recurring__interval_count, 1)
            when 'month' then coalesce(recurring__interval_count, 1)
            when 'week' then coalesce(recurring__interval_count, 1) * 7.0 / (365.25 / 12)
            when 'day' then coalesce(recurring__interval_count, 1) / (365.25 / 12)
        end as interval_months,
        type = 'recurring' and coalesce(recurring__usage_type, 'licensed') = 'licensed' as is_recurring_licensed
    from wh.raw_stripe.prices
),
recurring_lines as (
    select
        s.account_id,
        upper(l.currency) as currency,
        l.quantity,
        to_timestamp(l.period__start) at time zone 'UTC' as period_start_at,
        to_timestamp(l.period__end) at time zone 'UTC' as period_end_at,
        s.ended_at as subscription_ended_at,
        round(
            ((l.amount - coalesce(rd.discount_minor, 0)) / case
                when upper(l.currency) in ({zero_decimal}) then 1.0 else 100.0 end)
            / p.interval_months, 6
        ) as mrr_local,
        round(
            ((l.amount - coalesce(rd.discount_minor, 0)) / case
                when upper(l.currency) in ({zero_decimal}) then 1.0 else 100.0 end)
            / p.interval_months * s.fx_rate_to_usd, 6
        ) as mrr_usd
    from wh.raw_stripe.invoices__lines__data as l
    inner join wh.raw_stripe.invoices as i on l._dlt_parent_id = i._dlt_id
    inner join prices as p on l.pricing__price_details__price = p.price_id
    inner join subscription_fx as s on l.parent__subscription_item_details__subscription = s.subscription_id
    left join recurring_discounts as rd on l.id = rd.invoice_line_id
    where
        i.status != 'void'
        and coalesce(l.parent__type, 'subscription_item_details') = 'subscription_item_details'
        and not coalesce(l.parent__subscription_item_details__proration, false)
        and p.is_recurring_licensed
),
months as (
    select
        cast(month_start as date) as month_start,
        least(month_start + interval 1 month, timestamp '{as_of} 00:00:00') as measured_at,
        month_start + interval 1 month <= timestamp '{as_of} 00:00:00' as is_month_complete
    from (
        select unnest(generate_series(
            (select date_trunc('month', min(period_start_at)) from recurring_lines),
            cast(date '{as_of}' - interval 1 day as timestamp),
            interval 1 month
        )) as month_start
    )
)
select
    l.account_id,
    m.month_start,
    m.is_month_complete,
    max(l.currency) as currency,
    sum(l.mrr_local) as mrr_local,
    sum(l.mrr_usd) as mrr_usd,
    sum(l.quantity) as seats
from recurring_lines as l
inner join months as m
    on l.period_start_at < m.measured_at and l.period_end_at >= m.measured_at
where l.subscription_ended_at is null or l.subscription_ended_at >= m.measured_at
group by all
"""

SQL = {"usage_account_daily": USAGE_ACCOUNT_DAILY, "mrr_account_months": MRR_ACCOUNT_MONTHS}

TRANSFORMATIONS = (
    Transformation(
        name="usage_account_daily",
        title="usage per account x day",
        models=("stg_usage__first_copies", "int_usage__account_daily"),
        dbt_table="intermediate.int_usage__account_daily",
        keys=("account_id", "activity_date"),
        exact=("events", "active_users", "features_used", "last_received_at"),
        approx=(),
        sums=("events", "active_users", "features_used"),
    ),
    Transformation(
        name="mrr_account_months",
        title="month-end MRR per account",
        models=(
            "int_billing__subscriptions",
            "int_billing__recurring_lines",
            "int_mrr__months",
            "int_mrr__account_months",
        ),
        dbt_table="intermediate.int_mrr__account_months",
        keys=("account_id", "month_start"),
        exact=("is_month_complete", "currency", "seats"),
        approx=("mrr_local", "mrr_usd"),
        sums=("mrr_local", "mrr_usd", "seats"),
    ),
)


def run_plain(transformation: Transformation, warehouse: Path, scratch: Path, as_of: date) -> dict:
    """Materialize the plain-SQL version in `scratch` (timed by the caller); returns its row count. Under the same
    DuckDB limits as dbt's builds (CSOPS_DUCKDB_*), so the two are compared on equal terms: without them DuckDB takes
    up to 80% of the machine's RAM (9.4 GB for usage per account x day at the large scale)."""
    from ingestion.pipeline import duckdb_limits

    with duckdb.connect(str(scratch), config=duckdb_limits(scratch)) as con:
        con.execute("set timezone = 'UTC'")
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute(transformation.sql(as_of))
        rows = con.execute(f"select count(*) from {transformation.name}").fetchone()[0]
    return {"rows": rows}


def compare(transformation: Transformation, warehouse: Path, scratch: Path) -> dict:
    """Row counts, sums and a row-by-row comparison (full outer join on the keys) of plain SQL against dbt."""
    t = transformation
    with duckdb.connect(str(scratch), read_only=True) as con:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        sums = ", ".join(f"sum({c})" for c in t.sums)
        plain = con.execute(f"select count(*), {sums} from {t.name}").fetchone()
        dbt = con.execute(f"select count(*), {sums} from wh.{t.dbt_table}").fetchone()
        on = " and ".join(f"p.{k} is not distinct from d.{k}" for k in t.keys)
        differs = [f"p.{c} is distinct from d.{c}" for c in t.exact]
        differs += [f"not (p.{c} is not distinct from d.{c} or abs(p.{c} - d.{c}) <= 1e-6)" for c in t.approx]
        only_plain, only_dbt, different = con.execute(
            f"""
            select
                count(*) filter (where d.{t.keys[1]} is null),
                count(*) filter (where p.{t.keys[1]} is null),
                count(*) filter (where p.{t.keys[1]} is not null and d.{t.keys[1]} is not null
                                 and ({" or ".join(differs)}))
            from {t.name} as p
            full outer join wh.{t.dbt_table} as d on {on}
            """
        ).fetchone()
    plain_sums = {c: _number(v) for c, v in zip(t.sums, plain[1:], strict=True)}
    dbt_sums = {c: _number(v) for c, v in zip(t.sums, dbt[1:], strict=True)}
    sums_equal = all(
        (plain_sums[c] is None and dbt_sums[c] is None)
        or (
            plain_sums[c] is not None
            and dbt_sums[c] is not None
            and math.isclose(plain_sums[c], dbt_sums[c], rel_tol=1e-9, abs_tol=1e-6)
        )
        for c in t.sums
    )
    return {
        "plain_rows": plain[0],
        "dbt_rows": dbt[0],
        "plain_sums": plain_sums,
        "dbt_sums": dbt_sums,
        "rows_only_in_plain": only_plain,
        "rows_only_in_dbt": only_dbt,
        "rows_different": different,
        "match": plain[0] == dbt[0] and sums_equal and only_plain == only_dbt == different == 0,
    }


def _number(value: object) -> float | int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else float(value)  # type: ignore[arg-type]
