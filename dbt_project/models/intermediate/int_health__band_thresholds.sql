{#- The health band thresholds in force in each quarter (DECISIONLOG "Health bands"). By default they come from
    the company's own history (int_health__churn_risk_by_score, fitted only on outcomes known before the quarter):
    red holds the scores whose churn risk within 90 days is at least band_red_churn_target, green those at most
    band_green_churn_target, yellow the rest. With band_thresholds_from_history = 0, or fewer than
    band_calibration_min_samples known outcomes, the fixed seed thresholds apply. -#}
with

quarters as (

    select * from {{ ref('int_health__quarters') }}

),

risk as (

    select * from {{ ref('int_health__churn_risk_by_score') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

fitted as (

    select
        quarters.quarter_start,
        quarters.quarter_end,
        coalesce(sum(risk.samples), 0) as fit_samples,
        coalesce(sum(risk.churned), 0) as fit_churned,
        -- The risk falls as the score rises, so red is every score below the highest red point, plus one.
        max(case when risk.churn_risk_90d >= parameters.band_red_churn_target then risk.score_floor + 1 end)
            as fitted_red_below,
        min(case when risk.churn_risk_90d <= parameters.band_green_churn_target then risk.score_floor end)
            as fitted_green_min
    from quarters
    cross join parameters
    left join risk
        on quarters.quarter_start = risk.quarter_start
    group by quarters.quarter_start, quarters.quarter_end

),

methods as (

    select
        fitted.*,
        case
            when parameters.band_thresholds_from_history = 0 then 'fixed'
            when fitted.fit_samples < parameters.band_calibration_min_samples then 'fixed (too little history)'
            else 'calibrated'
        end as thresholds_method
    from fitted
    cross join parameters

),

final as (

    select
        methods.quarter_start,
        methods.quarter_end,
        methods.thresholds_method,
        -- No score as risky as the red target: nobody is red. None as safe as the green target: nobody is green.
        case
            when methods.thresholds_method = 'calibrated'
                then cast(coalesce(methods.fitted_red_below, 0) as {{ type_double() }})
            else parameters.status_red_below
        end as status_red_below,
        case
            when methods.thresholds_method = 'calibrated'
                then cast(coalesce(methods.fitted_green_min, 101) as {{ type_double() }})
            else parameters.status_green_min
        end as status_green_min,
        methods.fit_samples,
        methods.fit_churned,
        parameters.band_red_churn_target as red_churn_target,
        parameters.band_green_churn_target as green_churn_target

    from methods
    cross join parameters

)

select * from final
