with

prices as (

    {{ source_columns(source('stripe', 'prices'), {
        'id': 'string', 'product': 'string', 'currency': 'string', 'unit_amount': 'bigint', 'type': 'string',
        'nickname': 'string', 'recurring__interval': 'string', 'recurring__interval_count': 'int',
        'recurring__usage_type': 'string', 'active': 'bool'
    }) }}

),

renamed as (

    select
        id as price_id,
        product as product_id,
        nickname as price_name,
        upper(currency) as currency,
        unit_amount as unit_amount_minor,
        {{ minor_units_to_amount('unit_amount', 'currency') }} as unit_amount,
        type as price_type,
        recurring__interval as billing_interval,
        coalesce(recurring__interval_count, 1) as interval_count,
        case recurring__interval
            when 'year' then 12 * coalesce(recurring__interval_count, 1)
            when 'month' then coalesce(recurring__interval_count, 1)
            when 'week' then coalesce(recurring__interval_count, 1) * 7.0 / (365.25 / 12)
            when 'day' then coalesce(recurring__interval_count, 1) / (365.25 / 12)
        end as interval_months,
        recurring__usage_type as usage_type,
        type = 'recurring' and coalesce(recurring__usage_type, 'licensed') = 'licensed' as is_recurring_licensed,
        coalesce(active, true) as is_active

    from prices

)

select * from renamed
