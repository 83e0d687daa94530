{#- CSM touches: notes, calls, meetings and emails logged against a company, one row each. -#}
with

notes as (

    {{ source_columns(source('hubspot', 'notes'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'hubspot_owner_id': 'string',
        'hs_timestamp': 'utc', 'hs_note_body': 'string'
    }) }}

),

calls as (

    {{ source_columns(source('hubspot', 'calls'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'hubspot_owner_id': 'string',
        'hs_timestamp': 'utc', 'hs_call_title': 'string', 'hs_call_body': 'string'
    }) }}

),

meetings as (

    {{ source_columns(source('hubspot', 'meetings'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'hubspot_owner_id': 'string',
        'hs_timestamp': 'utc', 'hs_meeting_title': 'string', 'hs_meeting_body': 'string'
    }) }}

),

emails as (

    {{ source_columns(source('hubspot', 'emails'), {
        'id': 'string', 'archived': 'bool', 'company_id': 'string', 'hubspot_owner_id': 'string',
        'hs_timestamp': 'utc', 'hs_email_subject': 'string', 'hs_email_text': 'string'
    }) }}

),

unioned as (

    select
        id as engagement_id,
        'note' as engagement_type,
        company_id,
        hubspot_owner_id as owner_id,
        hs_timestamp as occurred_at,
        cast(null as {{ dbt.type_string() }}) as title,
        hs_note_body as body,
        archived
    from notes

    union all

    select
        id as engagement_id,
        'call' as engagement_type,
        company_id,
        hubspot_owner_id as owner_id,
        hs_timestamp as occurred_at,
        hs_call_title as title,
        hs_call_body as body,
        archived
    from calls

    union all

    select
        id as engagement_id,
        'meeting' as engagement_type,
        company_id,
        hubspot_owner_id as owner_id,
        hs_timestamp as occurred_at,
        hs_meeting_title as title,
        hs_meeting_body as body,
        archived
    from meetings

    union all

    select
        id as engagement_id,
        'email' as engagement_type,
        company_id,
        hubspot_owner_id as owner_id,
        hs_timestamp as occurred_at,
        hs_email_subject as title,
        hs_email_text as body,
        archived
    from emails

),

final as (

    select
        engagement_id,
        engagement_type,
        company_id,
        owner_id,
        occurred_at,
        title,
        body

    from unioned
    where not coalesce(archived, false)

)

select * from final
