{#- Do the health bands mean what they say? Per quarter and band: the monthly samples (a paying account on the
    1st of each month) banded under the thresholds in force that quarter, and how many churned within 90 days.
    The thresholds were fitted before the quarter began, so every figure here is out of sample: it is the churn
    risk a CSM could have read off the band at the time (DECISIONLOG "Health bands"). -#}
with

samples as (

    select * from {{ ref('int_health__monthly_samples') }}

),

thresholds as (

    select * from {{ ref('int_health__band_thresholds') }}

),

bands as (

    select
        'red' as health_status,
        1 as band_order
    union all
    select
        'yellow' as health_status,
        2 as band_order
    union all
    select
        'green' as health_status,
        3 as band_order

),

banded as (

    select
        samples.sample_quarter,
        samples.is_churned_within_90d,
        {{ health_band('samples.health_score', 'thresholds.status_red_below', 'thresholds.status_green_min') }}
            as health_status
    from samples
    inner join thresholds
        on samples.sample_quarter = thresholds.quarter_start

),

counts as (

    select
        sample_quarter,
        health_status,
        count(*) as samples,
        count(is_churned_within_90d) as samples_with_outcome,
        sum(case when is_churned_within_90d then 1 else 0 end) as churned_within_90d
    from banded
    group by sample_quarter, health_status

),

final as (

    select
        thresholds.quarter_start,
        bands.health_status,
        bands.band_order,
        cast(coalesce(counts.samples, 0) as {{ dbt.type_bigint() }}) as samples,
        cast(coalesce(counts.samples_with_outcome, 0) as {{ dbt.type_bigint() }}) as samples_with_outcome,
        cast(coalesce(counts.churned_within_90d, 0) as {{ dbt.type_bigint() }}) as churned_within_90d,
        cast(counts.churned_within_90d as {{ type_double() }}) / nullif(counts.samples_with_outcome, 0)
            as observed_churn_rate_90d,
        case bands.health_status
            when 'red' then thresholds.red_churn_target
            when 'green' then thresholds.green_churn_target
        end as target_churn_rate_90d,
        thresholds.status_red_below,
        thresholds.status_green_min,
        thresholds.thresholds_method,
        cast(thresholds.fit_samples as {{ dbt.type_bigint() }}) as fit_samples,
        cast(thresholds.fit_churned as {{ dbt.type_bigint() }}) as fit_churned

    from thresholds
    cross join bands
    left join counts
        on thresholds.quarter_start = counts.sample_quarter and bands.health_status = counts.health_status
    where thresholds.quarter_start in (select samples.sample_quarter from samples)

)

select * from final
