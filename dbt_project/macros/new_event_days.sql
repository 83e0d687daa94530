{#- The incremental filter of the usage models: only the days that received new events since the last run (late
    events re-open their day, which is then recomputed whole). The raw `received_at` is compared as loaded, so
    the warehouse can skip old data instead of converting every event's time first. `this` is the incremental
    model's relation. -#}
{% macro new_event_days(this) -%}
    where occurred_on in (
        select distinct cast({{ to_utc('received_events.' ~ adapter.quote('timestamp')) }} as date)
        from {{ source('usage', 'events') }} as received_events
        where received_events.received_at > (select {{ utc_to_timestamptz('max(last_received_at)') }} from {{ this }})
    )
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
