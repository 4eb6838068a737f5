"""One job that materialises everything, and the daily schedule that runs it."""


import datetime as dt

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES

JOB_NAME = "kpiwatch_daily"
RAW_ASSET_KEYS = [AssetKey([RAW_SCHEMA, table.name]) for table in RAW_TABLES]

kpiwatch_job = define_asset_job(
    JOB_NAME,
    # The raw tables are not materialised here, but their data-quality checks run in every run.
    selection=AssetSelection.all() | AssetSelection.checks_for_assets(*RAW_ASSET_KEYS),
    description="Build every dbt model and check, then publish the results.",
)


def run_config_for(as_of: dt.date) -> dict:
    """Run config that evaluates the job as of one date; used by the schedule and the CLI."""
    return {"resources": {"evaluation": {"config": {"as_of": as_of.isoformat()}}}}


@schedule(job=kpiwatch_job, cron_schedule="0 6 * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING)  # fmt: skip
def kpiwatch_daily_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """At 06:00 UTC, evaluate the day that just ended, whose data is complete."""
    as_of = context.scheduled_execution_time.date() - dt.timedelta(days=1)
    return RunRequest(run_key=as_of.isoformat(), run_config=run_config_for(as_of), tags={"kpiwatch/as_of": str(as_of)})


defs = Definitions(jobs=[kpiwatch_job], schedules=[kpiwatch_daily_schedule])
