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

rate_candidates as (

    -- The latest rate at or before the start month; before the first row, the first row.
    select
        with_accounts.subscription_id,
        rates.usd_per_unit,
        row_number() over (
            partition by with_accounts.subscription_id
            order by
                case when rates.month <= with_accounts.start_month then 0 else 1 end,
                case when rates.month <= with_accounts.start_month then rates.month end desc,
                rates.month asc
        ) as preference

    from with_accounts
    inner join rates
        on with_accounts.currency = upper(rates.currency)

),

final as (

    select
        with_accounts.*,
        rate_candidates.usd_per_unit as fx_rate_to_usd

    from with_accounts
    left join rate_candidates
        on
            with_accounts.subscription_id = rate_candidates.subscription_id
            and rate_candidates.preference = 1

)

select * from final
