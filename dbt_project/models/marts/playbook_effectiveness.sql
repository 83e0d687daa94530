{#- Does each playbook work? (DECISIONLOG "Playbook outcomes and lift"). Per playbook and quarter of the tasks'
    nights: how many tasks, how many were completed and on time, and the lift in recovery (still a customer
    playbook_outcome_days later) of accounts whose task was completed within playbook_completion_window_days over
    comparable accounts — same trigger, health band when the task was created and segment — whose task was not,
    with a confidence interval. A playbook whose lift is not above zero after enough compared tasks is flagged for
    CS Ops to review (the playbooks seed stays theirs to change). -#}
with

outcomes as (

    select * from {{ ref('playbook_outcomes') }}

),

tasks as (

    select
        playbook,
        cast({{ dbt.date_trunc('quarter', 'created_on') }} as date) as quarter_start,
        trigger_name,
        health_status_at_creation,
        segment,
        is_completed,
        is_on_time,
        is_deleted,
        is_overdue,
        is_completed_in_window,
        is_recovered,
        was_customer_at_creation and is_outcome_known as is_evaluated
    from outcomes

),

volumes as (

    select
        playbook,
        quarter_start,
        count(*) as tasks,
        sum(case when is_completed then 1 else 0 end) as completed_tasks,
        sum(case when is_on_time then 1 else 0 end) as on_time_tasks,
        sum(case when is_deleted then 1 else 0 end) as deleted_tasks,
        sum(case when is_overdue then 1 else 0 end) as overdue_tasks,
        sum(case when is_evaluated then 1 else 0 end) as evaluated_tasks
    from tasks
    group by playbook, quarter_start

),

strata as (

    -- Comparable accounts: the same trigger, health band at the task's night and segment.
    select
        playbook,
        quarter_start,
        trigger_name,
        health_status_at_creation,
        segment,
        sum(case when is_completed_in_window then 1 else 0 end) as done,
        sum(case when is_completed_in_window and is_recovered then 1 else 0 end) as done_recovered,
        sum(case when not is_completed_in_window then 1 else 0 end) as not_done,
        sum(case when not is_completed_in_window and is_recovered then 1 else 0 end) as not_done_recovered
    from tasks
    where is_evaluated
    group by playbook, quarter_start, trigger_name, health_status_at_creation, segment

),

compared as (

    -- Strata with both completed and not-completed tasks. The variance uses proportions shrunk by one success and
    -- one failure (Agresti-Caffo), so a small stratum where every account recovered is not taken as certain.
    select
        playbook,
        quarter_start,
        done,
        not_done,
        1.0 * done_recovered / done as done_rate,
        1.0 * not_done_recovered / not_done as not_done_rate,
        ((done_recovered + 1.0) / (done + 2)) * (1 - (done_recovered + 1.0) / (done + 2)) / done
        + ((not_done_recovered + 1.0) / (not_done + 2)) * (1 - (not_done_recovered + 1.0) / (not_done + 2))
        / not_done as difference_variance
    from strata
    where done > 0 and not_done > 0

),

estimates as (

    -- Strata weighted by their completed tasks: the lift for the kind of accounts whose tasks got done.
    select
        playbook,
        quarter_start,
        count(*) as strata_compared,
        sum(done) as compared_completed_tasks,
        sum(not_done) as compared_not_completed_tasks,
        sum(done * done_rate) / sum(done) as recovery_rate_completed,
        sum(done * not_done_rate) / sum(done) as recovery_rate_comparable,
        sum(done * (done_rate - not_done_rate)) / sum(done) as lift,
        sqrt(sum(done * done * difference_variance)) / sum(done) as lift_standard_error
    from compared
    group by playbook, quarter_start

),

final as (

    select
        volumes.playbook,
        volumes.quarter_start,
        cast(volumes.tasks as integer) as tasks,
        cast(volumes.completed_tasks as integer) as completed_tasks,
        cast(volumes.on_time_tasks as integer) as on_time_tasks,
        cast(volumes.deleted_tasks as integer) as deleted_tasks,
        cast(volumes.overdue_tasks as integer) as overdue_tasks,
        cast(1.0 * volumes.completed_tasks / volumes.tasks as {{ type_double() }}) as completion_rate,
        cast(1.0 * volumes.on_time_tasks / volumes.tasks as {{ type_double() }}) as on_time_rate,
        cast(volumes.evaluated_tasks as integer) as evaluated_tasks,
        cast(coalesce(estimates.strata_compared, 0) as integer) as strata_compared,
        cast(coalesce(estimates.compared_completed_tasks, 0) as integer) as compared_completed_tasks,
        cast(coalesce(estimates.compared_not_completed_tasks, 0) as integer) as compared_not_completed_tasks,
        cast(estimates.recovery_rate_completed as {{ type_double() }}) as recovery_rate_completed,
        cast(estimates.recovery_rate_comparable as {{ type_double() }}) as recovery_rate_comparable,
        cast(estimates.lift as {{ type_double() }}) as lift,
        cast(estimates.lift - {{ var('playbook_lift_z') }} * estimates.lift_standard_error as {{ type_double() }})
            as lift_ci_low,
        cast(estimates.lift + {{ var('playbook_lift_z') }} * estimates.lift_standard_error as {{ type_double() }})
            as lift_ci_high,
        coalesce(
            estimates.compared_completed_tasks + estimates.compared_not_completed_tasks
            >= {{ var('playbook_review_min_tasks') }}
            and estimates.lift - {{ var('playbook_lift_z') }} * estimates.lift_standard_error <= 0,
            false
        ) as is_flagged_for_review,
        case
            when
                estimates.compared_completed_tasks + estimates.compared_not_completed_tasks
                >= {{ var('playbook_review_min_tasks') }}
                and estimates.lift - {{ var('playbook_lift_z') }} * estimates.lift_standard_error <= 0
                then
                    'lift not above zero after '
                    || cast(
                        cast(estimates.compared_completed_tasks + estimates.compared_not_completed_tasks as integer)
                        as {{ dbt.type_string() }}
                    )
                    || ' compared tasks'
        end as review_reason,
        {{ as_of_date() }} as as_of_date
    from volumes
    left join estimates
        on volumes.playbook = estimates.playbook and volumes.quarter_start = estimates.quarter_start

)

select * from final
