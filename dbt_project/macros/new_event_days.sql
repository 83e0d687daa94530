{#- The incremental filter of the usage models: only the days that received new events since the last run (late
    events re-open their day, which is then recomputed whole). `this` is the incremental model's relation. -#}
{% macro new_event_days(this) -%}
    where occurred_on in (
        select distinct occurred_on
        from {{ ref('stg_usage__events') }}
        where received_at > (select max(last_received_at) from {{ this }})
    )
{%- endmacro %}
