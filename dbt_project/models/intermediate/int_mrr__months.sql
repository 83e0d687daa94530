{#- Every reported month with the instant its MRR is measured at: the last instant of the month, or the as-of
    instant for the current, unfinished month. -#}
with

bounds as (

    select
        cast({{ dbt.date_trunc('month', 'min(period_start_at)') }} as date) as first_month
    from {{ ref('int_billing__recurring_lines') }}

),

spine as (

    {{ dbt.date_spine('month', "cast('2000-01-01' as date)", dbt.dateadd('month', 1, as_of_date())) }}

),

months as (

    select cast(spine.date_month as date) as month_start
    from spine
    cross join bounds
    where
        cast(spine.date_month as date) >= bounds.first_month
        and cast(spine.date_month as date) <= {{ dbt.dateadd('day', -1, as_of_date()) }}

),

final as (

    select
        month_start,
        case
            when
                cast({{ dbt.dateadd('month', 1, 'month_start') }} as {{ dbt.type_timestamp() }})
                < {{ as_of_timestamp() }}
                then cast({{ dbt.dateadd('month', 1, 'month_start') }} as {{ dbt.type_timestamp() }})
            else {{ as_of_timestamp() }}
        end as measured_at,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as {{ dbt.type_timestamp() }})
        <= {{ as_of_timestamp() }} as is_month_complete

    from months

)

select * from final
