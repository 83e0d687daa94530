{#- Select the listed columns of a raw table, typed; a column (or a whole nested table) the loader has not created
    yet — dlt creates them only when data first arrives — comes back as typed nulls / no rows, so staging never
    breaks on a young or sparse source. `columns` maps raw column name -> kind (string, int, bigint, float,
    bool, timestamp, date; utc = a time-zone-aware timestamp turned into UTC). -#}
{% macro source_columns(relation, columns) -%}
    {%- set existing = [] -%}
    {%- set found = none -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
        {%- if found -%}
            {%- for column in adapter.get_columns_in_relation(found) -%}
                {%- do existing.append(column.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif %}
    select
    {%- for name, kind in columns.items() %}
        {% if name | lower in existing and kind == 'utc' -%}
            {{ to_utc(adapter.quote(name)) }}
        {%- elif name | lower in existing -%}
            cast({{ adapter.quote(name) }} as {{ csops_type(kind) }})
        {%- else -%}
            cast(null as {{ csops_type(kind) }})
        {%- endif %} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if found -%}
    from {{ relation }}
    {%- else -%}
    where 1 = 0
    {%- endif %}
{%- endmacro %}

{% macro csops_type(kind) -%}
    {%- if kind == 'string' -%}{{ dbt.type_string() }}
    {%- elif kind == 'int' -%}{{ dbt.type_int() }}
    {%- elif kind == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif kind == 'float' -%}{{ type_double() }}
    {%- elif kind == 'bool' -%}{{ dbt.type_boolean() }}
    {%- elif kind in ('timestamp', 'utc') -%}{{ dbt.type_timestamp() }}
    {%- elif kind == 'date' -%}date
    {%- else -%}{{ exceptions.raise_compiler_error("unknown column kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- Double precision: dbt's type_float() is single precision on DuckDB, too coarse for money. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'csops')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}
