{#- Each subscription with its account and the ONE exchange rate it is reported at: the rate of the month it
    started (DECISIONLOG: an exchange-rate move alone is never a movement). The account is the customer's
    metadata.account_id, else the subscription's own (a customer deleted before the first load keeps none). -#}
with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

rates as (

    select * from {{ ref('fx_rates_monthly') }}

),

with_accounts as (

    select
        subscriptions.*,
        coalesce(customers.account_id, subscriptions.metadata_account_id) as account_id,
        customers.is_deleted as is_customer_deleted,
        cast({{ dbt.date_trunc('month', 'subscriptions.started_at') }} as date) as start_month

    from subscriptions
    inner join customers
        on subscriptions.customer_id = customers.customer_id

),

start_months as (

    -- A handful of distinct (currency, month) pairs: the rate is looked up once for each, not for each
    -- subscription x every month of rates.
    select distinct
        currency,
        start_month
    from with_accounts

),

rate_months as (

    -- The latest rate at or before the start month; before the first row, the first row.
    select
        start_months.currency,
        start_months.start_month,
        coalesce(
            max(case when rates.month <= start_months.start_month then rates.month end),
            min(rates.month)
        ) as rate_month

    from start_months
    inner join rates
        on start_months.currency = upper(rates.currency)
    group by start_months.currency, start_months.start_month

),

final as (

    select
        with_accounts.*,
        rates.usd_per_unit as fx_rate_to_usd

    from with_accounts
    left join rate_months
        on
            with_accounts.currency = rate_months.currency
            and with_accounts.start_month = rate_months.start_month
    left join rates
        on
            rate_months.currency = upper(rates.currency)
            and rate_months.rate_month = rates.month

)

select * from final
