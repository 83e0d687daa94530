{#- One row per deleted (archived) HubSpot record, as the loader reads them from `?archived=true` each run: what
    the CRM push must never write to again. -#}
with

archived as (

    {% for object_type in ['companies', 'contacts', 'deals', 'tickets'] %}
        {%- set modified = 'lastmodifieddate' if object_type == 'contacts' else 'hs_lastmodifieddate' %}
        select
            '{{ object_type }}' as object_type,
            id as archived_id,
            {{ modified }} as archived_at
        from ({{ source_columns(source('hubspot', object_type), {
            'id': 'string', 'archived': 'bool', modified: 'utc'
        }) }}) as {{ object_type }}
        where coalesce(archived, false)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from archived
