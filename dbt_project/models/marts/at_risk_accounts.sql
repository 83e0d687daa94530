{#- Today's at-risk list (DECISIONLOG "At risk"): why (three reasons in plain words), ARR at stake, renewal,
    owner, recommended playbook, ranked by ARR at stake. A csops task left open past its due date keeps its account on
    the list ("playbook task overdue N days") while the account is a customer: nobody has acted yet. -#}
with

customers as (

    select * from {{ ref('customer_360') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

playbooks as (

    select * from {{ ref('playbooks') }}

),

crm_tasks as (

    select * from {{ ref('stg_hubspot__tasks') }}

),

{%- set t = dbt.type_string() %}
{#- The triggers below that put an account on the list (a task of theirs left overdue keeps it there). -#}
{%- set risk_triggers = ['payment_past_due', 'champion_left', 'cancellation_scheduled', 'renewal_risk', 'score_drop',
                         'red_health'] %}

overdue_tasks as (

    -- The most overdue open csops task of each account (due before today, neither completed nor deleted), with
    -- the trigger that created it.
    select
        account_id,
        trigger_name,
        days_overdue,
        row_number() over (partition by account_id order by days_overdue desc, task_id asc) as overdue_rank
    from (
        select
            crm_tasks.account_id,
            crm_tasks.trigger_name,
            crm_tasks.task_id,
            {{ dbt.datediff('cast(crm_tasks.due_at as date)', 'today.as_of_date', 'day') }} as days_overdue  -- noqa: LT05
        from crm_tasks
        cross join (select {{ as_of_date() }} as as_of_date) as today
        where
            not crm_tasks.is_completed
            and not crm_tasks.is_deleted
            and cast(crm_tasks.due_at as date) < today.as_of_date
    ) as open_tasks

),

current_triggers as (

    select
        account_id,
        'payment_past_due' as trigger_name,
        'invoice past due since ' || cast(past_due_since as {{ t }}) as reason
    from customers
    where has_past_due_invoice

    union all

    select
        account_id,
        'champion_left' as trigger_name,
        'champion left on ' || cast(champion_left_on as {{ t }}) || ', no new champion named' as reason
    from customers
    where not has_champion and champion_left_on is not null and mrr_usd > 0

    union all

    select
        account_id,
        'cancellation_scheduled' as trigger_name,
        'cancellation scheduled for ' || cast(renewal_date as {{ t }}) as reason
    from customers
    where is_cancellation_scheduled

    union all

    select
        customers.account_id,
        'renewal_risk' as trigger_name,
        'renews on ' || cast(customers.renewal_date as {{ t }}) || ' with health ' || customers.health_status
            as reason
    from customers
    cross join parameters
    where
        customers.health_status = 'yellow'
        and customers.billing_interval in ('annual', 'quarterly')
        and not customers.is_cancellation_scheduled
        and customers.renewal_date <= {{ dbt.dateadd('day', 'cast(parameters.at_risk_renewal_days as integer)',
                                                     as_of_date()) }}

    union all

    select
        customers.account_id,
        'score_drop' as trigger_name,
        'health down ' || cast({{ to_integer('-customers.health_change_30d') }} as {{ t }}) || ' points in 30 days'
            as reason
    from customers
    cross join parameters
    where customers.health_change_30d <= -parameters.at_risk_score_drop

    union all

    select
        account_id,
        'red_health' as trigger_name,
        'health red (score ' || cast({{ to_integer('health_score') }} as {{ t }}) || ')' as reason
    from customers
    where health_status = 'red'

),

triggers as (

    select * from current_triggers

    union all

    -- An account no rule names tonight stays on the list under the trigger of its overdue at-risk task.
    select
        account_id,
        trigger_name,
        'playbook task overdue ' || cast(days_overdue as {{ t }}) || ' days' as reason
    from (
        select
            account_id,
            trigger_name,
            days_overdue,
            row_number() over (partition by account_id order by days_overdue desc) as risk_rank
        from overdue_tasks
        where trigger_name in ('{{ risk_triggers | join("', '") }}')  -- noqa: LT05
    ) as overdue_risk_tasks
    where
        risk_rank = 1
        and account_id not in (select current_triggers.account_id from current_triggers)

),

ranked_triggers as (

    select
        triggers.*,
        playbooks.playbook,
        playbooks.priority,
        row_number() over (
            partition by triggers.account_id order by playbooks.priority, triggers.trigger_name
        ) as trigger_rank

    from triggers
    inner join playbooks
        on triggers.trigger_name = playbooks.trigger

),

driver_reasons as (

    select
        account_id,
        top_driver_1 as reason,
        1 as driver_rank
    from customers
    where top_driver_1 is not null
    union all
    select
        account_id,
        top_driver_2 as reason,
        2 as driver_rank
    from customers
    where top_driver_2 is not null
    union all
    select
        account_id,
        top_driver_3 as reason,
        3 as driver_rank
    from customers
    where top_driver_3 is not null

),

all_reasons as (

    select
        account_id,
        reason,
        trigger_rank as reason_order
    from ranked_triggers
    union all
    -- On an account a rule names, the overdue task comes right after the triggers.
    select
        overdue_tasks.account_id,
        'playbook task overdue ' || cast(overdue_tasks.days_overdue as {{ t }}) || ' days' as reason,
        50 as reason_order
    from overdue_tasks
    where overdue_tasks.overdue_rank = 1
    union all
    select
        driver_reasons.account_id,
        driver_reasons.reason,
        100 + driver_reasons.driver_rank as reason_order
    from driver_reasons
    where driver_reasons.account_id in (select ranked_triggers.account_id from ranked_triggers)

),

distinct_reasons as (

    -- A trigger and a health driver can say the same thing (champion gone): keep it once, where it ranks first.
    select
        account_id,
        reason,
        min(reason_order) as reason_order
    from all_reasons
    group by account_id, reason

),

numbered_reasons as (

    select
        account_id,
        reason,
        row_number() over (partition by account_id order by reason_order) as reason_number
    from distinct_reasons

),

at_risk as (

    select
        account_id,
        max(case when trigger_rank = 1 then playbook end) as recommended_playbook,
        max(case when trigger_rank = 1 then trigger_name end) as primary_trigger,
        {{ dbt.listagg('trigger_name', "', '", "order by trigger_rank") }} as triggers
    from ranked_triggers
    group by account_id

),

final as (

    select
        customers.account_id,
        customers.company_id,
        customers.company_name,
        customers.segment,
        customers.owner_id,
        customers.owner_name,
        customers.owner_email,
        customers.health_score,
        customers.health_status,
        customers.health_change_30d,
        customers.mrr_usd * 12 as arr_at_stake_usd,
        customers.renewal_date,
        customers.billing_interval,
        at_risk.primary_trigger,
        at_risk.triggers,
        reason_1.reason as reason_1,
        reason_2.reason as reason_2,
        reason_3.reason as reason_3,
        reason_1.reason
        || coalesce('; ' || reason_2.reason, '')
        || coalesce('; ' || reason_3.reason, '') as risk_reasons,
        at_risk.recommended_playbook,
        -- bigint on every engine (Spark's row_number is int): the contract says bigint.
        cast(row_number() over (order by customers.mrr_usd desc, customers.account_id asc) as bigint) as priority_rank,
        customers.as_of_date

    from at_risk
    inner join customers
        on at_risk.account_id = customers.account_id
    left join numbered_reasons as reason_1
        on at_risk.account_id = reason_1.account_id and reason_1.reason_number = 1
    left join numbered_reasons as reason_2
        on at_risk.account_id = reason_2.account_id and reason_2.reason_number = 2
    left join numbered_reasons as reason_3
        on at_risk.account_id = reason_3.account_id and reason_3.reason_number = 3
    where customers.mrr_usd > 0 or customers.subscription_status = 'trialing'

)

select * from final
