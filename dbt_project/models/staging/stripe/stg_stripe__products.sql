with

products as (

    {{ source_columns(source('stripe', 'products'), {'id': 'string', 'name': 'string', 'active': 'bool'}) }}

),

renamed as (

    select
        id as product_id,
        name as product_name,
        coalesce(active, true) as is_active

    from products

)

select * from renamed
