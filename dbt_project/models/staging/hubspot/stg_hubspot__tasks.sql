{#- The tasks csops created in the CRM (one row per CRM task, found by its csops_task_key), as the CRM shows them
    now: status, due and completion times, the latest owner (a task handed to another CSM carries its new owner);
    deleted ones are kept and flagged. The account is the first part of the key; the playbook and the trigger are
    read from the footer the sync writes at the end of every body ("Playbook: <playbook> (trigger: <trigger>).
    Created by csops; key <key>."); without it, the playbook is the key's slug and the trigger unknown. -#}
with

tasks as (

    {{ source_columns(source('hubspot', 'tasks'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'csops_task_key': 'string',
        'hs_task_subject': 'string',
        'hs_task_body': 'string', 'hs_task_status': 'string', 'hs_timestamp': 'utc',
        'hs_task_completion_date': 'utc', 'hubspot_owner_id': 'string', 'hs_createdate': 'utc',
        'hs_lastmodifieddate': 'utc'
    }) }}

),

footer as (

    select
        tasks.*,
        case
            when
                tasks.hs_task_body like '%Playbook: % (trigger: %'
                then {{ dbt.split_part('hs_task_body', "'Playbook: '", -1) }}
        end as footer_text
    from tasks
    where tasks.csops_task_key is not null

),

final as (

    select
        id as task_id,
        csops_task_key as task_key,
        {{ dbt.split_part('csops_task_key', "':'", 1) }} as account_id,
        company_id,
        coalesce(
            {{ dbt.split_part('footer_text', "' (trigger: '", 1) }},
            {{ dbt.split_part('csops_task_key', "':'", 2) }}
        ) as playbook,
        {{ dbt.split_part(dbt.split_part('footer_text', "' (trigger: '", 2), "')'", 1) }} as trigger_name,
        hs_task_subject as title,
        hs_task_status as task_status,
        coalesce(hs_task_status = 'COMPLETED', false) as is_completed,
        coalesce(archived, false) as is_deleted,
        hs_timestamp as due_at,
        case when hs_task_status = 'COMPLETED' then hs_task_completion_date end as completed_at,
        hubspot_owner_id as owner_id,
        hs_createdate as crm_created_at,
        hs_lastmodifieddate as modified_at
    from footer

)

select * from final
