{#- Each renewal of a term (annual or quarterly) subscription in the next renewal_forecast_horizon_months: ARR up
    for renewal, the probability it renews — the company's own renewal rate for the account's health band
    renewal_forecast_lead_days before the renewal (today's band when the renewal is nearer), on a Beta prior that
    history overrides as it accumulates — and the expected and at-risk ARR. A scheduled cancellation renews with
    probability 0. DECISIONLOG "Renewal forecast". -#}
with

terms as (

    select * from {{ ref('int_renewals__terms') }}

),

subscriptions as (

    select * from {{ ref('int_billing__subscriptions') }}

),

customers as (

    select * from {{ ref('customer_360') }}

),

health as (

    select * from {{ ref('customer_health_daily') }}

),

rates as (

    select * from {{ ref('int_renewals__band_rates') }}
    where month_start = cast({{ dbt.date_trunc('month', as_of_date()) }} as date)

),

thresholds as (

    select * from {{ ref('int_health__band_thresholds') }}
    where quarter_start = cast({{ dbt.date_trunc('quarter', as_of_date()) }} as date)

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

digits as (

    {%- for digit in range(12) %}
        select {{ digit }} as terms_ahead
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

current_terms as (

    select
        terms.*,
        coalesce(subscriptions.cancel_at_period_end, false) as is_cancellation_scheduled
    from terms
    inner join subscriptions
        on terms.subscription_id = subscriptions.subscription_id
    where
        terms.period_start_at < {{ as_of_timestamp() }}
        and terms.period_end_at >= {{ as_of_timestamp() }}
        and (terms.subscription_ended_at is null or terms.subscription_ended_at >= {{ as_of_timestamp() }})

),

-- The current term's end, and for a quarterly subscription the renewals after it within the horizon; a scheduled
-- cancellation ends the subscription at the first.
renewals as (

    select
        current_terms.account_id,
        current_terms.subscription_id,
        current_terms.interval_months,
        current_terms.arr_usd,
        current_terms.is_cancellation_scheduled,
        cast({{ dbt.dateadd(
            'month', 'cast(current_terms.interval_months as integer) * digits.terms_ahead', 'current_terms.renewal_date'
        ) }} as date) as renewal_date
    from current_terms
    cross join digits
    where digits.terms_ahead = 0 or not current_terms.is_cancellation_scheduled

),

in_horizon as (

    select
        renewals.*,
        cast({{ dbt.dateadd('day', '-1 * cast(parameters.renewal_forecast_lead_days as integer)',
                            'renewals.renewal_date') }} as date) as lead_date
    from renewals
    cross join parameters
    where
        renewals.renewal_date >= {{ as_of_date() }}
        and renewals.renewal_date < {{ dbt.dateadd(
            'month', 'cast(parameters.renewal_forecast_horizon_months as integer)', as_of_date()
        ) }}

),

band_dates as (

    select
        in_horizon.*,
        case
            when in_horizon.lead_date < {{ as_of_date() }} then in_horizon.lead_date
            else cast({{ dbt.dateadd('day', -1, as_of_date()) }} as date)
        end as health_band_date
    from in_horizon

),

-- The score then, banded under today's thresholds: the same bands the rates were learnt in.
with_band as (

    select
        band_dates.*,
        health.health_score,
        case
            when health.health_score is null then 'unknown'
            else {{ health_band('health.health_score', 'thresholds.status_red_below', 'thresholds.status_green_min') }}
        end as health_status
    from band_dates
    cross join thresholds
    left join health
        on band_dates.account_id = health.account_id and band_dates.health_band_date = health.health_date

),

final as (

    select
        with_band.account_id,
        customers.company_name,
        customers.segment,
        customers.owner_id,
        customers.owner_name,
        with_band.subscription_id,
        case when with_band.interval_months = 12 then 'annual' else 'quarterly' end as billing_interval,
        with_band.renewal_date,
        cast({{ dbt.datediff(as_of_date(), 'with_band.renewal_date', 'day') }} as integer) as days_to_renewal,  -- noqa: LT05
        with_band.arr_usd,
        with_band.health_band_date,
        with_band.health_score,
        with_band.health_status,
        with_band.is_cancellation_scheduled,
        rates.renewals_known as renewals_in_history,
        rates.prior_renewal_rate as prior_renewal_probability,
        case when with_band.is_cancellation_scheduled then 0.0 else rates.renewal_probability end
            as renewal_probability,
        with_band.arr_usd
        * case when with_band.is_cancellation_scheduled then 0.0 else rates.renewal_probability end
            as expected_arr_usd,
        with_band.arr_usd
        * (1 - case when with_band.is_cancellation_scheduled then 0.0 else rates.renewal_probability end)
            as arr_at_risk_usd,
        {{ as_of_date() }} as as_of_date

    from with_band
    inner join rates
        on with_band.health_status = rates.health_status
    left join customers
        on with_band.account_id = customers.account_id

)

select * from final
