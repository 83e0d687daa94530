{#- The retention of each CSM's book per quarter — the basis of CSM variable pay. An account belongs for the whole
    quarter to the CSM who owned it at the quarter's start (company_ownership_snapshot); before the snapshot's first
    record of a company, its first known owner; without an owner, 'unassigned'. So every account-quarter has exactly
    one owner and the books add up to mrr_movements to the cent (singular test
    csm_quarterly_retention_reconciles_with_mrr_movements). Net MRR churn = churn + contraction - expansion -
    reactivation (negative = net expansion); new MRR is won by sales and reported, not counted. -#}
with

movements as (

    select
        *,
        cast({{ dbt.date_trunc('quarter', 'month') }} as date) as quarter_start
    from {{ ref('mrr_movements') }}

),

ownership as (

    select * from {{ ref('company_ownership_snapshot') }}
    where account_id is not null

),

owners as (

    select * from {{ ref('stg_hubspot__owners') }}

),

account_quarters as (

    select distinct
        account_id,
        quarter_start,
        cast(quarter_start as {{ dbt.type_timestamp() }}) as quarter_start_at
    from movements

),

-- The version in force at the quarter's start; else the first version after it (history before the snapshot
-- began); else the last one before it (the company was deleted since).
candidate_owners as (

    select
        account_quarters.account_id,
        account_quarters.quarter_start,
        ownership.owner_id,
        row_number() over (
            partition by account_quarters.account_id, account_quarters.quarter_start
            order by
                case
                    when
                        ownership.dbt_valid_from <= account_quarters.quarter_start_at
                        and (
                            ownership.dbt_valid_to is null
                            or ownership.dbt_valid_to > account_quarters.quarter_start_at
                        )
                        then 0
                    when ownership.dbt_valid_from > account_quarters.quarter_start_at
                        then 1
                    else 2
                end,
                case
                    when ownership.dbt_valid_from > account_quarters.quarter_start_at
                        then ownership.dbt_valid_from
                end asc,
                ownership.dbt_valid_from desc
        ) as preference
    from account_quarters
    inner join ownership
        on account_quarters.account_id = ownership.account_id

),

attribution as (

    select
        account_quarters.account_id,
        account_quarters.quarter_start,
        coalesce(candidate_owners.owner_id, 'unassigned') as owner_id
    from account_quarters
    left join candidate_owners
        on
            account_quarters.account_id = candidate_owners.account_id
            and account_quarters.quarter_start = candidate_owners.quarter_start
            and candidate_owners.preference = 1

),

quarter_months as (

    select
        quarter_start,
        min(month) as first_month,
        max(month) as last_month,
        min(case when is_month_complete then 0 else 1 end) = 0 and count(distinct month) = 3 as is_quarter_complete
    from movements
    group by quarter_start

),

books as (

    select
        attribution.owner_id,
        movements.quarter_start,
        count(distinct case
            when movements.month = quarter_months.first_month and movements.starting_mrr_usd > 0
                then movements.account_id
        end) as accounts_at_start,
        sum(case when movements.month = quarter_months.first_month then movements.starting_mrr_usd else 0 end)
            as starting_mrr_usd,
        sum(movements.new_mrr_usd) as new_mrr_usd,
        sum(movements.reactivation_mrr_usd) as reactivation_mrr_usd,
        sum(movements.expansion_mrr_usd) as expansion_mrr_usd,
        sum(movements.contraction_mrr_usd) as contraction_mrr_usd,
        sum(movements.churned_mrr_usd) as churned_mrr_usd,
        sum(case when movements.month = quarter_months.last_month then movements.ending_mrr_usd else 0 end)
            as ending_mrr_usd,
        max(case when quarter_months.is_quarter_complete then 1 else 0 end) = 1 as is_quarter_complete
    from movements
    inner join attribution
        on movements.account_id = attribution.account_id and movements.quarter_start = attribution.quarter_start
    inner join quarter_months
        on movements.quarter_start = quarter_months.quarter_start
    group by attribution.owner_id, movements.quarter_start

),

final as (

    select
        books.owner_id,
        coalesce(owners.owner_name, 'unassigned') as owner_name,
        books.quarter_start,
        books.is_quarter_complete,
        cast(books.accounts_at_start as integer) as accounts_at_start,
        books.starting_mrr_usd,
        books.new_mrr_usd,
        books.reactivation_mrr_usd,
        books.expansion_mrr_usd,
        books.contraction_mrr_usd,
        books.churned_mrr_usd,
        books.ending_mrr_usd,
        books.churned_mrr_usd + books.contraction_mrr_usd - books.expansion_mrr_usd - books.reactivation_mrr_usd
            as net_mrr_churn_usd,
        (books.churned_mrr_usd + books.contraction_mrr_usd - books.expansion_mrr_usd - books.reactivation_mrr_usd)
        / nullif(books.starting_mrr_usd, 0) as net_mrr_churn_rate

    from books
    left join owners
        on books.owner_id = owners.owner_id

)

select * from final
