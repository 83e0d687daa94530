{#- The invoice lines that carry MRR, each with its monthly value (DECISIONLOG "Which lines count"):
    subscription lines of non-void invoices, recurring licensed prices, no prorations; net of forever and
    repeating coupons, divided by the months of the billing interval. -#}
with

lines as (

    select * from {{ ref('stg_stripe__invoice_lines') }}

),

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

subscriptions as (

    select * from {{ ref('int_billing__subscriptions') }}

),

line_discounts as (

    select * from {{ ref('stg_stripe__invoice_line_discounts') }}

),

discounts as (

    select * from {{ ref('stg_stripe__discounts') }}

),

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

recurring_discounts as (

    select
        line_discounts.invoice_line_id,
        sum(line_discounts.amount_minor) as discount_minor

    from line_discounts
    inner join discounts
        on line_discounts.discount_id = discounts.discount_id
    inner join coupons
        on discounts.coupon_id = coupons.coupon_id
    where coupons.is_recurring
    group by line_discounts.invoice_line_id

),

final as (

    select
        lines.invoice_line_id,
        lines.invoice_id,
        lines.subscription_id,
        subscriptions.account_id,
        subscriptions.customer_id,
        lines.currency,
        lines.price_id,
        lines.quantity,
        lines.period_start_at,
        lines.period_end_at,
        subscriptions.ended_at as subscription_ended_at,
        subscriptions.fx_rate_to_usd,
        prices.interval_months,
        lines.amount_minor,
        coalesce(recurring_discounts.discount_minor, 0) as recurring_discount_minor,
        -- Six decimals: exact for every real amount, and free of binary-float noise in comparisons.
        {%- set net_amount = minor_units_to_amount(
            'lines.amount_minor - coalesce(recurring_discounts.discount_minor, 0)', 'lines.currency') %}
        {{ round_to(net_amount ~ ' / prices.interval_months', 6) }} as mrr_local,
        {{ round_to(net_amount ~ ' / prices.interval_months * subscriptions.fx_rate_to_usd', 6) }} as mrr_usd

    from lines
    inner join invoices
        on lines.invoice_id = invoices.invoice_id
    inner join prices
        on lines.price_id = prices.price_id
    inner join subscriptions
        on lines.subscription_id = subscriptions.subscription_id
    left join recurring_discounts
        on lines.invoice_line_id = recurring_discounts.invoice_line_id
    where
        invoices.status != 'void'
        and lines.is_subscription_line
        and not lines.is_proration
        and prices.is_recurring_licensed

)

select * from final
