{#- CSMs needed for the book today and for the planned book of the next four quarters, hires needed, and the budget
    check "CS costs about 10% of contract value" (DECISIONLOG "CSM capacity plan"). Per segment, the accounts at the
    end of quarter n are A(n) = A(n-1) x (1 - c) + N(n): today's book A(0), the trailing quarterly logo churn rate c
    of the segment, the planned new customers N(n) of seed planned_new_customers; in closed form
    A(n) = A(0) x (1 - c)^n + sum over k = 1..n of N(k) x (1 - c)^(n - k). -#}
with

customers as (

    select * from {{ ref('customer_360') }}

),

movements as (

    select * from {{ ref('mrr_movements') }}

),

books as (

    select * from {{ ref('csm_book_of_business') }}

),

coverage as (

    select * from {{ ref('csm_coverage_targets') }}

),

planned as (

    select * from {{ ref('planned_new_customers') }}

),

parameters as (

    select
        max(case when parameter = 'csm_cost_per_head_usd' then value end) as csm_cost_per_head_usd,
        max(case when parameter = 'cs_budget_share' then value end) as cs_budget_share,
        max(case when parameter = 'logo_churn_trailing_quarters' then value end) as trailing_quarters
    from {{ ref('csm_capacity_parameters') }}

),

current_quarter as (

    select
        {{ as_of_date() }} as as_of_date,
        cast({{ dbt.date_trunc('quarter', as_of_date()) }} as date) as quarter_start

),

today_book as (

    select
        coalesce(segment, 'unassigned') as segment,
        count(*) as accounts,
        sum(arr_usd) as arr_usd
    from customers
    where mrr_usd > 0
    group by coalesce(segment, 'unassigned')

),

account_quarters as (

    -- Each account and complete quarter of the trailing window: paying at the quarter's start, churned in it.
    select
        movements.account_id,
        cast({{ dbt.date_trunc('quarter', 'movements.month') }} as date) as quarter_start,
        max(
            case
                when
                    movements.month = cast({{ dbt.date_trunc('quarter', 'movements.month') }} as date)
                    and movements.starting_mrr_usd > 0
                    then 1
                else 0
            end
        ) as paying_at_start,
        max(case when movements.churned_mrr_usd > 0 then 1 else 0 end) as churned
    from movements
    cross join current_quarter
    cross join parameters
    where
        movements.month < current_quarter.quarter_start
        and movements.month >= {{ dbt.dateadd('month', '-3 * cast(parameters.trailing_quarters as integer)',
                                              'current_quarter.quarter_start') }}
    group by movements.account_id, cast({{ dbt.date_trunc('quarter', 'movements.month') }} as date)

),

segment_churn as (

    -- Logo churn per quarter: accounts paying at a quarter's start that churned in it, over all such accounts
    -- (ratio of sums over the trailing quarters). Segment is today's (the CRM keeps no segment history).
    select
        coalesce(customers.segment, 'unassigned') as segment,
        1.0 * sum(account_quarters.churned) / nullif(sum(account_quarters.paying_at_start), 0) as logo_churn_rate
    from account_quarters
    left join customers
        on account_quarters.account_id = customers.account_id
    where account_quarters.paying_at_start = 1
    group by coalesce(customers.segment, 'unassigned')

),

segments as (

    select segment from coverage
    union
    select segment from today_book

),

quarter_numbers as (

    {%- for n in range(0, 5) %}
        select {{ n }} as quarter_number
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

segment_quarters as (

    select
        segments.segment,
        quarter_numbers.quarter_number,
        cast({{ dbt.dateadd('month', '3 * quarter_numbers.quarter_number', 'current_quarter.quarter_start') }} as date)
            as quarter_start,
        coalesce(segment_churn.logo_churn_rate, 0) as logo_churn_rate,
        coalesce(today_book.accounts, 0) as accounts_today,
        coverage.accounts_per_csm
    from segments
    cross join quarter_numbers
    cross join current_quarter
    left join segment_churn
        on segments.segment = segment_churn.segment
    left join today_book
        on segments.segment = today_book.segment
    left join coverage
        on segments.segment = coverage.segment

),

planned_quarters as (

    -- The plan's new customers of quarters 1-4 (the current quarter's wins are in today's book as they come):
    -- the quarter's own row, else the segment's default row (blank quarter_start).
    select
        segment_quarters.segment,
        segment_quarters.quarter_number,
        case
            when segment_quarters.quarter_number = 0 then 0
            else coalesce(max(dated.new_customers), max(fallback.new_customers), 0)
        end as new_customers
    from segment_quarters
    left join planned as dated
        on
            segment_quarters.segment = dated.segment
            and segment_quarters.quarter_start = dated.quarter_start
    left join planned as fallback
        on
            segment_quarters.segment = fallback.segment
            and fallback.quarter_start is null
    group by segment_quarters.segment, segment_quarters.quarter_number

),

projected as (

    select
        segment_quarters.segment,
        segment_quarters.quarter_number,
        segment_quarters.quarter_start,
        segment_quarters.accounts_per_csm,
        max(planned_quarters.new_customers) as new_customers,
        max(
            segment_quarters.accounts_today
            * power(1 - segment_quarters.logo_churn_rate, segment_quarters.quarter_number)
        )
        + coalesce(
            sum(
                earlier.new_customers
                * power(1 - segment_quarters.logo_churn_rate, segment_quarters.quarter_number - earlier.quarter_number)
            ),
            0
        ) as accounts
    from segment_quarters
    inner join planned_quarters
        on
            segment_quarters.segment = planned_quarters.segment
            and segment_quarters.quarter_number = planned_quarters.quarter_number
    left join planned_quarters as earlier
        on
            segment_quarters.segment = earlier.segment
            and earlier.quarter_number between 1 and segment_quarters.quarter_number
    group by
        segment_quarters.segment,
        segment_quarters.quarter_number,
        segment_quarters.quarter_start,
        segment_quarters.accounts_per_csm

),

company_book as (

    select sum(arr_usd) / nullif(sum(accounts), 0) as arr_per_account_usd
    from today_book

),

arr_per_account as (

    -- Today's ARR per account of the segment (the company's for a segment without customers yet).
    select
        segments.segment,
        coalesce(today_book.arr_usd / nullif(today_book.accounts, 0), company_book.arr_per_account_usd, 0) as arr_usd
    from segments
    cross join company_book
    left join today_book
        on segments.segment = today_book.segment

),

quarters as (

    select
        projected.quarter_number,
        projected.quarter_start,
        sum(projected.new_customers) as planned_new_customers,
        sum(projected.accounts) as accounts,
        sum(case when projected.segment = 'enterprise' then projected.accounts else 0 end) as enterprise_accounts,
        sum(case when projected.segment = 'mid_market' then projected.accounts else 0 end) as mid_market_accounts,
        sum(case when projected.segment = 'smb' then projected.accounts else 0 end) as smb_accounts,
        sum(projected.accounts * arr_per_account.arr_usd) as arr_usd,
        sum(projected.accounts / projected.accounts_per_csm) as csms_needed
    from projected
    inner join arr_per_account
        on projected.segment = arr_per_account.segment
    group by projected.quarter_number, projected.quarter_start

),

staff as (

    select count(*) as csms_on_staff
    from books
    where owner_id != 'unassigned'

),

staffed as (

    select
        quarters.*,
        cast(ceil(quarters.csms_needed - 1e-9) as integer) as csms_needed_whole,
        staff.csms_on_staff,
        parameters.csm_cost_per_head_usd,
        parameters.cs_budget_share,
        current_quarter.as_of_date
    from quarters
    cross join staff
    cross join parameters
    cross join current_quarter

),

final as (

    select
        cast(staffed.quarter_start as date) as quarter_start,
        cast(staffed.quarter_number as integer) as quarter_number,
        staffed.quarter_number = 0 as is_current_book,
        cast(staffed.planned_new_customers as {{ type_double() }}) as planned_new_customers,
        cast(
            lag(staffed.accounts) over (order by staffed.quarter_number)
            + staffed.planned_new_customers - staffed.accounts as {{ type_double() }}
        ) as expected_churned_accounts,
        cast(staffed.accounts as {{ type_double() }}) as accounts,
        cast(staffed.enterprise_accounts as {{ type_double() }}) as enterprise_accounts,
        cast(staffed.mid_market_accounts as {{ type_double() }}) as mid_market_accounts,
        cast(staffed.smb_accounts as {{ type_double() }}) as smb_accounts,
        cast(staffed.arr_usd as {{ type_double() }}) as arr_usd,
        cast(staffed.csms_needed as {{ type_double() }}) as csms_needed,
        staffed.csms_needed_whole,
        cast(staffed.csms_on_staff as integer) as csms_on_staff,
        cast(
            case
                when staffed.csms_needed_whole > staffed.csms_on_staff
                    then staffed.csms_needed_whole - staffed.csms_on_staff
                else 0
            end as integer
        ) as hires_needed,
        cast(
            case
                when staffed.csms_needed_whole > staffed.csms_on_staff then staffed.csms_needed_whole
                else staffed.csms_on_staff
            end * staffed.csm_cost_per_head_usd as {{ type_double() }}
        ) as cs_cost_usd,
        cast(staffed.cs_budget_share as {{ type_double() }}) as cs_budget_share_target,
        staffed.as_of_date
    from staffed

)

select
    quarter_start,
    quarter_number,
    is_current_book,
    planned_new_customers,
    expected_churned_accounts,
    accounts,
    enterprise_accounts,
    mid_market_accounts,
    smb_accounts,
    arr_usd,
    csms_needed,
    csms_needed_whole,
    csms_on_staff,
    hires_needed,
    cs_cost_usd,
    cast(cs_cost_usd / nullif(arr_usd, 0) as {{ type_double() }}) as cs_cost_share,
    cs_budget_share_target,
    cs_cost_usd > cs_budget_share_target * arr_usd as is_over_budget,
    as_of_date
from final
