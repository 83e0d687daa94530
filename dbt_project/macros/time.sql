{#- Cross-database time helpers. Every timestamp leaves staging as a UTC timestamp without time zone. -#}

{% macro epoch_to_utc(column) -%}
    {{ return(adapter.dispatch('epoch_to_utc', 'csops')(column)) }}
{%- endmacro %}

{% macro default__epoch_to_utc(column) -%}
    (to_timestamp({{ column }}) at time zone 'UTC')
{%- endmacro %}

{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'csops')(column)) }}
{%- endmacro %}

{% macro default__to_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{#- The day the marts describe: CSOPS_AS_OF_DATE when set (the sandbox's today, a backfill), else today (UTC).
    Everything before this date's midnight is history; the as-of day itself has not happened yet. -#}
{% macro as_of_date() -%}
    {%- set value = env_var('CSOPS_AS_OF_DATE', '') -%}
    {%- if value -%}cast('{{ value }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    cast({{ as_of_date() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
