{#- How good would the renewal forecast have been? Each past renewal with a known outcome, with the probability
    the forecast would have given it renewal_forecast_lead_days before (the band rates of that month: only outcomes
    known before it) and the prior's alone. tests/dbt computes the Brier score and a reliability table from it
    (DECISIONLOG "Renewal forecast"). -#}
with

outcomes as (

    select * from {{ ref('int_renewals__outcomes') }}
    where is_renewed is not null

),

rates as (

    select * from {{ ref('int_renewals__band_rates') }}

),

final as (

    select
        outcomes.account_id,
        outcomes.subscription_id,
        outcomes.renewal_date,
        outcomes.forecast_date,
        outcomes.health_score,
        outcomes.health_status,
        outcomes.arr_usd,
        outcomes.is_renewed,
        rates.renewal_probability,
        rates.prior_renewal_rate as prior_renewal_probability,
        rates.renewals_known as renewals_in_history

    from outcomes
    inner join rates
        on
            outcomes.health_status = rates.health_status
            and cast({{ dbt.date_trunc('month', 'outcomes.forecast_date') }} as date) = rates.month_start

)

select * from final
