{#- The company's own churn risk at each health score, as it was known at the start of each quarter: the monthly
    samples whose 90-day outcome became known before the quarter (within the lookback), grouped by whole score
    points, and their churn rate made monotone — a lower score never carries less risk than a higher one — by
    isotonic regression (pool adjacent violators). The closed form of that fit is used, so it is plain SQL:
    risk(s) = max over upper ends u >= s of the min over lower ends l <= s of the churn rate of scores in [l, u].
    Only whole points that hold samples are rows (at most 101 per quarter, whatever the scale). -#}
with

samples as (

    select * from {{ ref('int_health__monthly_samples') }}

),

quarters as (

    select * from {{ ref('int_health__quarters') }}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

fit_samples as (

    select
        quarters.quarter_start,
        cast(floor(samples.health_score) as integer) as score_floor,
        case when samples.is_churned_within_90d then 1 else 0 end as churned
    from quarters
    cross join parameters
    inner join samples
        on
            samples.outcome_known_on <= quarters.quarter_start
            and samples.outcome_known_on > {{ dbt.dateadd(
                'day', '-1 * cast(parameters.band_calibration_lookback_days as integer)', 'quarters.quarter_start'
            ) }}

),

buckets as (

    select
        quarter_start,
        score_floor,
        count(*) as samples,
        sum(churned) as churned
    from fit_samples
    group by quarter_start, score_floor

),

cumulative as (

    select
        buckets.*,
        sum(buckets.samples) over (
            partition by buckets.quarter_start order by buckets.score_floor
        ) as samples_to_here,
        sum(buckets.churned) over (
            partition by buckets.quarter_start order by buckets.score_floor
        ) as churned_to_here
    from buckets

),

-- The churn rate of the samples scoring in [low_floor, high_floor] (whole points), for every such range.
ranges as (

    select
        low.quarter_start,
        low.score_floor as low_floor,
        high.score_floor as high_floor,
        cast(high.churned_to_here - low.churned_to_here + low.churned as {{ type_double() }})
        / (high.samples_to_here - low.samples_to_here + low.samples) as churn_rate
    from cumulative as low
    inner join cumulative as high
        on low.quarter_start = high.quarter_start and low.score_floor <= high.score_floor

),

lowest_by_upper_end as (

    select
        buckets.quarter_start,
        buckets.score_floor,
        ranges.high_floor,
        min(ranges.churn_rate) as churn_rate
    from buckets
    inner join ranges
        on
            buckets.quarter_start = ranges.quarter_start
            and ranges.low_floor <= buckets.score_floor
            and ranges.high_floor >= buckets.score_floor
    group by buckets.quarter_start, buckets.score_floor, ranges.high_floor

),

final as (

    select
        buckets.quarter_start,
        buckets.score_floor,
        buckets.samples,
        buckets.churned,
        max(lowest_by_upper_end.churn_rate) as churn_risk_90d
    from buckets
    inner join lowest_by_upper_end
        on
            buckets.quarter_start = lowest_by_upper_end.quarter_start
            and buckets.score_floor = lowest_by_upper_end.score_floor
    group by buckets.quarter_start, buckets.score_floor, buckets.samples, buckets.churned

)

select * from final
