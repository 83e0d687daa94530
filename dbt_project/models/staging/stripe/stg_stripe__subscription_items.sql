with

items as (

    {{ source_columns(source('stripe', 'subscriptions__items__data'), {
        'id': 'string', 'quantity': 'bigint', 'current_period_start': 'bigint',
        'current_period_end': 'bigint', 'price__id': 'string', '_dlt_parent_id': 'string'
    }) }}

),

subscriptions as (

    {{ source_columns(source('stripe', 'subscriptions'), {
        'id': 'string', 'current_period_start': 'bigint', 'current_period_end': 'bigint', '_dlt_id': 'string'
    }) }}

),

renamed as (

    select
        items.id as subscription_item_id,
        subscriptions.id as subscription_id,
        items.price__id as price_id,
        items.quantity,
        -- API versions before 2025-03-31 keep the current period on the subscription, not on its items.
        {{ epoch_to_utc('coalesce(items.current_period_start, subscriptions.current_period_start)') }}
            as current_period_start_at,
        {{ epoch_to_utc('coalesce(items.current_period_end, subscriptions.current_period_end)') }}
            as current_period_end_at

    from items
    inner join subscriptions
        on items._dlt_parent_id = subscriptions._dlt_id

)

select * from renamed
