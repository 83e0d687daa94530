with

discount_amounts as (

    {{ source_columns(source('stripe', 'invoices__lines__data__discount_amounts'), {
        'amount': 'bigint', 'discount': 'string', '_dlt_parent_id': 'string'
    }) }}

),

lines as (

    {{ source_columns(source('stripe', 'invoices__lines__data'), {'id': 'string', '_dlt_id': 'string'}) }}

),

renamed as (

    select
        lines.id as invoice_line_id,
        discount_amounts.discount as discount_id,
        discount_amounts.amount as amount_minor

    from discount_amounts
    inner join lines
        on discount_amounts._dlt_parent_id = lines._dlt_id

)

select * from renamed
