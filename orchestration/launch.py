"""Run the kpiwatch job once, in-process, against the persistent Dagster instance the UI reads."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass

from kpiwatch.errors import KpiwatchError
from kpiwatch.settings import Settings

# The dagster.yaml kpiwatch writes into a new DAGSTER_HOME (an existing one is left alone).
INSTANCE_YAML = """\
# Local runs stay local: no usage statistics leave the machine, and no sign-up dialog in the UI.
telemetry:
  enabled: false
nux:
  enabled: false
# Dagster's default SQLite storage, with one engine per event-log file (orchestration/event_log.py).
event_log_storage:
  module: orchestration.event_log
  class: PooledSqliteEventLogStorage
"""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str]  # "step: message", one per failed step
    failed_checks: list[str]  # "raw/events unique_event_id (error): description"
    skipped_steps: list[str]  # steps not run because a blocking check or an upstream step failed
    seconds: float
    failure_recorded: str = ""  # a sentence: how the failure reached Prometheus, or why it could not


def prepare_instance(settings: Settings):
    """The instance under DAGSTER_HOME (default .dagster_home/), shared with `kpiwatch ui`."""
    from dagster import DagsterInstance

    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    instance_file = settings.dagster_home / "dagster.yaml"
    if not instance_file.exists():
        instance_file.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return DagsterInstance.get()


def run_once(settings: Settings, as_of: dt.date, log_level: str = "CRITICAL", pushgateway_url: str = "",
             full_refresh: bool | None = None) -> RunOutcome:  # fmt: skip
    """Run the daily job for the partition `as_of`, in-process, and summarise what failed, without raising.

    full_refresh=None rebuilds the incremental models from all history only when they do not exist yet."""
    from orchestration.schedules import AS_OF_TAG, JOB_NAME

    if as_of < settings.partitions_start:
        raise KpiwatchError(f"{as_of} is before the first daily partition, {settings.partitions_start} "
                            "(KPIWATCH_PARTITIONS_START).")  # fmt: skip
    if full_refresh is None:
        full_refresh = not incremental_models_exist(settings)
    tags = {AS_OF_TAG: str(as_of)}
    return _execute(settings, JOB_NAME, as_of, tags, log_level, pushgateway_url, full_refresh,
                    partition_key=as_of.isoformat())


def run_backfill(settings: Settings, start: dt.date, end: dt.date, log_level: str = "CRITICAL") -> RunOutcome:
    """Re-process the days start..end of the event models in one run of the backfill job."""
    from orchestration.run_window import RANGE_END_TAG, RANGE_START_TAG
    from orchestration.schedules import AS_OF_TAG, BACKFILL_JOB_NAME

    if end < start:
        raise KpiwatchError(f"--end {end} is before --start {start}.")
    if start < settings.partitions_start:
        raise KpiwatchError(f"--start {start} is before the first daily partition, {settings.partitions_start} "
                            "(KPIWATCH_PARTITIONS_START).")  # fmt: skip
    tags = {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat(), AS_OF_TAG: str(end)}
    return _execute(settings, BACKFILL_JOB_NAME, end, tags, log_level, "", full_refresh=False)


def incremental_models_exist(settings: Settings) -> bool:
    from kpiwatch.warehouse import MARTS_SCHEMA, relation_exists
    from orchestration.resources import WarehouseResource, warehouse_config

    return relation_exists(WarehouseResource(**warehouse_config(settings)).client(), MARTS_SCHEMA, "fct_active_users_daily")


def _execute(settings: Settings, job_name: str, as_of: dt.date, tags: dict[str, str], log_level: str,
             pushgateway_url: str, full_refresh: bool, partition_key: str | None = None) -> RunOutcome:  # fmt: skip
    from dagster import DagsterEventType

    from orchestration.definitions import defs
    from orchestration.dbt_models import kpiwatch_dbt_models
    from orchestration.resources import warehouse_config
    from orchestration.run_window import FULL_REFRESH_TAG
    from orchestration.schedules import JOB_NAME

    instance = prepare_instance(settings)
    job = defs.resolve_job_def(job_name)
    started = dt.datetime.now()
    # The full event log goes to the instance (see `kpiwatch ui`); the terminal gets the summary returned here.
    run_config: dict = {"resources": {"warehouse": {"config": warehouse_config(settings)}}}
    if pushgateway_url:
        run_config["resources"]["pushgateway"] = {"config": {"url": pushgateway_url}}
    if full_refresh:
        run_config["ops"] = {kpiwatch_dbt_models.op.name: {"config": {"full_refresh": True}}}
        tags = {**tags, FULL_REFRESH_TAG: "true"}
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    # dagster-dbt echoes every dbt log line to stdout; keep them in a file so the terminal shows the summary.
    with open(settings.dagster_home / "last_run_output.log", "w") as output, contextlib.redirect_stdout(output):
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False, tags=tags,
                                        partition_key=partition_key)  # fmt: skip
    failures, failed_checks = [], []
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                severity = "error" if evaluation.severity.value == "ERROR" else "warn"
                where = "/".join(evaluation.asset_key.path)
                failed_checks.append(f"{where} {evaluation.check_name} ({severity}): {evaluation.description}")
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error.cause is not None:  # Dagster wraps the user's exception: report what actually failed
                error = error.cause
            user_message = event.step_failure_data.user_failure_data
            message = user_message.description if user_message and user_message.description else error.message
            # "module.ClassName: text" -> "text": the class name helps nobody reading a terminal.
            message = message.split(f"{error.cls_name}: ", 1)[-1].strip()
            failures.append(f"{event.step_key}: {' '.join(message.split())}")
    ran = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
    skipped = sorted(name for name in job.graph.node_names() if name not in ran)
    seconds = (dt.datetime.now() - started).total_seconds()
    monitored = job_name == JOB_NAME
    recorded = "" if result.success or not monitored else _record_failure(instance, result.run_id, as_of, pushgateway_url)
    return RunOutcome(result.run_id, result.success, failures, failed_checks, skipped, seconds, recorded)


def _record_failure(instance, run_id: str, as_of: dt.date, pushgateway_url: str) -> str:
    """In-process runs have no sensor daemon: record the failure the way the run-failure sensor does."""
    from kpiwatch.errors import KpiwatchError
    from orchestration.publish import PushgatewayResource, publish_failed_run

    target = PushgatewayResource(url=pushgateway_url).target()
    try:
        count = publish_failed_run(instance, run_id, target, as_of)
    except KpiwatchError as error:
        return f"The failure could not be recorded in Prometheus either: {error}"
    if not target.enabled:
        return "The failure was not recorded in Prometheus: publishing is off (KPIWATCH_PUSHGATEWAY_URL=off)"
    return f"Failure recorded in Prometheus ({count} series at {target.url})"
