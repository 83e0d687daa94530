{#- Activity per account and day. Incremental: each run recomputes only the days that received new events (late
    events re-open their day), so a nightly run costs in proportion to the new data. -#}
{{ config(
    materialized='incremental',
    unique_key=['account_id', 'activity_date'],
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
        occurred_on as activity_date,
        count(*) as events,
        count(distinct user_id) as active_users,
        count(distinct event_name) as features_used,
        max(received_at) as last_received_at

    from events
    group by account_id, occurred_on

)

select * from final
