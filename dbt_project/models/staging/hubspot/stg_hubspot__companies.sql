with

companies as (

    {{ source_columns(source('hubspot', 'companies'), {
        'id': 'string', 'archived': 'bool', 'name': 'string', 'domain': 'string', 'industry': 'string',
        'numberofemployees': 'string', 'country': 'string', 'lifecyclestage': 'string',
        'hubspot_owner_id': 'string', 'account_id': 'string', 'cs_segment': 'string',
        'createdate': 'utc', 'hs_lastmodifieddate': 'utc'
    }) }}

),

renamed as (

    select
        id as company_id,
        account_id,
        name as company_name,
        lower(domain) as domain,
        industry,
        {{ dbt.safe_cast('numberofemployees', dbt.type_int()) }} as employee_count,
        country,
        lifecyclestage as lifecycle_stage,
        hubspot_owner_id as owner_id,
        coalesce(cs_segment, 'unassigned') as segment,
        createdate as created_at,
        hs_lastmodifieddate as updated_at

    from {{ hubspot_live_records('companies', 'companies') }}

)

select * from renamed
