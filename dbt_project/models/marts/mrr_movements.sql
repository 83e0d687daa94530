{#- MRR movement of each account each month (DECISIONLOG "MRR movements"). Reactivation is tested before
    expansion: an account back from zero is a reactivation, not an expansion. -#}
with

account_months as (

    select * from {{ ref('int_mrr__account_months') }}

),

months as (

    select * from {{ ref('int_mrr__months') }}

),

first_months as (

    select
        account_id,
        min(month_start) as first_month

    from account_months
    where mrr_usd > 0
    group by account_id

),

dense as (

    select
        first_months.account_id,
        months.month_start,
        months.is_month_complete,
        {{ round_to('coalesce(account_months.mrr_usd, 0)', 6) }} as ending_mrr_usd,
        cast(coalesce(account_months.seats, 0) as bigint) as ending_seats

    from first_months
    inner join months
        on first_months.first_month <= months.month_start
    left join account_months
        on
            first_months.account_id = account_months.account_id
            and months.month_start = account_months.month_start

),

with_previous as (

    select
        *,
        coalesce(lag(ending_mrr_usd) over (partition by account_id order by month_start), 0)
            as starting_mrr_usd,
        coalesce(
            max(ending_mrr_usd) over (
                partition by account_id order by month_start rows between unbounded preceding and 1 preceding
            ),
            0
        ) > 0 as had_mrr_before

    from dense

),

classified as (

    select
        account_id,
        month_start as month,
        is_month_complete,
        starting_mrr_usd,
        ending_mrr_usd,
        ending_seats,
        case
            when starting_mrr_usd = 0 and ending_mrr_usd > 0 and not had_mrr_before then 'new'
            when starting_mrr_usd = 0 and ending_mrr_usd > 0 then 'reactivation'
            when starting_mrr_usd > 0 and ending_mrr_usd = 0 then 'churn'
            when ending_mrr_usd > starting_mrr_usd then 'expansion'
            when ending_mrr_usd < starting_mrr_usd then 'contraction'
            else 'none'
        end as movement_type,
        abs(ending_mrr_usd - starting_mrr_usd) as movement_mrr_usd

    from with_previous
    where starting_mrr_usd > 0 or ending_mrr_usd > 0

),

final as (

    select
        account_id,
        month,
        is_month_complete,
        starting_mrr_usd,
        movement_type,
        movement_mrr_usd,
        case when movement_type = 'new' then movement_mrr_usd else 0 end as new_mrr_usd,
        case when movement_type = 'reactivation' then movement_mrr_usd else 0 end as reactivation_mrr_usd,
        case when movement_type = 'expansion' then movement_mrr_usd else 0 end as expansion_mrr_usd,
        case when movement_type = 'contraction' then movement_mrr_usd else 0 end as contraction_mrr_usd,
        case when movement_type = 'churn' then movement_mrr_usd else 0 end as churned_mrr_usd,
        ending_mrr_usd,
        ending_seats

    from classified

)

select * from final
