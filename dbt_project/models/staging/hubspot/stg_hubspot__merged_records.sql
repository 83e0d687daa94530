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

part_numbers as (

    {% for n in range(1, 11) %}
        select {{ n }} as part_number
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

split as (

    select
        survivors.object_type,
        trim({{ dbt.split_part('survivors.hs_merged_object_ids', "';'", 'part_numbers.part_number') }}) as merged_id,
        survivors.survivor_id

    from survivors
    cross join part_numbers

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
