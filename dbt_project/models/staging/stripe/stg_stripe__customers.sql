with

customers as (

    {{ source_columns(source('stripe', 'customers'), {
        'id': 'string', 'email': 'string', 'name': 'string', 'currency': 'string', 'created': 'bigint',
        'delinquent': 'bool', 'metadata__account_id': 'string', 'address__country': 'string'
    }) }}

),

renamed as (

    select
        id as customer_id,
        metadata__account_id as account_id,
        name as customer_name,
        lower(email) as email,
        upper(currency) as currency,
        address__country as country,
        coalesce(delinquent, false) as is_delinquent,
        {{ epoch_to_utc('created') }} as created_at

    from customers

)

select * from renamed
