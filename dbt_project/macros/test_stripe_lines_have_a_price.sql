{#- Every subscription line of stg_stripe__invoice_lines names its price, in whichever of the shapes of Stripe's API
    versions it was loaded (see the model). A line without one was loaded in a shape the models do not understand:
    its MRR would silently be 0, so the build stops here with an error naming the API version(s) and how many
    lines. -#}
{% test stripe_lines_have_a_price(model) %}

{%- set offending -%}
    select
        api_version,
        count(*) as lines
    from {{ model }}
    where is_subscription_line and price_id is null
    group by api_version
{%- endset -%}

{%- if execute and load_relation(model) is not none -%}
    {%- set found = run_query(offending) -%}
    {%- if found.rows | length > 0 -%}
        {%- set described = [] -%}
        {%- for row in found.rows -%}
            {%- do described.append(row[1] ~ " subscription lines loaded under Stripe API version " ~ row[0]) -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            described | join("; ") ~ " have no price in any shape the staging models know (pricing.price_details"
            ~ ".price from 2025-03-31, price before): their MRR would be 0. Teach stg_stripe__invoice_lines that"
            ~ " version's shape, or reload with the pinned version (ingestion/stripe.py STRIPE_API_VERSION)."
        ) }}
    {%- endif -%}
{%- endif %}

{{ offending }}

{% endtest %}
