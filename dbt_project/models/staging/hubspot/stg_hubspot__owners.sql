with

owners as (

    {{ source_columns(source('hubspot', 'owners'), {
        'id': 'string', 'email': 'string', 'first_name': 'string', 'last_name': 'string', 'team': 'string',
        'archived': 'bool'
    }) }}

),

renamed as (

    select
        id as owner_id,
        lower(email) as email,
        first_name,
        last_name,
        trim({{ dbt.concat(["coalesce(first_name, '')", "' '", "coalesce(last_name, '')"]) }}) as owner_name,
        team,
        coalesce(archived, false) as is_archived

    from owners

)

select * from renamed
