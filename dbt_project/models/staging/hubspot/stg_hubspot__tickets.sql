with

tickets as (

    {{ source_columns(source('hubspot', 'tickets'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'subject': 'string',
        'hs_pipeline': 'string', 'hs_pipeline_stage': 'string', 'hs_ticket_priority': 'string',
        'closed_date': 'utc', 'hubspot_owner_id': 'string', 'createdate': 'utc', 'hs_lastmodifieddate': 'utc'
    }) }}

),

renamed as (

    select
        id as ticket_id,
        attributed_company_id as company_id,
        subject,
        hs_pipeline as pipeline,
        hs_pipeline_stage as pipeline_stage,
        upper(hs_ticket_priority) as priority,
        upper(coalesce(hs_ticket_priority, '')) in ('HIGH', 'URGENT') as is_high_priority,
        -- Stage 4 is "Closed" in HubSpot's default support pipeline; a closed date means closed anywhere.
        closed_date is not null or hs_pipeline_stage = '4' as is_closed,
        createdate as created_at,
        closed_date as closed_at,
        hubspot_owner_id as owner_id

    from {{ hubspot_live_records('tickets', 'tickets', 'company_id') }}

)

select * from renamed
