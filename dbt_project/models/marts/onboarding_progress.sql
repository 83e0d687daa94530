{#- Customers (paying or in trial today) in their first onboarding_days (90) from their first subscription (trial
    or paid): the onboarding milestones they reached (usage events of seed onboarding_milestones, first active day,
    a team of onboarding_active_users on one day, the CSM's kickoff in the CRM), days to first value, and whether
    onboarding stalled (DECISIONLOG "Onboarding"). -#}
with

customers as (

    select * from {{ ref('customer_360') }}

),

subscriptions as (

    select * from {{ ref('int_billing__subscriptions') }}

),

account_days as (

    select * from {{ ref('int_usage__account_daily') }}

),

feature_days as (

    select * from {{ ref('int_usage__feature_days') }}

),

engagements as (

    select * from {{ ref('stg_hubspot__engagements') }}

),

milestones as (

    select * from {{ ref('onboarding_milestones') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

starts as (

    select
        subscriptions.account_id,
        min(cast(coalesce(subscriptions.trial_start_at, subscriptions.started_at) as date)) as onboarding_started_on
    from subscriptions
    where subscriptions.account_id is not null
    group by subscriptions.account_id

),

onboarding as (

    select
        starts.account_id,
        starts.onboarding_started_on,
        {{ dbt.datediff('starts.onboarding_started_on', as_of_date(), 'day') }} as days_since_start  -- noqa: LT05
    from starts
    cross join parameters
    where
        starts.onboarding_started_on < {{ as_of_date() }}
        and starts.onboarding_started_on
        > {{ dbt.dateadd('day', '-cast(parameters.onboarding_days as integer)', as_of_date()) }}

),

activity as (

    select
        onboarding.account_id,
        min(case when account_days.events > 0 then account_days.activity_date end) as first_active_on,
        min(
            case
                when account_days.active_users >= parameters.onboarding_active_users then account_days.activity_date
            end
        ) as team_active_on
    from onboarding
    inner join account_days
        on
            onboarding.account_id = account_days.account_id
            and account_days.activity_date >= onboarding.onboarding_started_on
            and account_days.activity_date < {{ as_of_date() }}
    cross join parameters
    group by onboarding.account_id

),

milestone_firsts as (

    -- The first day each onboarding account used each milestone event.
    select
        onboarding.account_id,
        milestones.event_name,
        milestones.milestone_order,
        milestones.is_first_value,
        min(feature_days.activity_date) as reached_on
    from onboarding
    inner join feature_days
        on
            onboarding.account_id = feature_days.account_id
            and feature_days.activity_date >= onboarding.onboarding_started_on
            and feature_days.activity_date < {{ as_of_date() }}
    inner join milestones
        on feature_days.event_name = milestones.event_name
    group by onboarding.account_id, milestones.event_name, milestones.milestone_order, milestones.is_first_value

),

milestone_summary as (

    select
        account_id,
        count(*) as milestones_reached,
        max(reached_on) as last_milestone_on,
        min(case when is_first_value then reached_on end) as first_value_on,
        {{ dbt.listagg('event_name', "', '", "order by milestone_order") }} as reached_milestones
    from milestone_firsts
    group by account_id

),

next_milestones as (

    -- The lowest-order milestone each account has not reached.
    select
        onboarding.account_id,
        milestones.event_name,
        row_number() over (partition by onboarding.account_id order by milestones.milestone_order) as milestone_rank
    from onboarding
    cross join milestones
    left join milestone_firsts
        on
            onboarding.account_id = milestone_firsts.account_id
            and milestones.event_name = milestone_firsts.event_name
    where milestone_firsts.account_id is null

),

kickoffs as (

    -- The CSM's kickoff: the first meeting, or a note or call about onboarding or the kickoff, from the start.
    select
        onboarding.account_id,
        min(cast(engagements.occurred_at as date)) as kickoff_on
    from onboarding
    inner join customers
        on onboarding.account_id = customers.account_id
    inner join engagements
        on
            customers.company_id = engagements.company_id
            and cast(engagements.occurred_at as date) >= onboarding.onboarding_started_on
            and cast(engagements.occurred_at as date) < {{ as_of_date() }}
    where
        engagements.engagement_type = 'meeting'
        or lower(coalesce(engagements.title, '') || ' ' || coalesce(engagements.body, '')) like '%onboarding%'
        or lower(coalesce(engagements.title, '') || ' ' || coalesce(engagements.body, '')) like '%kickoff%'
    group by onboarding.account_id

),

milestone_count as (

    select count(*) as milestones_total
    from milestones

),

progress as (

    select
        onboarding.account_id,
        onboarding.onboarding_started_on,
        onboarding.days_since_start,
        activity.first_active_on,
        activity.team_active_on,
        kickoffs.kickoff_on,
        milestone_summary.first_value_on,
        coalesce(milestone_summary.milestones_reached, 0) as milestones_reached,
        milestone_count.milestones_total,
        milestone_summary.reached_milestones,
        next_milestones.event_name as next_milestone,
        coalesce(milestone_summary.last_milestone_on, onboarding.onboarding_started_on) as last_progress_on,
        parameters.onboarding_stall_days
    from onboarding
    cross join milestone_count
    cross join parameters
    left join activity
        on onboarding.account_id = activity.account_id
    left join kickoffs
        on onboarding.account_id = kickoffs.account_id
    left join milestone_summary
        on onboarding.account_id = milestone_summary.account_id
    left join next_milestones
        on onboarding.account_id = next_milestones.account_id and next_milestones.milestone_rank = 1

),

final as (

    select
        progress.account_id,
        customers.company_id,
        customers.company_name,
        customers.segment,
        customers.owner_id,
        customers.owner_name,
        customers.subscription_status,
        progress.onboarding_started_on,
        cast(progress.days_since_start as integer) as days_since_start,
        progress.first_active_on,
        progress.team_active_on,
        progress.kickoff_on,
        progress.first_value_on,
        cast({{ dbt.datediff('progress.onboarding_started_on', 'progress.first_value_on', 'day') }} as integer)  -- noqa: LT05
            as days_to_first_value,
        cast(progress.milestones_reached as integer) as milestones_reached,
        cast(progress.milestones_total as integer) as milestones_total,
        progress.reached_milestones,
        progress.next_milestone,
        progress.last_progress_on,
        cast({{ dbt.datediff('progress.last_progress_on', as_of_date(), 'day') }} as integer) as days_since_progress,  -- noqa: LT05
        progress.milestones_reached >= progress.milestones_total as is_onboarded,
        progress.milestones_reached < progress.milestones_total
        and {{ dbt.datediff('progress.last_progress_on', as_of_date(), 'day') }} >= progress.onboarding_stall_days  -- noqa: LT05
            as is_stalled,
        {{ as_of_date() }} as as_of_date
    from progress
    inner join customers
        on progress.account_id = customers.account_id
    -- Onboarding is for customers: a trial that ended unconverted or an account already gone is not onboarding.
    where customers.mrr_usd > 0 or customers.subscription_status = 'trialing'

)

select * from final
