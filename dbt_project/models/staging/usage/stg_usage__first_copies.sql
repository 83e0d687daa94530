{#- The copies of a message, found once and kept small: per event day, the first copy received of every message
    received more than once. Every row carries the latest receipt checked on its day (last_received_at), and a day
    without copies keeps one row of its own (message_id null), so that the model's watermark moves every night
    (macros/new_event_days.sql) whether or not copies arrived.
    A retry or a re-delivered file repeats the event as the client sent it, with its own timestamp, so all copies of
    a message fall on one event day: incremental by day, each run checks only the days that received rows.
    An aggregate finds the (day, key) pairs seen more than once, on a cheap key where the database has one
    (message_key: a collision only adds a candidate); only their rows are ranked by the id itself, so the window holds
    the copies, not the table (dlt's merge ranked all 99M staged rows and grew past 17 GB). -#}
{{ config(
    materialized='incremental',
    unique_key=['occurred_on'],
    on_schema_change='append_new_columns',
    **incremental_by_day('occurred_on')
) }}

{#- Each step reads the received events itself: one `received` CTE used three times would be materialized by
    DuckDB, all columns of every row (100M rows: most of the time and past the memory limit). -#}
{%- set new_days -%}
    {%- if is_incremental() %}{{ new_event_days(this) }}{% endif -%}
{%- endset %}

with

days as (

    select
        occurred_on,
        max(received_at) as last_received_at

    from {{ ref('stg_usage__received_events') }}
    {{ new_days }}
    group by occurred_on

),

repeated_keys as (

    select
        occurred_on,
        {{ message_key('message_id') }} as message_key

    from {{ ref('stg_usage__received_events') }}
    {{ new_days }}
    group by occurred_on, {{ message_key('message_id') }}
    having count(*) > 1

),

received as (

    select * from {{ ref('stg_usage__received_events') }}
    {{ new_days }}

),

ranked as (

    select
        received.*,
        row_number() over (
            partition by received.occurred_on, received.message_id
            order by received.received_at nulls last, received.load_id, received.file_name
        ) as copy_number,
        count(*) over (partition by received.occurred_on, received.message_id) as copies

    from received
    inner join repeated_keys
        on
            received.occurred_on = repeated_keys.occurred_on
            and {{ message_key('received.message_id') }} = repeated_keys.message_key

),

first_copies as (

    select * from ranked
    where copy_number = 1 and copies > 1

),

final as (

    select
        days.occurred_on,
        first_copies.message_id,
        first_copies.copies,
        first_copies.account_id,
        first_copies.user_id,
        first_copies.event_name,
        first_copies.occurred_at,
        first_copies.occurred_at_tz,
        first_copies.received_at,
        first_copies.properties,
        first_copies.file_name,
        first_copies.load_id,
        days.last_received_at

    from days
    left join first_copies on days.occurred_on = first_copies.occurred_on

)

select * from final
