{#- dbt's listagg on Spark ignores its order (collect_list has none; dbt-spark only warns): the order is part of
    what the marts show (at-risk triggers by rank, onboarding milestones in sequence), so on Spark the values are
    collected with their sort key, sorted, then joined. `order_by_clause` is "order by <expression> [asc|desc]". -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set ordering = order_by_clause | trim | lower -%}
        {%- set descending = ordering.endswith(' desc') -%}
        {%- set key = (order_by_clause | trim)[8:] | replace(' desc', '') | replace(' asc', '') | replace(' DESC', '') | replace(' ASC', '') -%}
        {%- set sorted = 'array_sort(collect_list(named_struct(\'sort_key\', ' ~ key ~ ', \'value\', ' ~ measure ~ ')))' -%}
        array_join(transform({{ 'reverse(' ~ sorted ~ ')' if descending else sorted }}, entry -> entry.value), {{ delimiter_text }})
    {%- else -%}
        array_join(collect_list({{ measure }}), {{ delimiter_text }})
    {%- endif -%}
{%- endmacro %}
