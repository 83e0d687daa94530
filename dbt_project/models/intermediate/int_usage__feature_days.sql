{#- Which features (event names) each account used each day. Incremental like
    int_usage__account_daily. -#}
{{ config(
    materialized='incremental',
    unique_key=['account_id', 'event_name', 'activity_date'],
    on_schema_change='append_new_columns',
    **incremental_by_day('activity_date')
) }}

with

events as (

    select * from {{ ref('stg_usage__events') }}

    {% if is_incremental() %}
        {{ new_event_days(this) }}
    {% endif %}

),

final as (

    select
        account_id,
        event_name,
        occurred_on as activity_date,
        count(*) as events,
        max(received_at) as last_received_at

    from events
    group by account_id, event_name, occurred_on

)

select * from final
