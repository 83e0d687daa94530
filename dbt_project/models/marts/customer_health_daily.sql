{#- Daily health of every customer account: the scores of int_health__daily_scores with their status band under
    the thresholds in force in the day's quarter (int_health__band_thresholds: fitted on the company's own churn
    history, or the fixed seed thresholds). Rules: DECISIONLOG "Health score" and "Health bands".

    Incremental: a quarter's thresholds are fixed before it begins, so history is kept as it was banded. -#}
{{ config(
    materialized='incremental',
    unique_key=['account_id', 'health_date'],
    on_schema_change='append_new_columns',
    **incremental_by_day('health_date')
) }}

with

scores as (

    select * from {{ ref('int_health__daily_scores') }}
    {% if is_incremental() %}
        where health_date > (select max(health_date) from {{ this }})
    {% endif %}

),

thresholds as (

    select * from {{ ref('int_health__band_thresholds') }}

),

final as (

    select
        scores.account_id,
        scores.health_date,
        scores.segment,
        scores.seats,
        scores.mrr_usd,
        scores.usage_score,
        scores.adoption_score,
        scores.sentiment_score,
        scores.support_score,
        scores.relationship_score,
        scores.billing_score,
        scores.health_score,
        {{ health_band('scores.health_score', 'thresholds.status_red_below', 'thresholds.status_green_min') }}
            as health_status,
        scores.health_change_30d,
        scores.top_driver_1,
        scores.top_driver_2,
        scores.top_driver_3,
        scores.seat_utilisation_28d,
        scores.active_users_trend_28d,
        scores.features_used_30d,
        scores.latest_nps_score,
        scores.latest_nps_on,
        scores.open_tickets,
        scores.high_priority_tickets_30d,
        scores.days_since_csm_touch,
        scores.is_champion_left_unreplaced,
        scores.champion_left_on,
        scores.last_payment_failed_on,
        scores.is_recently_downgraded,
        thresholds.status_red_below,
        thresholds.status_green_min,
        thresholds.thresholds_method

    from scores
    inner join thresholds
        on cast({{ dbt.date_trunc('quarter', 'scores.health_date') }} as date) = thresholds.quarter_start

)

select * from final
