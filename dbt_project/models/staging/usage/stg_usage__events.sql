{#- Product usage events, one row per message: the rows received minus the later copies of a message (its first
    copy received is kept). The copies come from stg_usage__first_copies, a table of a fraction of a percent of the
    events, so reading a range of days here costs a scan of those days and a join with a small table.
    A view on every engine: on Spark too, where staging is otherwise a table (it reads two tables there, not the
    lake), so the events are stored once. -#}
{{ config(materialized='view') }}

{#- stg_usage__first_copies is read twice, each time by its own ref: one CTE used twice would be materialized by
    DuckDB, and the uniqueness test over 99M events then ran out of memory (3.7 GiB) where this form takes 26 s. -#}
with

received as (

    select * from {{ ref('stg_usage__received_events') }}

),

repeated_messages as (

    select
        occurred_on,
        message_id

    from {{ ref('stg_usage__first_copies') }}
    where message_id is not null

),

received_once as (

    select received.*
    from received
    left join repeated_messages
        on
            received.occurred_on = repeated_messages.occurred_on
            and received.message_id = repeated_messages.message_id
    where repeated_messages.message_id is null

),

kept_copies as (

    select
        message_id,
        account_id,
        user_id,
        event_name,
        occurred_at,
        occurred_on,
        occurred_at_tz,
        received_at,
        properties,
        file_name,
        load_id

    from {{ ref('stg_usage__first_copies') }}
    where message_id is not null

)

select * from received_once
union all
select * from kept_copies
