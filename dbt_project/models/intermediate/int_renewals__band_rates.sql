{#- The renewal probability per health band, as it could be known at the start of each month: a Beta prior
    (seed renewal_priors: mean prior_renewal_rate, worth prior_strength renewals) updated with the renewal outcomes
    known before the month began. Posterior mean = (prior renewals + renewed) / (prior strength + renewals): with
    little history the prior speaks, with much history the company's own record does. Past renewals are banded by
    their score then under the thresholds in force in the month's quarter, so a band means the same in the history
    as in the forecast even after the thresholds moved (a red of the fixed 40 / 70 days is not today's red). -#}
with

outcomes as (

    select * from {{ ref('int_renewals__outcomes') }}
    where is_renewed is not null

),

thresholds as (

    select * from {{ ref('int_health__band_thresholds') }}

),

priors as (

    select * from {{ ref('renewal_priors') }}

),

months as (

    {{ dbt.date_spine('month', "cast('2000-01-01' as date)", dbt.dateadd('month', 1, as_of_date())) }}

),

first_forecast as (

    select min(forecast_date) as first_forecast_date
    from outcomes

),

-- Every month a forecast was (or is) made in: from the earliest backtested forecast to the as-of month.
forecast_months as (

    select cast(months.date_month as date) as month_start
    from months
    cross join first_forecast
    where
        cast(months.date_month as date)
        >= {{ dbt.date_trunc('month', 'coalesce(first_forecast.first_forecast_date, ' ~ as_of_date() ~ ')') }}
        and cast(months.date_month as date) <= {{ as_of_date() }}

),

rebanded as (

    select
        forecast_months.month_start,
        outcomes.is_renewed,
        case
            when outcomes.health_score is null then 'unknown'
            else {{ health_band(
                'outcomes.health_score', 'thresholds.status_red_below', 'thresholds.status_green_min'
            ) }}
        end as health_status
    from forecast_months
    inner join thresholds
        on cast({{ dbt.date_trunc('quarter', 'forecast_months.month_start') }} as date) = thresholds.quarter_start
    inner join outcomes
        on outcomes.outcome_known_on < forecast_months.month_start

),

history as (

    select
        forecast_months.month_start,
        priors.health_status,
        count(rebanded.health_status) as renewals_known,
        coalesce(sum(case when rebanded.is_renewed then 1 else 0 end), 0) as renewed_known
    from forecast_months
    cross join priors
    left join rebanded
        on
            forecast_months.month_start = rebanded.month_start
            and priors.health_status = rebanded.health_status
    group by forecast_months.month_start, priors.health_status

),

final as (

    select
        history.month_start,
        history.health_status,
        history.renewals_known,
        history.renewed_known,
        priors.prior_renewal_rate,
        priors.prior_strength,
        (priors.prior_renewal_rate * priors.prior_strength + history.renewed_known)
        / (priors.prior_strength + history.renewals_known) as renewal_probability

    from history
    inner join priors
        on history.health_status = priors.health_status

)

select * from final
