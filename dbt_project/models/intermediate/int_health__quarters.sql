{#- Every quarter with a scored health day, up to the as-of date's: the periods band thresholds are fitted for. -#}
with

bounds as (

    select min(health_date) as first_health_date
    from {{ ref('int_health__daily_scores') }}

),

months as (

    {{ dbt.date_spine('month', "cast('2000-01-01' as date)", dbt.dateadd('month', 1, as_of_date())) }}

),

final as (

    select distinct
        cast({{ dbt.date_trunc('quarter', 'months.date_month') }} as date) as quarter_start,
        cast({{ dbt.dateadd('month', 3, dbt.date_trunc('quarter', 'months.date_month')) }} as date) as quarter_end
    from months
    cross join bounds
    where
        months.date_month >= {{ dbt.date_trunc('quarter', 'bounds.first_health_date') }}
        and months.date_month <= {{ as_of_date() }}

)

select * from final
