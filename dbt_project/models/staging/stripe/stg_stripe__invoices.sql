with

invoices as (

    {{ source_columns(source('stripe', 'invoices'), {
        'id': 'string', 'number': 'string', 'customer': 'string', 'status': 'string', 'billing_reason': 'string',
        'currency': 'string', 'created': 'bigint', 'due_date': 'bigint', 'subtotal': 'bigint', 'tax': 'bigint',
        'total': 'bigint', 'amount_due': 'bigint', 'amount_paid': 'bigint', 'amount_remaining': 'bigint',
        'attempt_count': 'int', 'parent__subscription_details__subscription': 'string', 'subscription': 'string',
        'status_transitions__finalized_at': 'bigint', 'status_transitions__paid_at': 'bigint',
        'status_transitions__voided_at': 'bigint', 'status_transitions__marked_uncollectible_at': 'bigint'
    }) }}

),

renamed as (

    select
        id as invoice_id,
        number as invoice_number,
        customer as customer_id,
        -- API versions before 2025-03-31 name the subscription at the top level.
        coalesce(parent__subscription_details__subscription, subscription) as subscription_id,
        status,
        billing_reason,
        upper(currency) as currency,
        {{ minor_units_to_amount('total', 'currency') }} as total,
        {{ minor_units_to_amount('amount_due', 'currency') }} as amount_due,
        {{ minor_units_to_amount('amount_paid', 'currency') }} as amount_paid,
        {{ minor_units_to_amount('amount_remaining', 'currency') }} as amount_remaining,
        coalesce(attempt_count, 0) as attempt_count,
        {{ epoch_to_utc('created') }} as created_at,
        {{ epoch_to_utc('due_date') }} as due_at,
        {{ epoch_to_utc('status_transitions__finalized_at') }} as finalized_at,
        {{ epoch_to_utc('status_transitions__paid_at') }} as paid_at,
        {{ epoch_to_utc('status_transitions__voided_at') }} as voided_at,
        {{ epoch_to_utc('status_transitions__marked_uncollectible_at') }} as marked_uncollectible_at,
        -- A charge failed (attempts > 1, or > 0 with money still due) or a sent invoice is overdue.
        status = 'open' and (
            coalesce(attempt_count, 0) > 1
            or (coalesce(attempt_count, 0) > 0 and coalesce(amount_remaining, 0) > 0 and due_date is null)
            or (due_date is not null and {{ epoch_to_utc('due_date') }} < {{ as_of_timestamp() }})
        ) as is_past_due

    from invoices

)

select * from renamed
