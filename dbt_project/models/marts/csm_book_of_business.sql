{#- Each CSM's book today (DECISIONLOG "CSM book of business"): paying accounts and ARR by health band, ARR on the
    at-risk list, csops tasks planned for the CSM, the csops tasks open and overdue in the CRM (the CSM they are
    assigned to now), and the workload against the segments' coverage targets. -#}
with

customers as (

    select * from {{ ref('customer_360') }}

),

at_risk as (

    select * from {{ ref('at_risk_accounts') }}

),

tasks as (

    select * from {{ ref('cs_playbook_tasks') }}

),

crm_tasks as (

    select * from {{ ref('stg_hubspot__tasks') }}

),

coverage as (

    select * from {{ ref('csm_coverage_targets') }}

),

book as (

    select
        customers.account_id,
        coalesce(customers.owner_id, 'unassigned') as owner_id,
        customers.owner_name,
        customers.owner_email,
        customers.segment,
        customers.arr_usd,
        customers.health_status,
        customers.as_of_date
    from customers
    where customers.mrr_usd > 0

),

books as (

    select
        owner_id,
        max(owner_name) as owner_name,
        max(owner_email) as owner_email,
        count(*) as accounts,
        sum(arr_usd) as arr_usd,
        sum(case when health_status = 'green' then 1 else 0 end) as green_accounts,
        sum(case when health_status = 'yellow' then 1 else 0 end) as yellow_accounts,
        sum(case when health_status = 'red' then 1 else 0 end) as red_accounts,
        sum(case when health_status = 'green' then arr_usd else 0 end) as green_arr_usd,
        sum(case when health_status = 'yellow' then arr_usd else 0 end) as yellow_arr_usd,
        sum(case when health_status = 'red' then arr_usd else 0 end) as red_arr_usd,
        sum(case when segment = 'enterprise' then 1 else 0 end) as enterprise_accounts,
        sum(case when segment = 'mid_market' then 1 else 0 end) as mid_market_accounts,
        sum(case when segment = 'smb' then 1 else 0 end) as smb_accounts,
        max(as_of_date) as as_of_date
    from book
    group by owner_id

),

workload as (

    -- A full book in each segment weighs 1: the sum over segments of accounts / accounts per CSM.
    select
        book.owner_id,
        sum(1.0 / coverage.accounts_per_csm) as workload,
        sum(case when coverage.segment is null then 1 else 0 end) as accounts_without_target
    from book
    left join coverage
        on book.segment = coverage.segment
    group by book.owner_id

),

risk as (

    select
        book.owner_id,
        count(*) as at_risk_accounts,
        sum(at_risk.arr_at_stake_usd) as at_risk_arr_usd
    from at_risk
    inner join book
        on at_risk.account_id = book.account_id
    group by book.owner_id

),

owner_tasks as (

    select
        coalesce(owner_id, 'unassigned') as owner_id,
        count(*) as open_tasks,
        sum(case when is_at_risk then 1 else 0 end) as open_at_risk_tasks,
        min(due_date) as next_task_due_date
    from tasks
    group by coalesce(owner_id, 'unassigned')

),

crm_open_tasks as (

    select
        coalesce(owner_id, 'unassigned') as owner_id,
        count(*) as crm_open_tasks,
        sum(case when cast(due_at as date) < {{ as_of_date() }} then 1 else 0 end) as crm_overdue_tasks
    from crm_tasks
    where not is_completed and not is_deleted
    group by coalesce(owner_id, 'unassigned')

),

final as (

    select
        books.owner_id,
        coalesce(books.owner_name, 'unassigned') as owner_name,
        books.owner_email,
        cast(books.accounts as integer) as accounts,
        cast(books.enterprise_accounts as integer) as enterprise_accounts,
        cast(books.mid_market_accounts as integer) as mid_market_accounts,
        cast(books.smb_accounts as integer) as smb_accounts,
        cast(books.arr_usd as {{ type_double() }}) as arr_usd,
        cast(books.green_accounts as integer) as green_accounts,
        cast(books.yellow_accounts as integer) as yellow_accounts,
        cast(books.red_accounts as integer) as red_accounts,
        cast(books.green_arr_usd as {{ type_double() }}) as green_arr_usd,
        cast(books.yellow_arr_usd as {{ type_double() }}) as yellow_arr_usd,
        cast(books.red_arr_usd as {{ type_double() }}) as red_arr_usd,
        cast(coalesce(risk.at_risk_accounts, 0) as integer) as at_risk_accounts,
        cast(coalesce(risk.at_risk_arr_usd, 0) as {{ type_double() }}) as at_risk_arr_usd,
        cast(coalesce(owner_tasks.open_tasks, 0) as integer) as open_tasks,
        cast(coalesce(owner_tasks.open_at_risk_tasks, 0) as integer) as open_at_risk_tasks,
        owner_tasks.next_task_due_date,
        cast(coalesce(crm_open_tasks.crm_open_tasks, 0) as integer) as crm_open_tasks,
        cast(coalesce(crm_open_tasks.crm_overdue_tasks, 0) as integer) as crm_overdue_tasks,
        cast(workload.workload as {{ type_double() }}) as workload,
        workload.workload > 1 as is_over_capacity,
        cast(workload.accounts_without_target as integer) as accounts_without_target,
        books.as_of_date
    from books
    inner join workload
        on books.owner_id = workload.owner_id
    left join risk
        on books.owner_id = risk.owner_id
    left join owner_tasks
        on books.owner_id = owner_tasks.owner_id
    left join crm_open_tasks
        on books.owner_id = crm_open_tasks.owner_id

)

select * from final
