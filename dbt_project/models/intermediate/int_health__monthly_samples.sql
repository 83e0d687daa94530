{#- The history the band thresholds and the renewal forecast learn from: one sample per paying account on the
    1st of each month (its health score that day) with what happened next in billing — did its MRR fall to zero at
    one of the next three month ends (churn within about 90 days), and from when that outcome is known (the end of
    the third month). Nothing here looks past the as-of date: an outcome not known yet is null. -#}
with

scores as (

    select
        account_id,
        health_date,
        segment,
        health_score,
        mrr_usd
    from {{ ref('int_health__daily_scores') }}
    where
        health_date = cast({{ dbt.date_trunc('month', 'health_date') }} as date)
        and mrr_usd > 0

),

account_months as (

    select * from {{ ref('int_mrr__account_months') }}

),

paying_month_ends as (

    select
        scores.account_id,
        scores.health_date,
        count(account_months.account_id) as paying_month_ends
    from scores
    left join account_months
        on
            scores.account_id = account_months.account_id
            and account_months.month_start >= scores.health_date
            and account_months.month_start <= {{ dbt.dateadd('month', 2, 'scores.health_date') }}
            and account_months.mrr_usd > 0
    group by scores.account_id, scores.health_date

),

final as (

    select
        scores.account_id,
        scores.health_date as sample_date,
        cast({{ dbt.date_trunc('quarter', 'scores.health_date') }} as date) as sample_quarter,
        scores.segment,
        scores.health_score,
        scores.mrr_usd,
        cast({{ dbt.dateadd('month', 3, 'scores.health_date') }} as date) as outcome_known_on,
        case
            when cast({{ dbt.dateadd('month', 3, 'scores.health_date') }} as date) <= {{ as_of_date() }}
                then paying_month_ends.paying_month_ends < 3
        end as is_churned_within_90d

    from scores
    inner join paying_month_ends
        on
            scores.account_id = paying_month_ends.account_id
            and scores.health_date = paying_month_ends.health_date

)

select * from final
