{#- One row per task csops created in the CRM (DECISIONLOG "Playbook outcomes"): trigger and playbook, created / due /
    completed, on time, the CSM's activity on the account after it, health when it was created and 30 / 60 / 90 days
    later, whether the account was still a customer playbook_outcome_days later, and how its next renewal went. -#}
with

tasks as (

    select * from {{ ref('stg_hubspot__tasks') }}

),

playbooks as (

    select * from {{ ref('playbooks') }}

),

customers as (

    select * from {{ ref('customer_360') }}

),

health as (

    select * from {{ ref('customer_health_daily') }}

),

subscriptions as (

    select * from {{ ref('int_billing__subscriptions') }}

),

renewals as (

    select * from {{ ref('int_renewals__outcomes') }}

),

engagements as (

    select * from {{ ref('stg_hubspot__engagements') }}

),

dated as (

    -- The sync sets a task's due date to its as-of date plus the playbook's due_in_days, so the night it was
    -- created is the due date minus those days (the CRM's create time is when the write happened, not which
    -- night's data the task came from). A task whose trigger the seed no longer lists keeps the CRM's date.
    select
        tasks.*,
        cast(tasks.due_at as date) as due_on,
        coalesce(
            cast({{ dbt.dateadd('day', '-playbooks.due_in_days', 'cast(tasks.due_at as date)') }} as date),
            cast(tasks.crm_created_at as date)
        ) as created_on
    from tasks
    left join playbooks
        on tasks.trigger_name = playbooks.trigger

),

with_account as (

    select
        dated.*,
        customers.company_id as account_company_id,
        coalesce(customers.segment, 'unassigned') as segment,
        cast({{ dbt.dateadd('day', var('playbook_outcome_days'), 'dated.created_on') }} as date) as outcome_on,
        cast(dated.created_on as {{ dbt.type_timestamp() }}) as created_at_midnight,
        cast(
            {{ dbt.dateadd('day', var('playbook_outcome_days'), 'dated.created_on') }} as {{ dbt.type_timestamp() }}
        ) as outcome_at_midnight,
        {{ as_of_date() }} as as_of_date
    from dated
    left join customers
        on dated.account_id = customers.account_id

),

paid_spans as (

    -- When each subscription made the account a customer: from its start (its trial's end) until it ended.
    select
        account_id,
        greatest(started_at, coalesce(trial_end_at, started_at)) as customer_from,
        ended_at as customer_until
    from subscriptions

),

customer_days as (

    -- Whether the account was a customer at the start of the night the task was created and at the start of the
    -- day its outcome is read.
    select
        with_account.task_id,
        max(case
            when
                paid_spans.customer_from <= with_account.created_at_midnight
                and coalesce(paid_spans.customer_until > with_account.created_at_midnight, true)
                then 1
            else 0
        end) as customer_at_creation,
        max(case
            when
                paid_spans.customer_from <= with_account.outcome_at_midnight
                and coalesce(paid_spans.customer_until > with_account.outcome_at_midnight, true)
                then 1
            else 0
        end) as customer_at_outcome
    from with_account
    left join paid_spans
        on with_account.account_id = paid_spans.account_id
    group by with_account.task_id

),

health_then as (

    -- Health as the CSM saw it when the task was created (the last scored day before that night), and the same
    -- day-count later.
    select
        with_account.task_id,
        max(case
            when health.health_date = {{ dbt.dateadd('day', -1, 'with_account.created_on') }}
                then health.health_score
        end) as health_score_at_creation,
        max(case
            when health.health_date = {{ dbt.dateadd('day', -1, 'with_account.created_on') }}
                then health.health_status
        end) as health_status_at_creation,
        max(case
            when health.health_date = {{ dbt.dateadd('day', 29, 'with_account.created_on') }}
                then health.health_score
        end) as health_score_30d,
        max(case
            when health.health_date = {{ dbt.dateadd('day', 59, 'with_account.created_on') }}
                then health.health_score
        end) as health_score_60d,
        max(case
            when health.health_date = {{ dbt.dateadd('day', 89, 'with_account.created_on') }}
                then health.health_score
        end) as health_score_90d,
        max(case
            when health.health_date = {{ dbt.dateadd('day', 89, 'with_account.created_on') }}
                then health.health_status
        end) as health_status_90d
    from with_account
    inner join health
        on
            with_account.account_id = health.account_id
            and health.health_date between {{ dbt.dateadd('day', -1, 'with_account.created_on') }}
            and {{ dbt.dateadd('day', 89, 'with_account.created_on') }}
    group by with_account.task_id

),

task_companies as (

    -- The companies a task's activity may be logged on: the one the task is associated with and the account's
    -- company today (they differ when the push found a duplicate company record of the account).
    select
        task_id,
        company_id,
        created_at_midnight,
        outcome_at_midnight
    from with_account
    where company_id is not null
    union
    select
        task_id,
        account_company_id as company_id,
        created_at_midnight,
        outcome_at_midnight
    from with_account
    where account_company_id is not null

),

activity as (

    -- What the CSMs logged on those companies from the night the task was created until the outcome is read.
    select
        task_companies.task_id,
        count(*) as activities_after,
        min(engagements.occurred_at) as first_activity_at
    from task_companies
    inner join engagements
        on
            task_companies.company_id = engagements.company_id
            and engagements.occurred_at >= task_companies.created_at_midnight
            and engagements.occurred_at < task_companies.outcome_at_midnight
    group by task_companies.task_id

),

next_renewal as (

    -- The account's first renewal (of an annual or quarterly term) on or after the task's night.
    select
        with_account.task_id,
        renewals.renewal_date,
        renewals.is_renewed,
        renewals.outcome_known_on,
        row_number() over (partition by with_account.task_id order by renewals.renewal_date) as renewal_number
    from with_account
    inner join renewals
        on with_account.account_id = renewals.account_id and renewals.renewal_date >= with_account.created_on

),

final as (

    select
        with_account.task_id,
        with_account.task_key,
        with_account.account_id,
        coalesce(with_account.company_id, with_account.account_company_id) as company_id,
        with_account.segment,
        with_account.owner_id,
        with_account.trigger_name,
        with_account.playbook,
        with_account.title,
        with_account.task_status,
        case
            when with_account.is_deleted then 'deleted'
            when with_account.is_completed then 'completed'
            else 'open'
        end as status,
        with_account.created_on,
        with_account.due_on,
        with_account.completed_at,
        cast(with_account.completed_at as date) as completed_on,
        cast(
            {{ dbt.datediff('with_account.created_on', 'cast(with_account.completed_at as date)', 'day') }} as integer  -- noqa: LT05
        ) as days_to_complete,
        with_account.is_completed and not with_account.is_deleted as is_completed,
        with_account.is_deleted,
        coalesce(
            with_account.is_completed
            and not with_account.is_deleted
            and {{ dbt.datediff('with_account.created_on', 'cast(with_account.completed_at as date)', 'day') }}
            <= {{ var('playbook_completion_window_days') }},
            false
        ) as is_completed_in_window,
        coalesce(
            with_account.is_completed and cast(with_account.completed_at as date) <= with_account.due_on, false
        ) as is_on_time,
        not with_account.is_completed and not with_account.is_deleted
        and with_account.due_on < with_account.as_of_date as is_overdue,
        case
            when
                not with_account.is_completed and not with_account.is_deleted
                and with_account.due_on < with_account.as_of_date
                then cast({{ dbt.datediff('with_account.due_on', 'with_account.as_of_date', 'day') }} as integer)  -- noqa: LT05
        end as days_overdue,
        cast(coalesce(activity.activities_after, 0) as integer) as activities_after,
        activity.first_activity_at,
        health_then.health_score_at_creation,
        coalesce(health_then.health_status_at_creation, 'unscored') as health_status_at_creation,
        health_then.health_score_30d,
        health_then.health_score_60d,
        health_then.health_score_90d,
        health_then.health_status_90d,
        coalesce(customer_days.customer_at_creation, 0) = 1 as was_customer_at_creation,
        with_account.outcome_on,
        with_account.outcome_on <= with_account.as_of_date as is_outcome_known,
        case
            when with_account.outcome_on <= with_account.as_of_date
                then coalesce(customer_days.customer_at_outcome, 0) = 1
        end as is_recovered,
        next_renewal.renewal_date as next_renewal_date,
        case
            when next_renewal.renewal_date is null then null
            when next_renewal.outcome_known_on > with_account.as_of_date then 'pending'
            when next_renewal.is_renewed then 'renewed'
            else 'churned'
        end as renewal_outcome,
        with_account.as_of_date
    from with_account
    left join customer_days
        on with_account.task_id = customer_days.task_id
    left join health_then
        on with_account.task_id = health_then.task_id
    left join activity
        on with_account.task_id = activity.task_id
    left join next_renewal
        on with_account.task_id = next_renewal.task_id and next_renewal.renewal_number = 1

)

select * from final
