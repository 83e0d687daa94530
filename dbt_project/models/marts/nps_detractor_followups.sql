{#- Every detractor answer (0-6), newest first, with the account, its owner and what the respondent said: the
    follow-up list behind nps_summary's detractor comments. -#}
with

responses as (

    select * from {{ ref('int_surveys__responses') }}

),

final as (

    select
        response_id,
        submitted_at,
        month,
        account_id,
        company_name,
        segment,
        owner_id,
        owner_name,
        owner_email,
        respondent_email,
        is_champion,
        score,
        comment

    from responses
    where nps_category = 'detractor'

)

select * from final
