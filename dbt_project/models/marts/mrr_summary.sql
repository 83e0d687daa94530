{#- The month's MRR bridge and the retention ratios finance and CS report on. -#}
with

movements as (

    select * from {{ ref('mrr_movements') }}

),

monthly as (

    select
        month,
        min(case when is_month_complete then 1 else 0 end) = 1 as is_month_complete,
        sum(starting_mrr_usd) as starting_mrr_usd,
        sum(new_mrr_usd) as new_mrr_usd,
        sum(reactivation_mrr_usd) as reactivation_mrr_usd,
        sum(expansion_mrr_usd) as expansion_mrr_usd,
        sum(contraction_mrr_usd) as contraction_mrr_usd,
        sum(churned_mrr_usd) as churned_mrr_usd,
        sum(ending_mrr_usd) as ending_mrr_usd,
        sum(case when starting_mrr_usd > 0 then 1 else 0 end) as starting_customers,
        sum(case when ending_mrr_usd > 0 then 1 else 0 end) as customers,
        sum(case when movement_type = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement_type = 'reactivation' then 1 else 0 end) as reactivated_customers,
        sum(case when movement_type = 'churn' then 1 else 0 end) as churned_customers

    from movements
    group by month

),

final as (

    select
        month,
        is_month_complete,
        starting_mrr_usd,
        new_mrr_usd,
        reactivation_mrr_usd,
        expansion_mrr_usd,
        contraction_mrr_usd,
        churned_mrr_usd,
        ending_mrr_usd,
        ending_mrr_usd * 12 as ending_arr_usd,
        cast(starting_customers as bigint) as starting_customers,
        cast(customers as bigint) as customers,
        cast(new_customers as bigint) as new_customers,
        cast(reactivated_customers as bigint) as reactivated_customers,
        cast(churned_customers as bigint) as churned_customers,
        case when starting_customers > 0 then cast(churned_customers as {{ type_double() }}) / starting_customers end
            as logo_churn_rate,
        case
            when starting_mrr_usd > 0
                then (starting_mrr_usd - contraction_mrr_usd - churned_mrr_usd) / starting_mrr_usd
        end as gross_revenue_retention,
        case
            when starting_mrr_usd > 0
                then
                    (starting_mrr_usd + expansion_mrr_usd - contraction_mrr_usd - churned_mrr_usd)
                    / starting_mrr_usd
        end as net_revenue_retention,
        case
            when starting_mrr_usd > 0
                then (churned_mrr_usd + contraction_mrr_usd - expansion_mrr_usd) / starting_mrr_usd
        end as net_mrr_churn_rate,
        case
            when churned_mrr_usd + contraction_mrr_usd > 0
                then
                    (new_mrr_usd + reactivation_mrr_usd + expansion_mrr_usd)
                    / (churned_mrr_usd + contraction_mrr_usd)
        end as quick_ratio

    from monthly

)

select * from final
