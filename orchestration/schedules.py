"""The jobs (daily, and the events backfill) and the schedule that runs the daily job."""

import datetime as dt

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES
from orchestration.run_window import AS_OF_TAG

JOB_NAME = "kpiwatch_daily"
BACKFILL_JOB_NAME = "kpiwatch_events_backfill"
RAW_ASSET_KEYS = [AssetKey([RAW_SCHEMA, table.name]) for table in RAW_TABLES]
EVENTS_KEY = AssetKey([RAW_SCHEMA, "events"])


def daily_job(partitions: PartitionsDefinition):
    return define_asset_job(
        JOB_NAME,
        # The raw tables are not materialised here, but their data-quality checks run in every run.
        selection=AssetSelection.all() | AssetSelection.checks_for_assets(*RAW_ASSET_KEYS),
        partitions_def=partitions,
        description="One day: check the raw tables, build the day's event models and every other model, publish.",
    )


def events_backfill_job(partitions: PartitionsDefinition, daily_event_models: AssetSelection):
    return define_asset_job(
        BACKFILL_JOB_NAME,
        # Only the daily-partitioned models (and the checks on the rows they read): a backfill re-processes
        # a range of days; the monthly marts and the gauges follow on the next daily run.
        selection=daily_event_models | AssetSelection.checks_for_assets(EVENTS_KEY),
        partitions_def=partitions,
        description="Re-process a range of days of events in one run (from the UI's backfill dialog or "
        "`kpiwatch backfill --start --end`).",
    )


def daily_schedule(job) -> ScheduleDefinition:
    @schedule(
        job=job,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        name="kpiwatch_daily_schedule",
    )
    def kpiwatch_daily_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        """At 06:00 UTC, run the partition of the day that just ended, whose data is complete."""
        as_of = context.scheduled_execution_time.date() - dt.timedelta(days=1)
        return RunRequest(run_key=as_of.isoformat(), partition_key=as_of.isoformat(), tags={AS_OF_TAG: str(as_of)})

    return kpiwatch_daily_schedule
