{#- Every NPS answer with its account's segment and owner, and whether the respondent is a champion of the
    account (a contact of the company flagged champion, matched by e-mail). One place for what nps_summary and
    nps_detractor_followups both read. Segment and owner are today's (the CRM keeps no history of segment). -#}
with

responses as (

    select * from {{ ref('stg_surveys__responses') }}

),

accounts as (

    select * from {{ ref('int_accounts') }}

),

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

champions as (

    select distinct
        company_id,
        email
    from contacts
    where is_champion

),

final as (

    select
        responses.response_id,
        responses.account_id,
        responses.email as respondent_email,
        responses.score,
        responses.nps_category,
        responses.comment,
        responses.submitted_at,
        cast({{ dbt.date_trunc('month', 'responses.submitted_at') }} as date) as month,
        coalesce(accounts.segment, 'unassigned') as segment,
        accounts.company_name,
        accounts.owner_id,
        accounts.owner_name,
        accounts.owner_email,
        champions.email is not null as is_champion

    from responses
    left join accounts
        on responses.account_id = accounts.account_id
    left join champions
        on accounts.company_id = champions.company_id and responses.email = champions.email

)

select * from final
