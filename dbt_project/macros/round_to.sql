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
