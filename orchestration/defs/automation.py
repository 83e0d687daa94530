"""Jobs, the nightly schedule, the run-failure alert and the sweep of dead runs."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    run_failure_sensor,
    sensor,
)

from orchestration.alerts import send_alerts
from orchestration.run_guard import sweep_dead_runs
from orchestration.settings import Settings

nightly_refresh = define_asset_job(
    name="nightly_refresh",
    selection=AssetSelection.all(),
    description="Load every source, build and test the models, publish the serving copy, push to the CRM.",
    # dagster/max_runtime: run monitoring fails a run still going after 6 hours, so a hung night frees the warehouse.
    tags={"csops/warehouse": "write", "dagster/max_runtime": "21600"},
    # Every step is in the warehouse pool, so the steps run one after another whatever the executor. The multiprocess
    # executor would start a process per step, each loading the definitions again (dagster, dbt's manifest, dlt,
    # GX: ~4-6 s here, 8 steps a night); in process they are loaded once, as `csops run` runs the graph.
    executor_def=in_process_executor,
)


def nightly_schedule(settings: Settings) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_refresh_schedule",
        job=nightly_refresh,
        cron_schedule=settings.nightly_cron,
        execution_timezone=settings.timezone,
        default_status=DefaultScheduleStatus.RUNNING if settings.schedule_running else DefaultScheduleStatus.STOPPED,
        description="Refreshes everything and pushes to the CRM each night (CSOPS_NIGHTLY_CRON, CSOPS_TIMEZONE).",
    )


nightly_refresh_schedule = nightly_schedule(Settings.from_env())


def alert_text(job_name: str, run_id: str, message: str) -> str:
    return f"csops: run {run_id} of {job_name} failed: {message}"


@run_failure_sensor(
    name="run_failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description="Reports every failed run to the log and, when set, to Slack (CSOPS_SLACK_TOKEN + "
    "CSOPS_SLACK_CHANNEL), Microsoft Teams (CSOPS_TEAMS_WEBHOOK_URL) and CSOPS_ALERT_WEBHOOK_URL.",
)
def run_failure_alert(context: RunFailureSensorContext) -> None:
    text = alert_text(
        context.dagster_run.job_name, context.dagster_run.run_id, context.failure_event.message or "no message"
    )
    context.log.error(text)
    failed = send_alerts(Settings.from_env(), text)  # read when a run fails (the daemon's environment)
    if failed:  # a failed tick shows in the UI: nobody was told through these
        raise RuntimeError("could not deliver the failure alert to: " + "; ".join(failed))


@sensor(
    name="dead_run_sweeper",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every minute: runs whose process is gone (killed, crashed) are marked failed and their warehouse "
    "slot freed, so the next night is not blocked (orchestration/run_guard.py).",
)
def dead_run_sweeper(context: SensorEvaluationContext) -> SkipReason:
    swept = sweep_dead_runs(context.instance)
    for run_id in swept:
        context.log.warning(f"run {run_id}: its process is gone; marked failed and its warehouse slot freed")
    return SkipReason(f"swept {len(swept)} dead run(s)" if swept else "no dead runs")
