with

{%- set columns = {
    'response_id': 'string', 'account_id': 'string', 'email': 'string', 'score': 'int', 'comment': 'string',
    'channel': 'string', 'submitted_at': 'utc'
} %}

typeform_responses as (

    {{ source_columns(source('surveys', 'typeform_responses'), columns) }}

),

csv_responses as (

    {{ source_columns(source('surveys', 'csv_responses'), columns) }}

),

unioned as (

    select * from typeform_responses
    union all
    select * from csv_responses

),

renamed as (

    select
        response_id,
        account_id,
        lower(email) as email,
        score,
        comment,
        channel,
        submitted_at,
        case
            when score >= 9 then 'promoter'
            when score >= 7 then 'passive'
            else 'detractor'
        end as nps_category

    from unioned

)

select * from renamed
