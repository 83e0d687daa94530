{#- MRR over the next mrr_projection_months under today's monthly new MRR and net MRR churn rate (trailing averages
    of the last mrr_projection_trailing_months complete months) and under the alternative churn rates of seed
    mrr_projection_scenarios. Each month: MRR(n) = MRR(n-1) x (1 - churn rate) + new MRR, in closed form
    MRR(n) = MRR(0) x (1 - c)^n + new x (1 - (1 - c)^n) / c (MRR(0) + n x new when c = 0). DECISIONLOG
    "MRR projection". -#}
with

summary as (

    select * from {{ ref('mrr_summary') }}

),

scenarios as (

    select * from {{ ref('mrr_projection_scenarios') }}

),

complete_months as (

    select
        summary.*,
        row_number() over (order by summary.month desc) as months_back
    from summary
    where summary.is_month_complete

),

today as (

    select
        max(case when months_back = 1 then month end) as base_month,
        max(case when months_back = 1 then ending_mrr_usd end) as base_mrr_usd,
        avg(new_mrr_usd) as monthly_new_mrr_usd,
        sum(churned_mrr_usd + contraction_mrr_usd - expansion_mrr_usd - reactivation_mrr_usd)
        / nullif(sum(starting_mrr_usd), 0) as monthly_net_mrr_churn_rate
    from complete_months
    where months_back <= {{ var('mrr_projection_trailing_months') }}

),

month_numbers as (

    {%- for n in range(1, var('mrr_projection_months') + 1) %}
        select {{ n }} as month_number
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

projected as (

    select
        scenarios.scenario,
        month_numbers.month_number,
        cast({{ dbt.dateadd('month', 'month_numbers.month_number', 'today.base_month') }} as date) as month,
        coalesce(scenarios.monthly_net_mrr_churn_rate, today.monthly_net_mrr_churn_rate) as churn_rate,
        today.monthly_new_mrr_usd,
        today.base_mrr_usd
    from scenarios
    cross join today
    cross join month_numbers

),

-- MRR after n months: base x (1 - c)^n + new x (1 - (1 - c)^n) / c, or base + n x new when c = 0.
balances as (

    select
        projected.*,
        case
            when projected.churn_rate = 0
                then projected.base_mrr_usd + (projected.month_number - 1) * projected.monthly_new_mrr_usd
            else
                projected.base_mrr_usd * power(1 - projected.churn_rate, projected.month_number - 1)
                + projected.monthly_new_mrr_usd * (1 - power(1 - projected.churn_rate, projected.month_number - 1))
                / projected.churn_rate
        end as starting_mrr_usd,
        case
            when projected.churn_rate = 0
                then projected.base_mrr_usd + projected.month_number * projected.monthly_new_mrr_usd
            else
                projected.base_mrr_usd * power(1 - projected.churn_rate, projected.month_number)
                + projected.monthly_new_mrr_usd * (1 - power(1 - projected.churn_rate, projected.month_number))
                / projected.churn_rate
        end as ending_mrr_usd
    from projected

),

final as (

    select
        scenario,
        month_number,
        month,
        churn_rate as monthly_net_mrr_churn_rate,
        starting_mrr_usd,
        monthly_new_mrr_usd as new_mrr_usd,
        churn_rate * starting_mrr_usd as net_churned_mrr_usd,
        ending_mrr_usd,
        12 * ending_mrr_usd as ending_arr_usd

    from balances

)

select * from final
