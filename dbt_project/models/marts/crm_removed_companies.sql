{#- Every HubSpot company that is no longer there to write to: deleted (archived), or merged into another (its id
    now reads as the survivor). The CRM push never writes to these ids: it forgets what it synced to them, and an
    account whose company was merged writes to the survivor, which staging already attributes it to. -#}
with

archived as (

    select * from {{ ref('stg_hubspot__archived_records') }}
    where object_type = 'companies'

),

merged as (

    select * from {{ ref('stg_hubspot__merged_records') }}
    where object_type = 'companies'

),

final as (

    select
        archived_id as company_id,
        'archived' as removal,
        cast(null as {{ dbt.type_string() }}) as survivor_company_id,
        archived_at as removed_at

    from archived

    union all

    -- A merged-away company whose survivor was deleted since is gone with it.
    select
        merged.merged_id as company_id,
        case when archived.archived_id is null then 'merged' else 'archived' end as removal,
        case when archived.archived_id is null then merged.survivor_id end as survivor_company_id,
        archived.archived_at as removed_at

    from merged
    left join archived
        on merged.survivor_id = archived.archived_id
    left join archived as archived_itself
        on merged.merged_id = archived_itself.archived_id
    where archived_itself.archived_id is null

)

select * from final
