{#- One row per merged-away HubSpot id and the record it was merged into, from the survivors'
    hs_merged_object_ids (ids separated by ';'; at most 10 per survivor are read). -#}
with

survivors as (

    {% for object_type in ['companies', 'contacts', 'deals', 'tickets'] %}
        select
            '{{ object_type }}' as object_type,
            id as survivor_id,
            hs_merged_object_ids
        from ({{ source_columns(source('hubspot', object_type), {
            'id': 'string', 'archived': 'bool', 'hs_merged_object_ids': 'string'
        }) }}) as {{ object_type }}
        where hs_merged_object_ids is not null and not coalesce(archived, false)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

split as (

    {#- One select per position: dbt's split_part needs the part number as a literal on Postgres. #}
    {% for n in range(1, 11) %}
        select
            survivors.object_type,
            trim({{ dbt.split_part('survivors.hs_merged_object_ids', "';'", n) }}) as merged_id,
            survivors.survivor_id
        from survivors
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select distinct
        object_type,
        merged_id,
        survivor_id

    from split
    where merged_id is not null and merged_id <> '' and merged_id <> survivor_id

)

select * from final
