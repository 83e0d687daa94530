{#- Discount objects (a coupon applied to a customer or subscription), as expanded on invoices and
    subscriptions. Invoices keep every discount they applied, even after a subscription's coupon expired. -#}
with

invoice_discounts as (

    {{ source_columns(source('stripe', 'invoices__discounts'), {
        'id': 'string', 'coupon__id': 'string', 'source__coupon': 'string', 'source__coupon__id': 'string',
        'start': 'bigint', 'end': 'bigint'
    }) }}

),

subscription_discounts as (

    {{ source_columns(source('stripe', 'subscriptions__discounts'), {
        'id': 'string', 'coupon__id': 'string', 'source__coupon': 'string', 'source__coupon__id': 'string',
        'start': 'bigint', 'end': 'bigint'
    }) }}

),

unioned as (

    select * from invoice_discounts
    union all
    select * from subscription_discounts

),

deduplicated as (

    select
        id as discount_id,
        -- API versions before 2025 embed discount.coupon; current ones name discount.source.coupon (an id, or the
        -- coupon itself when expanded, as the loader does: a deleted coupon is served nowhere else).
        max(coalesce(source__coupon__id, source__coupon, coupon__id)) as coupon_id,
        max({{ epoch_to_utc(adapter.quote('start')) }}) as started_at,
        max({{ epoch_to_utc(adapter.quote('end')) }}) as ends_at

    from unioned
    where id is not null
    group by id

)

select * from deduplicated
