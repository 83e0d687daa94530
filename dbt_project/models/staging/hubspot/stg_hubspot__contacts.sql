with

contacts as (

    {{ source_columns(source('hubspot', 'contacts'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'email': 'string', 'firstname': 'string',
        'lastname': 'string', 'jobtitle': 'string', 'cs_is_champion': 'string', 'cs_left_company': 'string',
        'cs_left_company_date': 'string', 'createdate': 'utc', 'lastmodifieddate': 'utc'
    }) }}

),

renamed as (

    select
        id as contact_id,
        attributed_company_id as company_id,
        lower(email) as email,
        firstname as first_name,
        lastname as last_name,
        jobtitle as job_title,
        coalesce(lower(cs_is_champion) = 'true', false) as is_champion,
        coalesce(lower(cs_left_company) = 'true', false) as has_left_company,
        {{ dbt.safe_cast('left(cs_left_company_date, 10)', 'date') }} as left_company_on,
        createdate as created_at,
        lastmodifieddate as updated_at

    from {{ hubspot_live_records('contacts', 'contacts', 'company_id') }}

)

select * from renamed
