{#- The incremental filter of the usage models: only the days that received new events since the last run (late
    events re-open their day, which is then recomputed whole). Those days are read first (`run_query`: the raw
    `received_at` compared as loaded, so the warehouse skips old blocks) and written into the query as literals,
    with a bound on the raw event time from the first of them: a bound known when the query is planned is what lets
    the warehouse skip the blocks of older days (a subquery's value is not known then; 11-14 s -> 0.6 s at 99M
    events). `this` is the incremental model's relation. -#}
{% macro new_event_days(this) -%}
    {%- set days = [] -%}
    {%- if execute -%}
        {%- set found = run_query(
            'select distinct cast(' ~ to_utc('received_events.' ~ adapter.quote('timestamp')) ~ ' as date)'
            ~ ' from ' ~ source('usage', 'events') ~ ' as received_events'
            ~ ' where received_events.received_at > (select ' ~ utc_to_timestamptz('max(last_received_at)')
            ~ ' from ' ~ this ~ ')'
        ) -%}
        {%- set days = found.columns[0].values() | reject('none') | map('string') | sort | list -%}
    {%- endif %}
    {%- if not days %}
    where false  -- no new events: no day to recompute
    {%- else %}
    where occurred_at_tz >= {{ day_start_tz("cast('" ~ days[0] ~ "' as date)") }}
        and occurred_on in ({% for day in days %}cast('{{ day }}' as date){{ ", " if not loop.last }}{% endfor %})
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

{#- A cheap key to group message ids by before comparing the ids themselves (stg_usage__first_copies): a 64-bit hash
    where the database has one (a collision only adds a candidate), else the id. -#}
{% macro message_key(column) -%}
    {{ return(adapter.dispatch('message_key', 'csops')(column)) }}
{%- endmacro %}

{% macro default__message_key(column) -%}
    {{ column }}
{%- endmacro %}

{% macro duckdb__message_key(column) -%}
    hash({{ column }})
{%- endmacro %}

{% macro spark__message_key(column) -%}
    xxhash64({{ column }})
{%- endmacro %}
