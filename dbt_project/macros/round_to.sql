{#- round(x, digits) on a double everywhere: Postgres only rounds numeric to a number of digits. -#}
{% macro round_to(expression, digits) -%}
    {{ return(adapter.dispatch('round_to', 'csops')(expression, digits)) }}
{%- endmacro %}

{% macro default__round_to(expression, digits) -%}
    cast(round(cast({{ expression }} as numeric), {{ digits }}) as {{ type_double() }})
{%- endmacro %}

{% macro duckdb__round_to(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{% macro spark__round_to(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{#- A double as the nearest integer, ties to even, on every engine: DuckDB and Postgres round when casting a double to
    an integer, Spark truncates (-21.7 would show as -21). -#}
{% macro to_integer(expression) -%}
    {{ return(adapter.dispatch('to_integer', 'csops')(expression)) }}
{%- endmacro %}

{% macro default__to_integer(expression) -%}
    cast({{ expression }} as integer)
{%- endmacro %}

{% macro spark__to_integer(expression) -%}
    cast(bround({{ expression }}) as int)
{%- endmacro %}
