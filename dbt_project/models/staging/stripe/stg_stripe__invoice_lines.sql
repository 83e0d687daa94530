with

lines as (

    {{ source_columns(source('stripe', 'invoices__lines__data'), {
        'id': 'string', 'amount': 'bigint', 'currency': 'string', 'description': 'string', 'quantity': 'bigint',
        'period__start': 'bigint', 'period__end': 'bigint', 'parent__type': 'string',
        'parent__subscription_item_details__subscription': 'string',
        'parent__subscription_item_details__subscription_item': 'string',
        'parent__subscription_item_details__proration': 'bool',
        'pricing__price_details__price': 'string', 'pricing__price_details__product': 'string',
        '_dlt_parent_id': 'string'
    }) }}

),

invoices as (

    {{ source_columns(source('stripe', 'invoices'), {'id': 'string', '_dlt_id': 'string'}) }}

),

renamed as (

    select
        lines.id as invoice_line_id,
        invoices.id as invoice_id,
        lines.parent__subscription_item_details__subscription as subscription_id,
        lines.parent__subscription_item_details__subscription_item as subscription_item_id,
        lines.pricing__price_details__price as price_id,
        lines.pricing__price_details__product as product_id,
        lines.description,
        coalesce(lines.parent__type, 'subscription_item_details') = 'subscription_item_details'
            as is_subscription_line,
        coalesce(lines.parent__subscription_item_details__proration, false) as is_proration,
        lines.quantity,
        lines.amount as amount_minor,
        upper(lines.currency) as currency,
        {{ epoch_to_utc('lines.period__start') }} as period_start_at,
        {{ epoch_to_utc('lines.period__end') }} as period_end_at

    from lines
    inner join invoices
        on lines._dlt_parent_id = invoices._dlt_id

)

select * from renamed
