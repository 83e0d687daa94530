{#- The health_parameters seed as one row, so models read `parameters.status_green_min` instead of numbers. -#}
{%- set names = [
    'status_green_min', 'status_red_below', 'usage_target_utilisation', 'usage_trend_weight',
    'usage_trend_floor', 'usage_trend_full', 'adoption_target_features', 'sentiment_half_life_days', 'support_open_ticket_penalty',
    'support_high_priority_penalty', 'relationship_touch_days_enterprise', 'relationship_touch_days_mid_market',
    'relationship_touch_days_smb', 'relationship_champion_left_penalty', 'billing_failed_payment_penalty',
    'billing_downgrade_penalty', 'at_risk_score_drop', 'at_risk_renewal_days', 'detractor_lookback_days',
    'post_ticket_days', 'periodic_review_large_arr_usd', 'periodic_review_small_cadence_days',
    'band_thresholds_from_history', 'band_red_churn_target', 'band_green_churn_target',
    'band_calibration_lookback_days', 'band_calibration_min_samples',
    'renewal_forecast_lead_days', 'renewal_forecast_horizon_months', 'renewal_outcome_grace_days',
    'onboarding_days', 'onboarding_stall_days', 'onboarding_active_users'
] -%}

with

parameters as (

    select * from {{ ref('health_parameters') }}

),

weights as (

    select * from {{ ref('health_weights') }}

),

-- noqa: disable=LT02
parameter_row as (

    select
        {%- for name in names %}
            max(case when parameter = '{{ name }}' then value end) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from parameters

),

weight_row as (

    select
        {%- for component in ['usage', 'adoption', 'sentiment', 'support', 'relationship', 'billing'] %}
            max(case when component = '{{ component }}' then weight end) as weight_{{ component }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from weights

),

-- noqa: enable=LT02
final as (

    select
        parameter_row.*,
        weight_row.*
    from parameter_row
    cross join weight_row

)

select * from final
