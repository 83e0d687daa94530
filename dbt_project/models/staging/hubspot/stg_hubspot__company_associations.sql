{#- The bridge: every company association of each live contact, deal and ticket, with its label and whether it
    is the primary one (dlt's nested tables, joined to their record); merged companies are re-pointed at their
    survivor. -#}
with

associations as (

    {% for object_type in ['contacts', 'deals', 'tickets'] %}
        {%- set links = source_columns(source('hubspot', object_type ~ '__company_associations'), {
            'company_id': 'string', 'type_id': 'bigint', 'category': 'string', 'label': 'string',
            'is_primary': 'bool', '_dlt_parent_id': 'string'
        }) -%}
        {%- set records = source_columns(source('hubspot', object_type), {
            'id': 'string', 'archived': 'bool', '_dlt_id': 'string'
        }) -%}
        select
            '{{ object_type }}' as object_type,
            records.id as object_id,
            links.company_id,
            links.type_id,
            links.category,
            links.label,
            links.is_primary
        from ({{ links }}) as links -- noqa: ST05
        inner join ({{ records }}) as records -- noqa: ST05
            on links._dlt_parent_id = records._dlt_id
        where not coalesce(records.archived, false)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

followed as (

    select
        associations.object_type,
        associations.object_id,
        coalesce(company_merges.survivor_id, associations.company_id) as company_id,
        associations.type_id,
        associations.category,
        associations.label,
        coalesce(associations.is_primary, false) as is_primary

    from associations
    left join {{ ref('stg_hubspot__merged_records') }} as company_merges
        on company_merges.object_type = 'companies' and associations.company_id = company_merges.merged_id

),

final as (

    select distinct * from followed

)

select * from final
