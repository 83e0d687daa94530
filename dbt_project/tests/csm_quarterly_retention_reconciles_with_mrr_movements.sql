{#- The CSM books add up to the company: per quarter, each movement summed over every CSM (and 'unassigned') equals
    mrr_movements for the quarter's months, to the cent, and each book's bridge balances. Returns the quarters and
    measures that do not. In Dagster it is a (blocking) check of csm_quarterly_retention. -#}
{{ config(meta={'dagster': {'ref': {'name': 'csm_quarterly_retention'}}}) }}
with

books as (

    select
        quarter_start,
        sum(starting_mrr_usd) as starting_mrr_usd,
        sum(new_mrr_usd) as new_mrr_usd,
        sum(reactivation_mrr_usd) as reactivation_mrr_usd,
        sum(expansion_mrr_usd) as expansion_mrr_usd,
        sum(contraction_mrr_usd) as contraction_mrr_usd,
        sum(churned_mrr_usd) as churned_mrr_usd,
        sum(ending_mrr_usd) as ending_mrr_usd,
        max(abs(
            starting_mrr_usd + new_mrr_usd + reactivation_mrr_usd + expansion_mrr_usd
            - contraction_mrr_usd - churned_mrr_usd - ending_mrr_usd
        )) as worst_book_bridge_gap_usd
    from {{ ref('csm_quarterly_retention') }}
    group by quarter_start

),

movements as (

    select
        cast({{ dbt.date_trunc('quarter', 'month') }} as date) as quarter_start,
        month,
        starting_mrr_usd,
        new_mrr_usd,
        reactivation_mrr_usd,
        expansion_mrr_usd,
        contraction_mrr_usd,
        churned_mrr_usd,
        ending_mrr_usd
    from {{ ref('mrr_movements') }}

),

quarter_months as (

    select
        quarter_start,
        min(month) as first_month,
        max(month) as last_month
    from movements
    group by quarter_start

),

company as (

    select
        movements.quarter_start,
        sum(case when movements.month = quarter_months.first_month then movements.starting_mrr_usd else 0 end)
            as starting_mrr_usd,
        sum(movements.new_mrr_usd) as new_mrr_usd,
        sum(movements.reactivation_mrr_usd) as reactivation_mrr_usd,
        sum(movements.expansion_mrr_usd) as expansion_mrr_usd,
        sum(movements.contraction_mrr_usd) as contraction_mrr_usd,
        sum(movements.churned_mrr_usd) as churned_mrr_usd,
        sum(case when movements.month = quarter_months.last_month then movements.ending_mrr_usd else 0 end)
            as ending_mrr_usd
    from movements
    inner join quarter_months
        on movements.quarter_start = quarter_months.quarter_start
    group by movements.quarter_start

)

select
    company.quarter_start,
    books.worst_book_bridge_gap_usd
from company
left join books
    on company.quarter_start = books.quarter_start
where
    books.quarter_start is null
    {%- for measure in ['starting', 'new', 'reactivation', 'expansion', 'contraction', 'churned', 'ending'] %}
        or abs(books.{{ measure }}_mrr_usd - company.{{ measure }}_mrr_usd) >= 0.005
    {%- endfor %}
    or books.worst_book_bridge_gap_usd >= 0.005
