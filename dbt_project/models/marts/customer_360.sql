{#- Everything CS needs about an account on one row, as of the as-of date. BI-facing: the columns are a
    contract. -#}
with

accounts as (

    select * from {{ ref('int_accounts') }}

),

current_subscriptions as (

    select * from {{ ref('int_billing__current_subscriptions') }}

),

account_months as (

    select * from {{ ref('int_mrr__account_months') }}

),

movements as (

    select * from {{ ref('mrr_movements') }}

),

health as (

    select *
    from {{ ref('customer_health_daily') }}
    where health_date = {{ dbt.dateadd('day', -1, as_of_date()) }}

),

events as (

    select *
    from {{ ref('stg_usage__events') }}
    where
        -- on the raw time first: the warehouse skips the blocks before the window
        occurred_at_tz >= {{ day_start_tz(dbt.dateadd('day', -30, as_of_date())) }}
        and occurred_on >= {{ dbt.dateadd('day', -30, as_of_date()) }}
        and occurred_on < {{ as_of_date() }}

),

tickets as (

    select * from {{ ref('stg_hubspot__tickets') }}

),

engagements as (

    select * from {{ ref('stg_hubspot__engagements') }}

),

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

responses as (

    select * from {{ ref('stg_surveys__responses') }}

),

latest_month as (

    select max(month_start) as month_start
    from account_months

),

current_mrr as (

    select
        account_months.account_id,
        account_months.mrr_usd
    from account_months
    inner join latest_month
        on account_months.month_start = latest_month.month_start

),

customer_since as (

    select
        account_id,
        min(month) as first_paid_month
    from movements
    where movement_type = 'new'
    group by account_id

),

-- Each user's last active day of the 30: a user was active yesterday, or in the last 7 days, when that day is. One
-- grouping of the events instead of three distinct counts (each its own hash table over 7M events at large).
users_30d as (

    select
        account_id,
        user_id,
        max(occurred_on) as last_active_on,
        max(occurred_at) as last_activity_at
    from events
    group by account_id, user_id

),

usage_30d as (

    select
        account_id,
        count(case when last_active_on = {{ dbt.dateadd('day', -1, as_of_date()) }} then user_id end)
            as daily_active_users,
        count(case when last_active_on >= {{ dbt.dateadd('day', -7, as_of_date()) }} then user_id end)
            as weekly_active_users,
        count(user_id) as monthly_active_users,
        max(last_activity_at) as last_activity_at
    from users_30d
    group by account_id

),

support as (

    select
        company_id,
        sum(case when not is_closed then 1 else 0 end) as open_tickets,
        sum(case when not is_closed and is_high_priority then 1 else 0 end) as open_high_priority_tickets
    from tickets
    group by company_id

),

touches as (

    select
        company_id,
        max(occurred_at) as last_csm_touch_at
    from engagements
    group by company_id

),

champions as (

    select
        company_id,
        sum(case when is_champion and not has_left_company then 1 else 0 end) as champions_present,
        max(case when is_champion and has_left_company then left_company_on end) as champion_left_on
    from contacts
    group by company_id

),

latest_nps as (

    select
        account_id,
        score as latest_nps_score,
        cast(submitted_at as date) as latest_nps_on,
        row_number() over (partition by account_id order by submitted_at desc, response_id asc) as recency
    from responses

),

final as (

    select
        accounts.account_id,
        accounts.company_id,
        accounts.customer_id,
        accounts.is_billing_customer_deleted,
        accounts.company_name,
        accounts.domain,
        accounts.industry,
        accounts.employee_count,
        accounts.country,
        accounts.segment,
        accounts.lifecycle_stage,
        accounts.owner_id,
        accounts.owner_name,
        accounts.owner_email,
        current_subscriptions.subscription_status,
        current_subscriptions.plan_name,
        current_subscriptions.billing_interval,
        accounts.billing_currency,
        coalesce(current_mrr.mrr_usd, 0) as mrr_usd,
        coalesce(current_mrr.mrr_usd, 0) * 12 as arr_usd,
        current_subscriptions.seats,
        current_subscriptions.renewal_date,
        coalesce(current_subscriptions.is_cancellation_scheduled, false) as is_cancellation_scheduled,
        coalesce(current_subscriptions.has_past_due_invoice, false) as has_past_due_invoice,
        current_subscriptions.past_due_since,
        customer_since.first_paid_month as customer_since_month,
        coalesce(usage_30d.daily_active_users, 0) as daily_active_users,
        coalesce(usage_30d.weekly_active_users, 0) as weekly_active_users,
        coalesce(usage_30d.monthly_active_users, 0) as monthly_active_users,
        case
            when current_subscriptions.seats > 0
                then
                    cast(coalesce(usage_30d.monthly_active_users, 0) as {{ type_double() }})
                    / current_subscriptions.seats
        end as seat_utilisation_30d,
        health.active_users_trend_28d,
        health.features_used_30d,
        usage_30d.last_activity_at,
        cast(coalesce(support.open_tickets, 0) as bigint) as open_tickets,
        cast(coalesce(support.open_high_priority_tickets, 0) as bigint) as open_high_priority_tickets,
        latest_nps.latest_nps_score,
        latest_nps.latest_nps_on,
        touches.last_csm_touch_at,
        coalesce(champions.champions_present, 0) > 0 as has_champion,
        champions.champion_left_on,
        health.health_score,
        health.health_status,
        health.health_change_30d,
        health.top_driver_1,
        health.top_driver_2,
        health.top_driver_3,
        {{ as_of_date() }} as as_of_date

    from accounts
    left join current_subscriptions
        on accounts.account_id = current_subscriptions.account_id
    left join current_mrr
        on accounts.account_id = current_mrr.account_id
    left join customer_since
        on accounts.account_id = customer_since.account_id
    left join usage_30d
        on accounts.account_id = usage_30d.account_id
    left join support
        on accounts.company_id = support.company_id
    left join touches
        on accounts.company_id = touches.company_id
    left join champions
        on accounts.company_id = champions.company_id
    left join latest_nps
        on accounts.account_id = latest_nps.account_id and latest_nps.recency = 1
    left join health
        on accounts.account_id = health.account_id

)

select * from final
