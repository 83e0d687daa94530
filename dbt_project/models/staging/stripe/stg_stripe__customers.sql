{#- Stripe customers, the deleted ones marked, never kept as live. Stripe stops listing a deleted customer and
    retrieves it as a bare stub; the loader merges its last state from the `customer.deleted` event (`deleted`,
    `deleted_at`). A customer deleted before the first load (its event older than Stripe's 30 days) is known only
    from the subscriptions that name it: it is kept as deleted, its deletion time unknown, its account from the
    subscriptions' metadata.account_id. -#}
with

customers as (

    {{ source_columns(source('stripe', 'customers'), {
        'id': 'string', 'email': 'string', 'name': 'string', 'currency': 'string', 'created': 'bigint',
        'delinquent': 'bool', 'metadata__account_id': 'string', 'address__country': 'string',
        'deleted': 'bool', 'deleted_at': 'bigint'
    }) }}

),

subscriptions as (

    {{ source_columns(source('stripe', 'subscriptions'), {
        'customer': 'string', 'currency': 'string', 'created': 'bigint', 'metadata__account_id': 'string'
    }) }}

),

listed as (

    select
        id as customer_id,
        metadata__account_id as account_id,
        name as customer_name,
        lower(email) as email,
        upper(currency) as currency,
        address__country as country,
        coalesce(delinquent, false) as is_delinquent,
        {{ epoch_to_utc('created') }} as created_at,
        coalesce(deleted, false) as is_deleted,
        {{ epoch_to_utc('deleted_at') }} as deleted_at

    from customers

),

known_from_subscriptions as (

    select
        subscriptions.customer as customer_id,
        max(subscriptions.metadata__account_id) as account_id,
        cast(null as {{ dbt.type_string() }}) as customer_name,
        cast(null as {{ dbt.type_string() }}) as email,
        max(upper(subscriptions.currency)) as currency,
        cast(null as {{ dbt.type_string() }}) as country,
        false as is_delinquent,
        min({{ epoch_to_utc('subscriptions.created') }}) as created_at,
        true as is_deleted,
        cast(null as {{ dbt.type_timestamp() }}) as deleted_at

    from subscriptions
    where
        subscriptions.customer is not null
        and not exists (
            select 1 from customers
            where customers.id = subscriptions.customer
        )
    group by subscriptions.customer

),

final as (

    select * from listed
    union all
    select * from known_from_subscriptions

)

select * from final
