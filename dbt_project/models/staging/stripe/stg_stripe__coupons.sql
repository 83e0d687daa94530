{#- Stripe coupons: the catalogue (GET /v1/coupons), plus the coupons only the discounts still hold. A deleted
    coupon leaves the API but keeps applying to the discounts that redeemed it, which embed it (expanded as
    discount.source.coupon; whole as discount.coupon before 2025-03-31): it is kept from there, marked deleted. -#}
with

coupons as (

    {{ source_columns(source('stripe', 'coupons'), {
        'id': 'string', 'name': 'string', 'duration': 'string', 'duration_in_months': 'int',
        'percent_off': 'float', 'amount_off': 'bigint', 'currency': 'string'
    }) }}

),

{%- set embedded = {} %}
{%- for prefix in ['source__coupon__', 'coupon__'] %}
    {%- for column, kind in {
        'id': 'string', 'name': 'string', 'duration': 'string', 'duration_in_months': 'int',
        'percent_off': 'float', 'amount_off': 'bigint', 'currency': 'string'
    }.items() %}
        {%- do embedded.update({prefix ~ column: kind}) %}
    {%- endfor %}
{%- endfor %}

invoice_discounts as (

    {{ source_columns(source('stripe', 'invoices__discounts'), embedded) }}

),

subscription_discounts as (

    {{ source_columns(source('stripe', 'subscriptions__discounts'), embedded) }}

),

discount_coupons as (

    {%- for shape in ['source__coupon__', 'coupon__'] %}
        {%- for discounts in ['invoice_discounts', 'subscription_discounts'] %}
            select
                {{ shape }}id as id,
                {{ shape }}name as name,
                {{ shape }}duration as duration,
                {{ shape }}duration_in_months as duration_in_months,
                {{ shape }}percent_off as percent_off,
                {{ shape }}amount_off as amount_off,
                {{ shape }}currency as currency
            from {{ discounts }}
            where {{ shape }}id is not null
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

known_only_from_discounts as (

    select
        id,
        max(name) as name,
        max(duration) as duration,
        max(duration_in_months) as duration_in_months,
        max(percent_off) as percent_off,
        max(amount_off) as amount_off,
        max(currency) as currency

    from discount_coupons
    where
        not exists (
            select 1 from coupons
            where coupons.id = discount_coupons.id
        )
    group by id

),

unioned as (

    select
        *,
        false as is_deleted
    from coupons
    union all
    select
        *,
        true as is_deleted
    from known_only_from_discounts

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
        duration in ('forever', 'repeating') as is_recurring,
        is_deleted

    from unioned

)

select * from renamed
