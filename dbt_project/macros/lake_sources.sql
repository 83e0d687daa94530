{#- How the raw sources resolve on each engine: one mechanism, dispatched, never copies of models.

    DuckDB and Postgres: dlt merges each load into the raw tables in place; sources read them as they are.
    Spark: dlt writes a Parquet lake (CSOPS_LAKE, one folder per dataset and table) and, plain Parquet having no
    merge, appends every load. This on-run-start hook registers each raw table the lake holds as a view in the
    Spark catalog (schema raw_<source>, the same names as on DuckDB) that applies dlt's merge on read: the rows of
    completed loads only (`_dlt_loads`), the latest version of each primary key (`_dlt_load_id`), and nested rows
    of those versions only (`_dlt_parent_id`). Which tables exist, their keys and their parents come from the
    dlt schema stored in the lake (`_dlt_version`), so a table dlt has not written yet stays absent, as on DuckDB
    (macros/source_columns.sql then reads it as typed nulls). -#}
{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'csops')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_lake_sources() -%}
    {%- if execute -%}
        {%- set lake = env_var('CSOPS_LAKE', '../data/lake') | replace('\\', '/') -%}
        {%- set datasets = [] -%}
        {%- for node in graph.sources.values() if node.schema not in datasets -%}
            {%- do datasets.append(node.schema) -%}
        {%- endfor -%}
        {%- for dataset in datasets -%}
            {%- set folder = lake.rstrip('/') ~ '/' ~ dataset -%}
            {%- set found = run_query(
                "select `schema` from json.`" ~ folder ~ "/_dlt_version/*` order by version desc limit 1"
            ) -%}
            {%- set tables = fromjson(found.columns[0].values()[0])['tables'] -%}
            {%- set completed = run_query("select load_id from json.`" ~ folder ~ "/_dlt_loads/*`").columns[0].values() -%}
            {%- do run_query('create schema if not exists ' ~ dataset) -%}
            {#- A nested table's name extends its parent's: fewer `__` first registers every parent first. -#}
            {%- for depth in range(0, 6) -%}
                {%- for name, table in tables.items()
                    if name.count('__') == depth and not name.startswith('_dlt')
                    and table.get('x-normalizer', {}).get('seen-data') -%}
                    {%- do run_query(
                        'create or replace view ' ~ dataset ~ '.' ~ name ~ ' as '
                        ~ lake_merged_rows(folder, dataset, name, table, completed)
                    ) -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif %}
    select 1
{%- endmacro %}

{#- The rows of lake table `name` as dlt's merge would have left them in a database. -#}
{% macro lake_merged_rows(folder, dataset, name, table, completed) -%}
    {%- set files = 'parquet.`' ~ folder ~ '/' ~ name ~ '`' -%}
    {%- set keys = [] -%}
    {%- for column_name, column in table['columns'].items() if column.get('primary_key') -%}
        {%- do keys.append(adapter.quote(column_name)) -%}
    {%- endfor -%}
    {%- set has_load_id = '_dlt_load_id' in table['columns'] -%}
    {%- if table.get('parent') -%}
        select nested.* from {{ files }} as nested
        where nested._dlt_parent_id in (select parent._dlt_id from {{ dataset }}.{{ table['parent'] }} as parent)
    {%- else -%}
        select * from {{ files }}
        {%- if has_load_id %}
        where _dlt_load_id in ('{{ completed | join("', '") }}')
        {%- endif %}
        {%- if keys and table.get('write_disposition') == 'merge' %}
        qualify row_number() over (
            partition by {{ keys | join(', ') }}
            order by {{ '_dlt_load_id desc' if has_load_id else keys | join(', ') }}
        ) = 1
        {%- elif keys and has_load_id %}
        {#- An append table with a key (the usage events): on DuckDB / Postgres ingestion/event_dedupe.py removes
            later copies after each load, keeping the first received; the lake keeps every copy, so do it here. -#}
        {%- set first = [] -%}
        {%- if 'received_at' in table['columns'] %}{% do first.append('received_at asc nulls last') %}{% endif -%}
        {%- do first.append('_dlt_load_id') -%}
        {%- if 'file_name' in table['columns'] %}{% do first.append('file_name') %}{% endif %}
        qualify row_number() over (partition by {{ keys | join(', ') }} order by {{ first | join(', ') }}) = 1
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
