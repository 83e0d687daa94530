with

deals as (

    {{ source_columns(source('hubspot', 'deals'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'dealname': 'string', 'amount': 'string',
        'dealstage': 'string', 'pipeline': 'string', 'dealtype': 'string', 'cs_deal_kind': 'string',
        'closedate': 'utc', 'hubspot_owner_id': 'string', 'createdate': 'utc', 'hs_lastmodifieddate': 'utc'
    }) }}

),

renamed as (

    select
        id as deal_id,
        attributed_company_id as company_id,
        dealname as deal_name,
        {{ dbt.safe_cast('amount', type_double()) }} as amount,
        dealstage as deal_stage,
        pipeline,
        dealtype as deal_type,
        cs_deal_kind as deal_kind,
        closedate as close_at,
        hubspot_owner_id as owner_id,
        createdate as created_at,
        dealstage in ('closedwon', 'closedlost') as is_closed,
        dealstage = 'closedwon' as is_won

    from {{ hubspot_live_records('deals', 'deals', 'company_id') }}

)

select * from renamed
