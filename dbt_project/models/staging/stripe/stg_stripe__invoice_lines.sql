{#- Both shapes of Stripe's API (the version each invoice was loaded in is `api_version`): from 2025-03-31 ("basil")
    a line names its price under pricing.price_details and its subscription under parent.subscription_item_details;
    before, at the top level (price, subscription, subscription_item, proration, type). A warehouse holding history
    loaded under an older version still builds; a line in neither shape fails the stripe_lines_have_a_price test,
    which names the version. -#}
with

lines as (

    {{ source_columns(source('stripe', 'invoices__lines__data'), {
        'id': 'string', 'amount': 'bigint', 'currency': 'string', 'description': 'string', 'quantity': 'bigint',
        'period__start': 'bigint', 'period__end': 'bigint', 'parent__type': 'string',
        'parent__subscription_item_details__subscription': 'string',
        'parent__subscription_item_details__subscription_item': 'string',
        'parent__subscription_item_details__proration': 'bool',
        'pricing__price_details__price': 'string', 'pricing__price_details__product': 'string',
        'price__id': 'string', 'price__product': 'string', 'subscription': 'string', 'subscription_item': 'string',
        'proration': 'bool', 'type': 'string', '_dlt_parent_id': 'string'
    }) }}

),

invoices as (

    {{ source_columns(source('stripe', 'invoices'), {
        'id': 'string', '_stripe_api_version': 'string', '_dlt_id': 'string'
    }) }}

),

renamed as (

    select
        lines.id as invoice_line_id,
        invoices.id as invoice_id,
        coalesce(lines.parent__subscription_item_details__subscription, lines.subscription) as subscription_id,
        coalesce(lines.parent__subscription_item_details__subscription_item, lines.subscription_item)
            as subscription_item_id,
        coalesce(lines.pricing__price_details__price, lines.price__id) as price_id,
        coalesce(lines.pricing__price_details__product, lines.price__product) as product_id,
        lines.description,
        coalesce(
            lines.parent__type = 'subscription_item_details',
            lines.type = 'subscription',
            true
        ) as is_subscription_line,
        coalesce(lines.parent__subscription_item_details__proration, lines.proration, false) as is_proration,
        lines.quantity,
        lines.amount as amount_minor,
        upper(lines.currency) as currency,
        {{ epoch_to_utc('lines.period__start') }} as period_start_at,
        {{ epoch_to_utc('lines.period__end') }} as period_end_at,
        coalesce(invoices._stripe_api_version, 'unknown') as api_version

    from lines
    inner join invoices
        on lines._dlt_parent_id = invoices._dlt_id

)

select * from renamed
