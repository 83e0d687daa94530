{#- Daily health score of every customer account: the six component scores, the weighted score with weights
    re-normalised over the components that have data (a missing component is named among the drivers), the 30-day
    change and the three drivers with the largest weighted shortfall, in words a CSM understands. The status band
    is not here: its thresholds are fitted on the history of these scores (int_health__band_thresholds), and
    customer_health_daily applies them. Rules: DECISIONLOG "Health score"; weights: seed health_weights.

    Incremental on the days int_health__component_scores adds; history is kept as it was scored. -#}
{{ config(
    materialized='incremental',
    unique_key=['account_id', 'health_date'],
    on_schema_change='append_new_columns',
    **incremental_by_day('health_date')
) }}

with

components as (

    select * from {{ ref('int_health__component_scores') }}
    {% if is_incremental() %}
        where day > (select {{ dbt.dateadd('day', -31, 'max(health_date)') }} from {{ this }})
    {% endif %}

),

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

weighted as (

    select
        components.*,
        parameters.weight_usage,
        -- Usage weighs through its two parts, so an unknown trend re-normalises like any missing component.
        parameters.weight_usage * (1 - parameters.usage_trend_weight) as weight_usage_level,
        parameters.weight_usage * parameters.usage_trend_weight as weight_usage_trend,
        parameters.weight_adoption,
        parameters.weight_sentiment,
        parameters.weight_support,
        parameters.weight_relationship,
        parameters.weight_billing
    from components
    cross join parameters

),

overall as (

    select
        weighted.*,
        (
            coalesce(weighted.usage_level_score * weighted.weight_usage_level, 0)
            + coalesce(weighted.usage_trend_score * weighted.weight_usage_trend, 0)
            + coalesce(weighted.adoption_score * weighted.weight_adoption, 0)
            + coalesce(weighted.sentiment_score * weighted.weight_sentiment, 0)
            + coalesce(weighted.support_score * weighted.weight_support, 0)
            + coalesce(weighted.relationship_score * weighted.weight_relationship, 0)
            + coalesce(weighted.billing_score * weighted.weight_billing, 0)
        ) / nullif(
            case when weighted.usage_level_score is null then 0 else weighted.weight_usage_level end
            + case when weighted.usage_trend_score is null then 0 else weighted.weight_usage_trend end
            + case when weighted.adoption_score is null then 0 else weighted.weight_adoption end
            + case when weighted.sentiment_score is null then 0 else weighted.weight_sentiment end
            + case when weighted.support_score is null then 0 else weighted.weight_support end
            + case when weighted.relationship_score is null then 0 else weighted.weight_relationship end
            + case when weighted.billing_score is null then 0 else weighted.weight_billing end,
            0
        ) as health_score_raw,
        weighted.weight_usage
        + weighted.weight_adoption
        + weighted.weight_sentiment
        + weighted.weight_support
        + weighted.weight_relationship
        + weighted.weight_billing
            as total_weight

    from weighted

),

with_change as (

    select
        overall.*,
        {{ round_to('overall.health_score_raw', 1) }} as health_score,
        {{ round_to('overall.health_score_raw', 1) }} - {{ round_to('thirty_days_ago.health_score_raw', 1) }}
            as health_change_30d

    from overall
    left join overall as thirty_days_ago
        on
            overall.account_id = thirty_days_ago.account_id
            and thirty_days_ago.day = {{ dbt.dateadd('day', -30, 'overall.day') }}

),

drivers as (

    {%- set t = dbt.type_string() -%}
    {%- set driver_components = {
        'usage': "case when usage_trend <= -0.15 then 'product activity down ' || cast(cast(round(-usage_trend * 100) as integer) as " ~ t ~ ") || '% vs the previous 28 days' when coalesce(utilisation, 0) < 0.005 then 'almost none of ' || cast(cast(seats as integer) as " ~ t ~ ") || ' seats active on an average day' else 'only ' || cast(cast(round(coalesce(utilisation, 0) * 100) as integer) as " ~ t ~ ") || '% of ' || cast(cast(seats as integer) as " ~ t ~ ") || ' seats active on an average day' end",
        'adoption': "'uses ' || cast(cast(features_30d as integer) as " ~ t ~ ") || ' product features in the last 30 days'",
        'sentiment': "'NPS ' || cast(nps_score as " ~ t ~ ") || case when nps_from_champion then ' from the champion' else '' end || ' on ' || cast(nps_submitted_on as " ~ t ~ ")",
        'support': "cast(open_tickets as " ~ t ~ ") || ' open tickets, ' || cast(high_priority_tickets_30d as " ~ t ~ ") || ' high-priority in the last 30 days'",
        'relationship': "case when is_champion_left_unreplaced then 'champion left on ' || cast(champion_left_on as " ~ t ~ ") || ', no new champion named' else 'no CSM touch for ' || cast(days_since_touch as " ~ t ~ ") || ' days' end",
        'billing': "case when last_failed_on is not null then 'payment failed on ' || cast(last_failed_on as " ~ t ~ ") || case when has_open_failed_invoice then ', invoice still open' else '' end else 'MRR down ' || cast(cast(round(100 * (1 - mrr_usd / mrr_usd_90d_high)) as integer) as " ~ t ~ ") || '% from its 90-day high' end"
    } %}
    {%- for component, sentence in driver_components.items() %}
        select
            account_id,
            day,
            '{{ component }}' as component,
            case
                when {{ component }}_score is null then weight_{{ component }} * 100.0 / total_weight * 0.25
                else weight_{{ component }} * (100.0 - {{ component }}_score) / total_weight
            end as shortfall,
            case
                when
                    {{ component }}_score is null
                    then 'no {{ component }} data yet ({{ component }} left out of the score)'
                else {{ sentence }}
            end as sentence
        from with_change
        where
            is_customer
            and ({{ component }}_score is null or {{ component }}_score < 70)
            {%- if component == 'usage' %} and first_activity_date is not null{% endif %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

ranked_drivers as (

    select
        account_id,
        day,
        sentence,
        row_number() over (partition by account_id, day order by shortfall desc, component asc) as driver_rank
    from drivers

),

top_drivers as (

    -- The three largest shortfalls side by side: one pass, one join.
    select
        account_id,
        day,
        max(case when driver_rank = 1 then sentence end) as top_driver_1,
        max(case when driver_rank = 2 then sentence end) as top_driver_2,
        max(case when driver_rank = 3 then sentence end) as top_driver_3
    from ranked_drivers
    where driver_rank <= 3
    group by account_id, day

),

final as (

    select
        with_change.account_id,
        with_change.day as health_date,
        with_change.segment,
        cast(with_change.seats as integer) as seats,
        with_change.mrr_usd,
        {{ round_to('with_change.usage_score', 1) }} as usage_score,
        {{ round_to('with_change.adoption_score', 1) }} as adoption_score,
        {{ round_to('with_change.sentiment_score', 1) }} as sentiment_score,
        {{ round_to('with_change.support_score', 1) }} as support_score,
        {{ round_to('with_change.relationship_score', 1) }} as relationship_score,
        {{ round_to('with_change.billing_score', 1) }} as billing_score,
        with_change.health_score,
        with_change.health_change_30d,
        top_drivers.top_driver_1,
        top_drivers.top_driver_2,
        top_drivers.top_driver_3,
        with_change.utilisation as seat_utilisation_28d,
        with_change.usage_trend as active_users_trend_28d,
        cast(with_change.features_30d as integer) as features_used_30d,
        with_change.nps_score as latest_nps_score,
        with_change.nps_submitted_on as latest_nps_on,
        cast(with_change.open_tickets as integer) as open_tickets,
        cast(with_change.high_priority_tickets_30d as integer) as high_priority_tickets_30d,
        cast(with_change.days_since_touch as integer) as days_since_csm_touch,
        coalesce(with_change.is_champion_left_unreplaced, false) as is_champion_left_unreplaced,
        with_change.champion_left_on,
        with_change.last_failed_on as last_payment_failed_on,
        with_change.is_recently_downgraded

    from with_change
    left join top_drivers
        on with_change.account_id = top_drivers.account_id and with_change.day = top_drivers.day
    where
        with_change.is_customer
    {% if is_incremental() %}
            and with_change.day > (select max(health_date) from {{ this }})
        {% endif %}

)

select * from final
