{#- Each account's live subscription state at the as-of instant: plan, interval, status, seats, renewal date,
    scheduled cancellation, past-due invoices. -#}
with

subscriptions as (

    select * from {{ ref('int_billing__subscriptions') }}

),

items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

products as (

    select * from {{ ref('stg_stripe__products') }}

),

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

live as (

    select *
    from subscriptions
    where
        (ended_at is null or ended_at > {{ as_of_timestamp() }})
        and status not in ('canceled', 'incomplete_expired')

),

licensed_items as (

    select
        items.subscription_id,
        items.quantity,
        items.current_period_end_at,
        prices.billing_interval,
        prices.interval_count,
        products.product_name
    from items
    inner join prices
        on items.price_id = prices.price_id
    left join products
        on prices.product_id = products.product_id
    where prices.is_recurring_licensed

),

past_due as (

    select
        subscriptions.account_id,
        min(invoices.created_at) as past_due_since
    from invoices
    inner join subscriptions
        on invoices.subscription_id = subscriptions.subscription_id
    where invoices.is_past_due
    group by subscriptions.account_id

),

ranked as (

    select
        live.account_id,
        live.subscription_id,
        live.status,
        live.cancel_at_period_end,
        live.cancel_at,
        licensed_items.product_name as plan_name,
        case
            when licensed_items.billing_interval = 'year' then 'annual'
            when licensed_items.billing_interval = 'month' and licensed_items.interval_count = 3 then 'quarterly'
            when licensed_items.billing_interval = 'month' then 'monthly'
            else licensed_items.billing_interval
        end as billing_interval,
        licensed_items.quantity as seats,
        licensed_items.current_period_end_at,
        row_number() over (
            partition by live.account_id
            order by
                case live.status when 'past_due' then 0 when 'active' then 1 when 'trialing' then 2 else 3 end,
                licensed_items.quantity desc,
                live.subscription_id asc
        ) as preference
    from live
    left join licensed_items
        on live.subscription_id = licensed_items.subscription_id

),

final as (

    select
        ranked.account_id,
        ranked.subscription_id,
        ranked.status as subscription_status,
        ranked.plan_name,
        ranked.billing_interval,
        ranked.seats,
        cast(ranked.current_period_end_at as date) as renewal_date,
        ranked.cancel_at_period_end as is_cancellation_scheduled,
        past_due.past_due_since is not null as has_past_due_invoice,
        cast(past_due.past_due_since as date) as past_due_since

    from ranked
    left join past_due
        on ranked.account_id = past_due.account_id
    where ranked.preference = 1

)

select * from final
