{#- Every usage event row as received, copies included: the usage load appends and never deletes (a client's retry
    and a re-delivered file repeat an event). stg_usage__events is this minus the later copies. -#}
with

events as (

    select * from {{ source('usage', 'events') }}

),

renamed as (

    select
        message_id,
        group_id as account_id,
        user_id,
        event as event_name,
        {{ tz_to_utc(adapter.quote('timestamp')) }} as occurred_at,
        cast({{ tz_to_utc(adapter.quote('timestamp')) }} as date) as occurred_on,
        {{ adapter.quote('timestamp') }} as occurred_at_tz,
        {{ tz_to_utc('received_at') }} as received_at,
        properties,
        file_name,
        _dlt_load_id as load_id

    from events
    where group_id is not null

)

select * from renamed
