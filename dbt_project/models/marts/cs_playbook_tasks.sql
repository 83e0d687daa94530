{#- The CSM tasks due today: one row per account and playbook, with the task text filled in from the playbooks
    seed (at-risk triggers, detractors, closed high-priority tickets, stalled onboardings, periodic reviews). The nightly CRM sync creates them (never twice while one is open, and not more often than the
    playbook's cadence). -#}
with

customers as (

    select * from {{ ref('customer_360') }}

),

at_risk as (

    select * from {{ ref('at_risk_accounts') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

playbooks as (

    select * from {{ ref('playbooks') }}

),

responses as (

    select * from {{ ref('stg_surveys__responses') }}

),

tickets as (

    select * from {{ ref('stg_hubspot__tickets') }}

),

onboarding as (

    select * from {{ ref('onboarding_progress') }}

),

{%- set t = dbt.type_string() %}

risk_triggers as (

    -- Every trigger of an at-risk account (the list names them in priority order).
    select
        at_risk.account_id,
        playbooks.trigger as trigger_name,
        at_risk.risk_reasons as reasons
    from at_risk
    inner join playbooks
        on ', ' || at_risk.triggers || ', ' like '%, ' || playbooks.trigger || ', %'

),

detractors as (

    select
        responses.account_id,
        'detractor' as trigger_name,
        'NPS '
        || cast(max(responses.score) as {{ t }})
        || ' on '
        || cast(max(cast(responses.submitted_at as date)) as {{ t }})
        || coalesce(': "' || max(responses.comment) || '"', '') as reasons
    from responses
    cross join parameters
    where
        responses.nps_category = 'detractor'
        and cast(responses.submitted_at as date)
        >= {{ dbt.dateadd('day', '-cast(parameters.detractor_lookback_days as integer)', as_of_date()) }}
    group by responses.account_id

),

closed_high_priority as (

    select
        customers.account_id,
        'high_priority_ticket_closed' as trigger_name,
        'high-priority ticket "' || max(tickets.subject) || '" closed on '
        || cast(max(cast(tickets.closed_at as date)) as {{ t }}) as reasons
    from tickets
    inner join customers
        on tickets.company_id = customers.company_id
    cross join parameters
    where
        tickets.is_high_priority
        and cast(tickets.closed_at as date)
        <= {{ dbt.dateadd('day', '-cast(parameters.post_ticket_days as integer)', as_of_date()) }}
        and cast(tickets.closed_at as date)
        > {{ dbt.dateadd('day', '-2 * cast(parameters.post_ticket_days as integer)', as_of_date()) }}
    group by customers.account_id

),

stalled_onboarding as (

    -- A customer in its first 90 days that stopped reaching onboarding milestones (onboarding_progress).
    select
        account_id,
        'onboarding_stalled' as trigger_name,
        'onboarding stalled: '
        || cast(milestones_reached as {{ t }}) || ' of ' || cast(milestones_total as {{ t }})
        || ' milestones, none new in ' || cast(days_since_progress as {{ t }}) || ' days'
        || coalesce('; next: ' || next_milestone, '') as reasons
    from onboarding
    where is_stalled

),

periodic as (

    select
        customers.account_id,
        'periodic_review' as trigger_name,
        'scheduled review' as reasons
    from customers
    where customers.mrr_usd > 0

),

all_triggers as (

    select * from risk_triggers
    union all
    select * from detractors
    union all
    select * from closed_high_priority
    union all
    select * from stalled_onboarding
    union all
    select * from periodic

),

per_playbook as (

    -- One task per account and playbook: the highest-priority trigger names it.
    select
        all_triggers.account_id,
        all_triggers.trigger_name,
        all_triggers.reasons,
        playbooks.playbook,
        playbooks.priority,
        playbooks.task_title,
        playbooks.task_body_template,
        playbooks.due_in_days,
        playbooks.cadence_days,
        row_number() over (
            partition by all_triggers.account_id, playbooks.playbook order by playbooks.priority
        ) as choice
    from all_triggers
    inner join playbooks
        on all_triggers.trigger_name = playbooks.trigger

),

fill_values as (

    -- The text each placeholder of the templates stands for (`{company}` <- fill_company, ...). The CRM sync
    -- renders the templates from these columns itself, in one pass (activation/templates.py).
    select
        per_playbook.account_id,
        customers.company_id,
        customers.owner_id,
        customers.owner_email,
        per_playbook.playbook,
        per_playbook.trigger_name,
        per_playbook.priority,
        per_playbook.account_id in (select at_risk.account_id from at_risk) as is_at_risk,
        per_playbook.task_title as task_title_template,
        per_playbook.task_body_template,
        coalesce(customers.company_name, customers.account_id) as fill_company,
        coalesce(per_playbook.reasons, '') as fill_reasons,
        coalesce(cast(customers.renewal_date as {{ t }}), 'n/a') as fill_renewal_date,
        coalesce('$' || cast(cast(round(customers.arr_usd) as integer) as {{ t }}), 'n/a') as fill_arr,
        coalesce(customers.health_status, 'unknown') as fill_status,
        coalesce(cast({{ to_integer('customers.health_score') }} as {{ t }}), 'n/a') as fill_score,
        coalesce(cast({{ to_integer('-customers.health_change_30d') }} as {{ t }}), '0') as fill_drop,
        cast({{ dbt.dateadd('day', 'per_playbook.due_in_days', as_of_date()) }} as date) as due_date,
        case
            when per_playbook.trigger_name != 'periodic_review' then per_playbook.cadence_days
            when customers.segment = 'enterprise' or customers.arr_usd >= parameters.periodic_review_large_arr_usd
                then per_playbook.cadence_days
            else cast(parameters.periodic_review_small_cadence_days as integer)
        end as cadence_days,
        customers.as_of_date

    from per_playbook
    inner join customers
        on per_playbook.account_id = customers.account_id
    cross join parameters
    where per_playbook.choice = 1

),

filled as (

    -- The filled-in text for readers of the mart. Each value's "{" is masked (chr(1)) while the placeholders are
    -- replaced one after another and restored at the end, so text inside a value (a company called "Acme {arr}")
    -- is never taken for a placeholder.
    {%- set placeholders = ['company', 'reasons', 'renewal_date', 'arr', 'status', 'score', 'drop'] %}
    {%- set ns = namespace(fill='{field}') %}
    {%- for name in placeholders %}
        {%- set ns.fill = 'replace(' ~ ns.fill ~ ", '{" ~ name ~ "}', replace(fill_" ~ name ~ ", '{', chr(1)))" %}
    {%- endfor %}
    select
        account_id,
        company_id,
        owner_id,
        owner_email,
        playbook,
        trigger_name,
        priority,
        is_at_risk,
        replace({{ ns.fill | replace('{field}', 'task_title_template') }}, chr(1), '{') as task_title,
        replace({{ ns.fill | replace('{field}', 'task_body_template') }}, chr(1), '{') as task_body,
        task_title_template,
        task_body_template,
        fill_company,
        fill_reasons,
        fill_renewal_date,
        fill_arr,
        fill_status,
        fill_score,
        fill_drop,
        due_date,
        cadence_days,
        as_of_date
    from fill_values

)

select * from filled
