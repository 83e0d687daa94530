{#- One row per account known to the CRM or to billing, with its CRM company, owner and segment. -#}
with

companies as (

    select * from {{ ref('stg_hubspot__companies') }}

),

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

owners as (

    select * from {{ ref('stg_hubspot__owners') }}

),

billing_accounts as (

    -- The account's live customer (a deleted duplicate is never it); the deleted one when nothing else is left.
    select
        account_id,
        max(case when preference = 1 then customer_id end) as customer_id,
        min(case when is_deleted then 1 else 0 end) = 1 as is_billing_customer_deleted,
        max(currency) as billing_currency,
        max(country) as billing_country,
        min(created_at) as billing_created_at

    from (
        select
            *,
            row_number() over (
                partition by account_id order by is_deleted asc, created_at asc, customer_id asc
            ) as preference
        from customers
        where account_id is not null
    ) as ranked_customers
    group by account_id

),

crm_accounts as (

    select
        *,
        row_number() over (partition by account_id order by updated_at desc, company_id asc) as recency
    from companies
    where account_id is not null

),

all_accounts as (

    select account_id from crm_accounts
    where recency = 1
    union
    select account_id from billing_accounts

),

final as (

    select
        all_accounts.account_id,
        crm_accounts.company_id,
        billing_accounts.customer_id,
        coalesce(billing_accounts.is_billing_customer_deleted, false) as is_billing_customer_deleted,
        coalesce(crm_accounts.company_name, all_accounts.account_id) as company_name,
        crm_accounts.domain,
        crm_accounts.industry,
        crm_accounts.employee_count,
        coalesce(crm_accounts.country, billing_accounts.billing_country) as country,
        coalesce(crm_accounts.segment, 'unassigned') as segment,
        crm_accounts.lifecycle_stage,
        crm_accounts.owner_id,
        owners.owner_name,
        owners.email as owner_email,
        owners.team as owner_team,
        billing_accounts.billing_currency,
        crm_accounts.created_at as crm_created_at,
        billing_accounts.billing_created_at

    from all_accounts
    left join crm_accounts
        on all_accounts.account_id = crm_accounts.account_id and crm_accounts.recency = 1
    left join billing_accounts
        on all_accounts.account_id = billing_accounts.account_id
    left join owners
        on crm_accounts.owner_id = owners.owner_id

)

select * from final
