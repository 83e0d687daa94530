{#- The incremental filter of the usage models: only the days that received new events since the last run (late
    events re-open their day, which is then recomputed whole). Raw columns are compared as loaded (`received_at`,
    and `occurred_at_tz` from the first new day on), so the warehouse skips old data by its blocks' min / max
    instead of converting every event's time first.
    `this` is the incremental model's relation. -#}
{% macro new_event_days(this) -%}
    {%- set new_days -%}
        select distinct cast({{ to_utc('received_events.' ~ adapter.quote('timestamp')) }} as date) as event_day
        from {{ source('usage', 'events') }} as received_events
        where received_events.received_at > (select {{ utc_to_timestamptz('max(last_received_at)') }} from {{ this }})
    {%- endset %}
    {#- The first new day as a literal: a bound known when the query is planned is what lets the warehouse skip
        blocks (a subquery's value is not known then). -#}
    {%- set first_day = none -%}
    {%- if execute -%}
        {%- set first_day = run_query('select min(event_day) from (' ~ new_days ~ ') as new_days').columns[0].values()[0] -%}
    {%- endif %}
    {%- if first_day is none %}
    where false  -- no new events: no day to recompute
    {%- else %}
    where occurred_at_tz >= {{ day_start_tz("cast('" ~ first_day ~ "' as date)") }}
        and occurred_on in ({{ new_days }})
    {%- endif %}
{%- endmacro %}

{#- The first instant of a UTC day (a date expression), time-zone aware: comparable with raw timestamps as loaded
    (e.g. stg_usage__events.occurred_at_tz), so the warehouse can skip the blocks before it. -#}
{% macro day_start_tz(day) -%}
    {{ utc_to_timestamptz('cast(' ~ day ~ ' as timestamp)') }}
{%- endmacro %}

{#- A UTC timestamp without time zone (as staging stores them) as a time-zone-aware one, for comparing with raw
    columns loaded as timestamptz. -#}
{% macro utc_to_timestamptz(column) -%}
    {{ return(adapter.dispatch('utc_to_timestamptz', 'csops')(column)) }}
{%- endmacro %}

{% macro default__utc_to_timestamptz(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{% macro spark__utc_to_timestamptz(column) -%}
    {{ column }}
{%- endmacro %}
