{#- Every paid term of an annual or quarterly subscription that ends — a renewal — with the ARR it carries: the
    past ones (the history the forecast learns from) and the one in force now. A term is the subscription's
    licensed lines billed for one period; its renewal date is the period end. -#}
with

lines as (

    select * from {{ ref('int_billing__recurring_lines') }}

),

final as (

    select
        account_id,
        subscription_id,
        period_start_at,
        period_end_at,
        cast(period_end_at as date) as renewal_date,
        max(interval_months) as interval_months,
        max(subscription_ended_at) as subscription_ended_at,
        sum(mrr_usd) * 12 as arr_usd

    from lines
    where interval_months in (3, 12) and mrr_usd > 0
    group by account_id, subscription_id, period_start_at, period_end_at

)

select * from final
