{#- The company's renewal history: each past renewal of a term subscription, the account's health score and band
    the forecast would have read then (renewal_forecast_lead_days before), and whether it renewed — the account still
    paid renewal_outcome_grace_days after the renewal date (by any subscription: a plan change is a renewal). A
    renewal whose subscription had already ended when the forecast would have been made is not a renewal to
    forecast. The outcome is known once the grace period is over. -#}
with

terms as (

    select * from {{ ref('int_renewals__terms') }}

),

lines as (

    select * from {{ ref('int_billing__recurring_lines') }}

),

health as (

    select * from {{ ref('customer_health_daily') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

past_renewals as (

    select
        terms.*,
        cast({{ dbt.dateadd('day', '-1 * cast(parameters.renewal_forecast_lead_days as integer)',
                            'terms.renewal_date') }} as date) as forecast_date,
        cast({{ dbt.dateadd('day', 'cast(parameters.renewal_outcome_grace_days as integer)',
                            'terms.renewal_date') }} as date) as outcome_known_on
    from terms
    cross join parameters
    where terms.period_end_at < {{ as_of_timestamp() }}

),

still_paying as (

    select distinct
        past_renewals.account_id,
        past_renewals.subscription_id,
        past_renewals.period_end_at
    from past_renewals
    inner join lines
        on
            past_renewals.account_id = lines.account_id
            and lines.mrr_usd > 0
            and lines.period_start_at < cast(past_renewals.outcome_known_on as {{ dbt.type_timestamp() }})
            and lines.period_end_at >= cast(past_renewals.outcome_known_on as {{ dbt.type_timestamp() }})
            and (
                lines.subscription_ended_at is null
                or lines.subscription_ended_at >= cast(past_renewals.outcome_known_on as {{ dbt.type_timestamp() }})
            )

),

final as (

    select
        past_renewals.account_id,
        past_renewals.subscription_id,
        past_renewals.renewal_date,
        past_renewals.interval_months,
        past_renewals.arr_usd,
        past_renewals.forecast_date,
        health.health_score,
        coalesce(health.health_status, 'unknown') as health_status,
        past_renewals.outcome_known_on,
        case
            when past_renewals.outcome_known_on <= {{ as_of_date() }} then still_paying.account_id is not null
        end as is_renewed

    from past_renewals
    left join still_paying
        on
            past_renewals.account_id = still_paying.account_id
            and past_renewals.subscription_id = still_paying.subscription_id
            and past_renewals.period_end_at = still_paying.period_end_at
    left join health
        on
            past_renewals.account_id = health.account_id
            and past_renewals.forecast_date = health.health_date
    where
        past_renewals.subscription_ended_at is null
        or past_renewals.subscription_ended_at
        > cast(past_renewals.forecast_date as {{ dbt.type_timestamp() }})

)

select * from final
