{#- The live rows of a HubSpot staging CTE: not deleted (archived), not merged away into another record; and,
    with `company_column`, that column re-pointed at the survivor when the company was merged (the record's
    history follows the company), as `attributed_company_id`. -#}
{% macro hubspot_live_records(cte, object_type, company_column=none) -%}
(
    select
        {{ cte }}.*
        {%- if company_column %},
        coalesce(company_merges.survivor_id, {{ cte }}.{{ company_column }}) as attributed_company_id
        {%- endif %}
    from {{ cte }}
    {%- if company_column %}
    left join {{ ref('stg_hubspot__merged_records') }} as company_merges
        on company_merges.object_type = 'companies' and {{ cte }}.{{ company_column }} = company_merges.merged_id
    {%- endif %}
    where not coalesce({{ cte }}.archived, false)
        and not exists (
            select 1 from {{ ref('stg_hubspot__merged_records') }} as merged_away
            where merged_away.object_type = '{{ object_type }}' and merged_away.merged_id = {{ cte }}.id
        )
) as live_{{ cte }}
{%- endmacro %}
