{#- The six health components (0-100) of every account on every day, with the measures behind them (for the
    drivers). Component rules: DECISIONLOG "Health score"; every number comes from seeds/health_parameters.csv.

    Incremental: a run scores the days after the last scored day and re-scores the 30 before (a full refresh
    scores the last `health_history_days`), reading 60 days before them for the trailing windows (120 for the
    90-day MRR high, which is computed over the customer days alone). Only days the account is a customer (paying
    or in trial). -#}
{{ config(
    materialized='incremental',
    unique_key=['account_id', 'day'],
    on_schema_change='append_new_columns',
    **incremental_by_day('day')
) }}

{%- set window_start -%}
    {%- if is_incremental() -%}
        (select {{ dbt.dateadd('day', 1, 'max(day)') }} from {{ this }})
    {%- else -%}
        {{ dbt.dateadd('day', -(var('health_history_days') | int), as_of_date()) }}
    {%- endif -%}
{%- endset %}

{%- set touch_anchor = "coalesce(signals.last_touched_on, cast(accounts.billing_created_at as date))" %}

{#- The dated signals, each aggregated per account and day by its own CTE below, and the columns they fill. -#}
{%- set signal_columns = {
    'feature_delta': dbt.type_int(),
    'open_ticket_delta': dbt.type_int(),
    'high_priority_created': dbt.type_int(),
    'champions_known_delta': dbt.type_int(),
    'champions_present_delta': dbt.type_int(),
    'champion_left_on': 'date',
    'failed_on': 'date',
    'has_open_failure': dbt.type_int(),
    'touched_on': 'date',
    'responded_on': 'date',
} %}
{%- set signal_sources = {
    'feature_delta_days': ['feature_delta'],
    'ticket_delta_days': ['open_ticket_delta', 'high_priority_created'],
    'champion_delta_days': ['champions_known_delta', 'champions_present_delta', 'champion_left_on'],
    'failure_days': ['failed_on', 'has_open_failure'],
    'touch_days': ['touched_on'],
    'response_days': ['responded_on'],
} %}

with

parameters as (

    select * from {{ ref('int_health__parameters') }}

),

bounds as (

    select
        cast({{ window_start }} as date) as first_scored_day,
        -- 30 re-scored days plus the longest trailing window of the grid (60 days: a failed payment) before the
        -- first new day.
        cast({{ dbt.dateadd('day', -89, window_start) }} as date) as first_read_day,
        -- The customer days reach 90 days further back than the re-scored ones, for the 90-day MRR high.
        cast({{ dbt.dateadd('day', -120, window_start) }} as date) as first_mrr_day,
        cast({{ dbt.dateadd('day', -1, as_of_date()) }} as date) as last_day

),

days as (

    select cast(spine.date_day as date) as day
    from (
        {{ dbt.date_spine('day', "cast('2015-01-01' as date)", as_of_date()) }}
    ) as spine
    cross join bounds
    where
        cast(spine.date_day as date) >= bounds.first_mrr_day
        and cast(spine.date_day as date) <= bounds.last_day

),

lines as (

    select * from {{ ref('int_billing__recurring_lines') }}

),

accounts as (

    select * from {{ ref('int_accounts') }}

),

-- Days each account is a customer (a line in force, trial included), with its seats and MRR that day.
customer_days_mrr as (

    select
        lines.account_id,
        days.day,
        sum(lines.quantity) as seats,
        sum(lines.mrr_usd) as mrr_usd

    from lines
    inner join days
        on
            days.day >= cast(lines.period_start_at as date)
            and days.day < cast(lines.period_end_at as date)
    where lines.subscription_ended_at is null or days.day < cast(lines.subscription_ended_at as date)
    group by lines.account_id, days.day

),

-- The highest MRR of the 90 days before each customer day (for downgrades), the days that are not customer days
-- counting as 0: a window over the customer days alone (a range of day numbers), so the dense grid below need not
-- reach 90 days back (that was a third of the grid, carrying every other window too).
customer_day_numbers as (

    select
        account_id,
        day,
        seats,
        mrr_usd,
        {{ dbt.datediff("cast('2015-01-01' as date)", 'day', 'day') }} as day_number  -- noqa: LT05
    from customer_days_mrr

),

customer_mrr_windows as (

    select
        account_id,
        day,
        seats,
        mrr_usd,
        count(*) over (
            partition by account_id order by day_number range between 90 preceding and 1 preceding
        ) as customer_days_90d,
        max(coalesce(mrr_usd, 0)) over (
            partition by account_id order by day_number range between 90 preceding and 1 preceding
        ) as customer_mrr_usd_90d_high
    from customer_day_numbers

),

customer_days as (

    select
        account_id,
        day,
        seats,
        mrr_usd,
        case
            when customer_days_90d < 90 then greatest(coalesce(customer_mrr_usd_90d_high, 0), 0)
            else customer_mrr_usd_90d_high
        end as mrr_usd_90d_high
    from customer_mrr_windows

),

-- Each account that is a customer on a day this run (re-)scores (also those that left since, so each day's peer
-- benchmark is computed over the same customers as a full rebuild would), with the days it needs: from 60 days
-- before its first customer day read (the longest trailing window of the grid) to its last customer day.
account_spans as (

    select
        customer_days.account_id,
        max(bounds.first_scored_day) as first_scored_day,
        greatest(
            cast({{ dbt.dateadd('day', -59, 'min(customer_days.day)') }} as date), max(bounds.first_read_day)
        ) as first_day,
        max(customer_days.day) as last_day
    from customer_days
    cross join bounds
    group by customer_days.account_id
    having max(customer_days.day) >= {{ dbt.dateadd('day', -30, 'max(bounds.first_scored_day)') }}

),

-- Dense account x day grid over each account's span, so trailing windows are plain row windows on every database.
grid as (

    select
        account_spans.account_id,
        days.day,
        customer_days.account_id is not null as is_customer,
        coalesce(customer_days.seats, 0) as seats,
        coalesce(customer_days.mrr_usd, 0) as mrr_usd,
        customer_days.mrr_usd_90d_high

    from account_spans
    inner join days
        on days.day >= account_spans.first_day and days.day <= account_spans.last_day
    left join customer_days
        on account_spans.account_id = customer_days.account_id and days.day = customer_days.day

),

usage_daily as (

    select account_daily.*
    from {{ ref('int_usage__account_daily') }} as account_daily
    cross join bounds
    where account_daily.activity_date >= bounds.first_read_day

),

first_activity as (

    select
        account_id,
        min(activity_date) as first_activity_date
    from {{ ref('int_usage__account_daily') }}
    group by account_id

),

-- Every other signal is a running total or a running maximum of dated events: each event is one row on the day it
-- takes effect (+1 / -1 for counts, a date for "latest ..."), and a window over the grid adds them up. No account x
-- day x event join: the work grows with the events and the grid, not with their product.

-- Feature breadth over 30 days: each use of a feature covers the days until its next use or 30 days, whichever is
-- first. Only uses that can cover a written day are read (30 days before the first one: a use's +1 and -1 both fall
-- before it otherwise); the ranking is most of this model's work.
feature_uses as (

    select
        feature_days.account_id,
        feature_days.activity_date,
        lead(feature_days.activity_date) over (
            partition by feature_days.account_id, feature_days.event_name order by feature_days.activity_date
        ) as next_use_date
    from {{ ref('int_usage__feature_days') }} as feature_days
    cross join bounds
    where feature_days.activity_date >= {{ dbt.dateadd('day', -60, 'bounds.first_scored_day') }}

),

tickets as (

    select
        accounts.account_id,
        tickets.is_high_priority,
        cast(tickets.created_at as date) as created_on,
        cast(tickets.closed_at as date) as closed_on
    from {{ ref('stg_hubspot__tickets') }} as tickets
    inner join accounts
        on tickets.company_id = accounts.company_id

),

champions as (

    select
        accounts.account_id,
        cast(contacts.created_at as date) as since_on,
        contacts.left_company_on
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join accounts
        on contacts.company_id = accounts.company_id
    where contacts.is_champion

),

payment_failures as (

    select
        subscriptions.account_id,
        cast(invoices.created_at as date) as failed_on,
        invoices.status = 'open' as is_still_open
    from {{ ref('stg_stripe__invoices') }} as invoices
    inner join {{ ref('int_billing__subscriptions') }} as subscriptions
        on invoices.subscription_id = subscriptions.subscription_id
    where invoices.attempt_count > 1 or invoices.is_past_due or invoices.status = 'uncollectible'

),

touches as (

    select
        accounts.account_id,
        cast(engagements.occurred_at as date) as touched_on
    from {{ ref('stg_hubspot__engagements') }} as engagements
    inner join accounts
        on engagements.company_id = accounts.company_id

),

responses as (

    select
        responses.account_id,
        responses.response_id,
        responses.submitted_at,
        responses.score,
        cast(responses.submitted_at as date) as submitted_on,
        max(case when contacts.is_champion then 1 else 0 end) = 1 as is_from_champion
    from {{ ref('stg_surveys__responses') }} as responses
    left join {{ ref('stg_hubspot__contacts') }} as contacts
        on responses.email = contacts.email
    group by
        responses.account_id,
        responses.response_id,
        responses.submitted_at,
        responses.score,
        cast(responses.submitted_at as date)

),

-- The response that counts for a day: the day's last (by time, then id); later days keep it until the next one.
last_response_of_day as (

    select
        account_id,
        submitted_on,
        score,
        is_from_champion,
        row_number() over (
            partition by account_id, submitted_on order by submitted_at desc, response_id desc
        ) as rank_in_day
    from responses

),

-- Events before the grid starts count from its first day (what is still open then); later ones are not read.
feature_delta_days as (

    select
        deltas.account_id,
        greatest(deltas.day, spans.first_day) as day,
        sum(deltas.delta) as feature_delta
    from (
        select
            account_id,
            activity_date as day,
            1 as delta
        from feature_uses
        union all
        select
            account_id,
            case
                when next_use_date is not null and next_use_date < {{ dbt.dateadd('day', 30, 'activity_date') }}
                    then next_use_date
                else cast({{ dbt.dateadd('day', 30, 'activity_date') }} as date)
            end as day,
            -1 as delta
        from feature_uses
    ) as deltas
    inner join account_spans as spans
        on deltas.account_id = spans.account_id
    where deltas.day <= spans.last_day
    group by deltas.account_id, greatest(deltas.day, spans.first_day)

),

ticket_delta_days as (

    -- Open from the day created to the day closed (a running total); high-priority tickets created that day (a
    -- 30-day window).
    select
        deltas.account_id,
        greatest(deltas.day, spans.first_day) as day,
        sum(deltas.open_delta) as open_ticket_delta,
        sum(deltas.high_priority_created) as high_priority_created
    from (
        select
            account_id,
            created_on as day,
            1 as open_delta,
            case when is_high_priority then 1 else 0 end as high_priority_created
        from tickets
        union all
        select
            account_id,
            greatest(closed_on, created_on) as day,
            -1 as open_delta,
            0 as high_priority_created
        from tickets
        where closed_on is not null and created_on is not null
    ) as deltas
    inner join account_spans as spans
        on deltas.account_id = spans.account_id
    where deltas.day <= spans.last_day
    group by deltas.account_id, greatest(deltas.day, spans.first_day)

),

champion_delta_days as (

    -- A champion is known from the day the contact was created, present until the day they left.
    select
        deltas.account_id,
        greatest(deltas.day, spans.first_day) as day,
        sum(deltas.known_delta) as champions_known_delta,
        sum(deltas.present_delta) as champions_present_delta,
        max(deltas.left_on) as champion_left_on
    from (
        select
            account_id,
            since_on as day,
            1 as known_delta,
            1 as present_delta,
            cast(null as date) as left_on
        from champions
        union all
        select
            account_id,
            greatest(left_company_on, since_on) as day,
            0 as known_delta,
            -1 as present_delta,
            left_company_on as left_on
        from champions
        where left_company_on is not null and since_on is not null
    ) as deltas
    inner join account_spans as spans
        on deltas.account_id = spans.account_id
    where deltas.day <= spans.last_day
    group by deltas.account_id, greatest(deltas.day, spans.first_day)

),

failure_days as (

    -- The latest failed payment of the day and whether one is still open (each counts for 60 days: a window).
    select
        account_id,
        failed_on as day,
        max(failed_on) as failed_on,
        max(case when is_still_open then 1 else 0 end) as has_open_failure
    from payment_failures
    group by account_id, failed_on

),

touch_days as (

    select
        touches.account_id,
        greatest(touches.touched_on, spans.first_day) as day,
        max(touches.touched_on) as touched_on
    from touches
    inner join account_spans as spans
        on touches.account_id = spans.account_id
    where touches.touched_on <= spans.last_day
    group by touches.account_id, greatest(touches.touched_on, spans.first_day)

),

response_days as (

    select
        responses.account_id,
        greatest(responses.submitted_on, spans.first_day) as day,
        max(responses.submitted_on) as responded_on
    from responses
    inner join account_spans as spans
        on responses.account_id = spans.account_id
    where responses.submitted_on <= spans.last_day
    group by responses.account_id, greatest(responses.submitted_on, spans.first_day)

),

-- The dated signals of an account and day in one row: one join into the grid, not one per signal (six joins of
-- the grid were half of this model's work at the large scale).
day_signals as (

    select
        account_id,
        day,
        sum(feature_delta) as feature_delta,
        sum(open_ticket_delta) as open_ticket_delta,
        sum(high_priority_created) as high_priority_created,
        sum(champions_known_delta) as champions_known_delta,
        sum(champions_present_delta) as champions_present_delta,
        max(champion_left_on) as champion_left_on,
        max(failed_on) as failed_on,
        max(has_open_failure) as has_open_failure,
        max(touched_on) as touched_on,
        max(responded_on) as responded_on
    -- noqa: disable=LT02
    from (
        {%- for source, columns in signal_sources.items() %}
            select
                account_id,
                day,
                {%- for column, column_type in signal_columns.items() %}
                    {{ column if column in columns else "cast(null as " ~ column_type ~ ") as " ~ column }}
                    {{- "," if not loop.last }}
                {%- endfor %}
            from {{ source }}
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as signals_of_day
    -- noqa: enable=LT02
    group by account_id, day

),

running as (

    select
        grid.account_id,
        grid.day,
        grid.is_customer,
        grid.seats,
        grid.mrr_usd,
        grid.mrr_usd_90d_high,
        coalesce(usage_daily.active_users, 0) as active_users,
        first_activity.first_activity_date,
        avg(coalesce(usage_daily.active_users, 0)) over (
            partition by grid.account_id order by grid.day rows between 27 preceding and current row
        ) as active_users_28d,
        avg(coalesce(usage_daily.active_users, 0)) over (
            partition by grid.account_id order by grid.day rows between 55 preceding and 28 preceding
        ) as active_users_prior_28d,
        sum(coalesce(usage_daily.events, 0)) over (
            partition by grid.account_id order by grid.day rows between 27 preceding and current row
        ) as events_28d,
        sum(coalesce(usage_daily.events, 0)) over (
            partition by grid.account_id order by grid.day rows between 55 preceding and 28 preceding
        ) as events_prior_28d,
        sum(case when grid.is_customer then 1 else 0 end) over (
            partition by grid.account_id order by grid.day rows between 55 preceding and 28 preceding
        ) as customer_days_prior_28d,
        sum(coalesce(day_signals.feature_delta, 0)) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as features_30d,
        sum(coalesce(day_signals.open_ticket_delta, 0)) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as open_tickets,
        sum(coalesce(day_signals.high_priority_created, 0)) over (
            partition by grid.account_id order by grid.day rows between 29 preceding and current row
        ) as high_priority_tickets_30d,
        sum(coalesce(day_signals.champions_known_delta, 0)) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as champions_known,
        sum(coalesce(day_signals.champions_present_delta, 0)) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as champions_present_count,
        max(coalesce(day_signals.has_open_failure, 0)) over (
            partition by grid.account_id order by grid.day rows between 59 preceding and current row
        ) as open_failures,
        max(day_signals.champion_left_on) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as champion_left_on,
        max(day_signals.failed_on) over (
            partition by grid.account_id order by grid.day rows between 59 preceding and current row
        ) as last_failed_on,
        max(day_signals.touched_on) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as last_touched_on,
        max(day_signals.responded_on) over (
            partition by grid.account_id order by grid.day rows between unbounded preceding and current row
        ) as last_responded_on

    from grid
    left join usage_daily
        on grid.account_id = usage_daily.account_id and grid.day = usage_daily.activity_date
    left join first_activity
        on grid.account_id = first_activity.account_id
    left join day_signals
        on grid.account_id = day_signals.account_id and grid.day = day_signals.day

),

signals as (

    select
        running.account_id,
        running.day,
        running.is_customer,
        running.seats,
        running.mrr_usd,
        running.active_users,
        running.first_activity_date,
        running.active_users_28d,
        running.active_users_prior_28d,
        running.events_28d,
        running.events_prior_28d,
        running.customer_days_prior_28d,
        running.features_30d,
        running.open_tickets,
        running.high_priority_tickets_30d,
        running.last_touched_on,
        case when running.champions_known > 0 then running.champions_present_count end as champions_present,
        running.champion_left_on,
        running.last_failed_on,
        running.open_failures > 0 as has_open_failed_invoice,
        running.mrr_usd_90d_high,
        last_response.score as nps_score,
        last_response.submitted_on as nps_submitted_on,
        last_response.is_from_champion as nps_from_champion,
        {{ dbt.datediff('last_response.submitted_on', 'running.day', 'day') }} as nps_age_days  -- noqa: LT05

    from running
    left join last_response_of_day as last_response
        on
            running.account_id = last_response.account_id
            and running.last_responded_on = last_response.submitted_on
            and last_response.rank_in_day = 1

),

measures as (

    select
        signals.*,
        accounts.segment,
        case
            when signals.seats > 0 then cast(signals.active_users_28d as {{ type_double() }}) / signals.seats
        end as utilisation,
        case
            -- Activity of the last 28 days against the 28 before (+1 smooths accounts with little activity).
            when signals.customer_days_prior_28d = 28
                then cast(signals.events_28d + 1 as {{ type_double() }}) / (signals.events_prior_28d + 1) - 1
        end as usage_trend,
        {{ dbt.datediff(touch_anchor, 'signals.day', 'day') }} as days_since_touch,  -- noqa: LT05
        signals.champions_present = 0 and signals.champion_left_on is not null as is_champion_left_unreplaced,
        (
            signals.mrr_usd_90d_high is not null
            and signals.mrr_usd < signals.mrr_usd_90d_high - 0.01
            and signals.mrr_usd > 0
        ) as is_recently_downgraded,
        case
            when accounts.segment = 'enterprise' then parameters.relationship_touch_days_enterprise
            when accounts.segment = 'mid_market' then parameters.relationship_touch_days_mid_market
            else parameters.relationship_touch_days_smb
        end as touch_target_days

    from signals
    cross join parameters
    left join accounts
        on signals.account_id = accounts.account_id

),

peer_utilisation as (

    -- The peer benchmark used when usage_target_utilisation is 0: the median customer of the same segment
    -- that day (seat counts and habits differ by segment: a 1,000-seat account is not a 5-seat team).
    select
        day,
        segment,
        {{ percentile_cont('utilisation', 0.5) }} as median_utilisation
    from measures
    where is_customer and utilisation is not null and first_activity_date <= day
    group by day, segment

),

targets as (

    select
        measures.*,
        case
            when parameters.usage_target_utilisation > 0 then parameters.usage_target_utilisation
            else greatest(2 * coalesce(peer_utilisation.median_utilisation, 0), 0.01)
        end as target_utilisation
    from measures
    cross join parameters
    left join peer_utilisation
        on measures.day = peer_utilisation.day and measures.segment = peer_utilisation.segment

),

usage_parts as (

    -- Usage has two parts: the level (active users per seat against the target) and the trend (activity of
    -- the last 28 days against the 28 before). The trend is unknown for the first 8 weeks of a customer.
    select
        measures.*,
        case
            when measures.first_activity_date is null or measures.first_activity_date > measures.day then null
            else least(100.0, 100.0 * coalesce(measures.utilisation, 0) / measures.target_utilisation)
        end as usage_level_score,
        case
            when measures.first_activity_date is null or measures.first_activity_date > measures.day then null
            when measures.usage_trend is not null
                then greatest(
                    0.0,
                    least(
                        100.0,
                        100.0 * (1 + measures.usage_trend - parameters.usage_trend_floor)
                        / (parameters.usage_trend_full - parameters.usage_trend_floor)
                    )
                )
        end as usage_trend_score
    from targets as measures
    cross join parameters

),

components as (

    select
        measures.*,
        case
            when measures.usage_trend_score is null then measures.usage_level_score
            else
                (1 - parameters.usage_trend_weight) * measures.usage_level_score
                + parameters.usage_trend_weight * measures.usage_trend_score
        end as usage_score,
        case
            when measures.first_activity_date is null or measures.first_activity_date > measures.day then null
            else least(100.0, 100.0 * measures.features_30d / parameters.adoption_target_features)
        end as adoption_score,
        case
            when measures.nps_score is not null
                then
                    50 + (measures.nps_score * 10.0 - 50)
                    * power(0.5, measures.nps_age_days * 1.0 / parameters.sentiment_half_life_days)
        end as sentiment_score,
        greatest(
            0.0,
            100.0 - parameters.support_open_ticket_penalty * measures.open_tickets
            - parameters.support_high_priority_penalty * measures.high_priority_tickets_30d
        ) as support_score,
        greatest(
            0.0,
            case
                when measures.days_since_touch <= measures.touch_target_days then 100.0
                when measures.days_since_touch >= 3 * measures.touch_target_days then 0.0
                else
                    100.0 * (3 * measures.touch_target_days - measures.days_since_touch)
                    / (2 * measures.touch_target_days)
            end
            - case
                when measures.is_champion_left_unreplaced then parameters.relationship_champion_left_penalty
                else 0
            end
        ) as relationship_score,
        greatest(
            0.0,
            100.0
            - case when measures.last_failed_on is not null then parameters.billing_failed_payment_penalty else 0 end
            - case when measures.is_recently_downgraded then parameters.billing_downgrade_penalty else 0 end
        ) as billing_score

    from usage_parts as measures
    cross join parameters

),

final as (

    select
        components.account_id,
        components.day,
        components.is_customer,
        components.segment,
        components.seats,
        components.mrr_usd,
        components.usage_score,
        components.usage_level_score,
        components.usage_trend_score,
        components.adoption_score,
        components.sentiment_score,
        components.support_score,
        components.relationship_score,
        components.billing_score,
        components.utilisation,
        components.target_utilisation,
        components.usage_trend,
        components.first_activity_date,
        components.features_30d,
        components.nps_score,
        components.nps_submitted_on,
        components.nps_from_champion,
        components.open_tickets,
        components.high_priority_tickets_30d,
        components.days_since_touch,
        components.is_champion_left_unreplaced,
        components.champion_left_on,
        components.last_failed_on,
        components.has_open_failed_invoice,
        components.is_recently_downgraded,
        components.mrr_usd_90d_high

    from components
    cross join bounds
    -- The 30 days before the first new day are scored again: late events for them are taken in, and the
    -- health model finds the score of 30 days ago for every new day.
    where components.is_customer and components.day >= {{ dbt.dateadd('day', -30, 'bounds.first_scored_day') }}

)

select * from final
