with

coupons as (

    {{ source_columns(source('stripe', 'coupons'), {
        'id': 'string', 'name': 'string', 'duration': 'string', 'duration_in_months': 'int',
        'percent_off': 'float', 'amount_off': 'bigint', 'currency': 'string'
    }) }}

),

renamed as (

    select
        id as coupon_id,
        name as coupon_name,
        duration,
        duration_in_months,
        percent_off,
        amount_off as amount_off_minor,
        upper(currency) as currency,
        duration in ('forever', 'repeating') as is_recurring

    from coupons

)

select * from renamed
