{#- MRR of each account at each month's measuring instant (lines in force, subscriptions not yet ended). -#}
with

lines as (

    select * from {{ ref('int_billing__recurring_lines') }}

),

months as (

    select * from {{ ref('int_mrr__months') }}

),

in_force as (

    select
        lines.account_id,
        months.month_start,
        months.is_month_complete,
        lines.currency,
        lines.mrr_local,
        lines.mrr_usd,
        lines.quantity

    from lines
    inner join months
        on
            lines.period_start_at < months.measured_at
            and lines.period_end_at >= months.measured_at
    where lines.subscription_ended_at is null or lines.subscription_ended_at >= months.measured_at

),

final as (

    select
        account_id,
        month_start,
        is_month_complete,
        max(currency) as currency,
        sum(mrr_local) as mrr_local,
        sum(mrr_usd) as mrr_usd,
        sum(quantity) as seats

    from in_force
    group by account_id, month_start, is_month_complete

)

select * from final
