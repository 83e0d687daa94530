{#- dbt tests on the big incremental tables check only the window a nightly run rewrote. Such a test carries
    `config: where: "<day column> >= __test_window_start__"`; the placeholder becomes the as-of date minus
    var('test_window_days') when that var is set and not 0 (Dagster's runs set it: CSOPS_TEST_WINDOW_DAYS), and the
    whole filter is dropped otherwise (a first build, a full refresh, a build by hand: every row is checked). dbt's documented hook
    for a dynamic `where` is overriding get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__test_window_start__' in where -%}
        {%- set days = var('test_window_days', none) -%}
        {%- if days is none or days | string in ('', '0') or flags.FULL_REFRESH -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set where = where | replace('__test_window_start__', 'cast(' ~ dbt.dateadd('day', -(days | int), as_of_date()) ~ ' as date)') -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
