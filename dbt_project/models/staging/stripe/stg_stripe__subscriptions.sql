with

subscriptions as (

    {{ source_columns(source('stripe', 'subscriptions'), {
        'id': 'string', 'customer': 'string', 'status': 'string', 'currency': 'string', 'created': 'bigint',
        'start_date': 'bigint', 'trial_start': 'bigint', 'trial_end': 'bigint', 'cancel_at_period_end': 'bool',
        'cancel_at': 'bigint', 'canceled_at': 'bigint', 'ended_at': 'bigint',
        'cancellation_details__reason': 'string', 'collection_method': 'string', 'latest_invoice': 'string',
        'metadata__account_id': 'string'
    }) }}

),

renamed as (

    select
        id as subscription_id,
        customer as customer_id,
        metadata__account_id as metadata_account_id,
        status,
        upper(currency) as currency,
        collection_method,
        latest_invoice as latest_invoice_id,
        coalesce(cancel_at_period_end, false) as cancel_at_period_end,
        cancellation_details__reason as cancellation_reason,
        {{ epoch_to_utc('created') }} as created_at,
        {{ epoch_to_utc('coalesce(start_date, created)') }} as started_at,
        {{ epoch_to_utc('trial_start') }} as trial_start_at,
        {{ epoch_to_utc('trial_end') }} as trial_end_at,
        {{ epoch_to_utc('cancel_at') }} as cancel_at,
        {{ epoch_to_utc('canceled_at') }} as canceled_at,
        {{ epoch_to_utc('ended_at') }} as ended_at

    from subscriptions

)

select * from renamed
