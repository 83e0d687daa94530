{#- The bridge: every company association of each live contact, deal and ticket, with its label and whether it
    is the primary one. Rows of a record's earlier loads are dropped (the record's latest load holds its current
    associations); merged companies are re-pointed at their survivor. -#}
with

associations as (

    {{ source_columns(source('hubspot', 'company_associations'), {
        'object_type': 'string', 'object_id': 'string', 'company_id': 'string', 'type_id': 'bigint',
        'category': 'string', 'label': 'string', 'is_primary': 'bool', '_dlt_load_id': 'string'
    }) }}

),

records as (

    {% for object_type in ['contacts', 'deals', 'tickets'] %}
        select
            '{{ object_type }}' as object_type,
            id as object_id,
            _dlt_load_id
        from ({{ source_columns(source('hubspot', object_type), {
            'id': 'string', 'archived': 'bool', '_dlt_load_id': 'string'
        }) }}) as {{ object_type }}
        where not coalesce(archived, false)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

current_associations as (

    select associations.*
    from associations
    inner join records
        on
            associations.object_type = records.object_type
            and associations.object_id = records.object_id
            and associations._dlt_load_id = records._dlt_load_id

),

followed as (

    select
        current_associations.object_type,
        current_associations.object_id,
        coalesce(company_merges.survivor_id, current_associations.company_id) as company_id,
        current_associations.type_id,
        current_associations.category,
        current_associations.label,
        coalesce(current_associations.is_primary, false) as is_primary

    from current_associations
    left join {{ ref('stg_hubspot__merged_records') }} as company_merges
        on company_merges.object_type = 'companies' and current_associations.company_id = company_merges.merged_id

),

final as (

    select distinct * from followed

)

select * from final
