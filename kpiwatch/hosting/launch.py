"""Run a kpiwatch job once, in-process, against the persistent Dagster instance the UI reads."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult

from kpiwatch.errors import KpiwatchError
from kpiwatch.hosting.instance import prepare_instance
from kpiwatch.hosting.run_lock import PID_TAG, exclusive_run, fail_abandoned_runs, wait_for_queued_runs
from kpiwatch.json_logs import JSON_LOGGER
from kpiwatch.run_workers import NOTHING_PRESTARTED, Prestarted
from kpiwatch.settings import Settings
from kpiwatch.warehouse import MARTS_SCHEMA, open_warehouse, relation_exists
from orchestration.dbt_project import prepare_dbt_manifest
from orchestration.publish import PUSH_STEP, publish_failed_run
from orchestration.run_window import (
    AS_OF_TAG,
    FULL_REFRESH_TAG,
    PROCESS_STARTED_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
)
from orchestration.schedules import BACKFILL_JOB_NAME, JOB_NAME
from orchestration.system import build_definitions

DBT_ASSETS_OP = "kpiwatch_dbt_models"


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str]  # "step: message", one per failed step
    failed_checks: list[str]  # "raw/events unique_event_id (error): description"
    skipped_steps: list[str]  # steps not run because a blocking check or an upstream step failed
    seconds: float
    failure_recorded: str = ""  # a sentence: how the failure reached Prometheus, or why it could not
    notices: tuple[str, ...] = ()  # things a person should know about a successful run (e.g. capped labels)
    withheld: tuple[str, ...] = ()  # "metric (raw.table check, ...)": not published, built from failed data


def run_once(
    settings: Settings,
    as_of: dt.date,
    log_level: str = "CRITICAL",
    full_refresh: bool | None = None,
    prestarted: Prestarted = NOTHING_PRESTARTED,
    process_started: float | None = None,
    finished: Callable[[DagsterInstance], None] | None = None,
) -> RunOutcome:
    """Run the daily job for the partition `as_of`, in-process, and summarise what failed, without raising.
    `process_started` (epoch seconds) is given by `kpiwatch run`, whose process exists for this run: the time
    until the run begins is reported as its start-up.

    full_refresh=None rebuilds the incremental models from all history only when they do not exist yet.
    `finished` is called with the instance once the run is over, still under the run lock (the report reads the
    warehouse as the run left it)."""
    if as_of < settings.partitions_start:
        raise KpiwatchError(
            f"{as_of} is before the first daily partition, {settings.partitions_start} (KPIWATCH_PARTITIONS_START)."
        )
    tags = {AS_OF_TAG: str(as_of)}
    if process_started is not None:
        tags[PROCESS_STARTED_TAG] = f"{process_started:.3f}"
    return _execute(settings, JOB_NAME, as_of, tags, log_level, full_refresh, as_of.isoformat(), prestarted, finished)


def run_backfill(
    settings: Settings,
    start: dt.date,
    end: dt.date,
    log_level: str = "CRITICAL",
    prestarted: Prestarted = NOTHING_PRESTARTED,
) -> RunOutcome:
    """Re-process the days start..end of the event models in one run of the backfill job."""
    if end < start:
        raise KpiwatchError(f"--end {end} is before --start {start}.")
    if start < settings.partitions_start:
        raise KpiwatchError(
            f"--start {start} is before the first daily partition, {settings.partitions_start} "
            "(KPIWATCH_PARTITIONS_START)."
        )
    tags = {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat(), AS_OF_TAG: str(end)}
    return _execute(settings, BACKFILL_JOB_NAME, end, tags, log_level, False, None, prestarted)


def _execute(
    settings: Settings,
    job_name: str,
    as_of: dt.date,
    tags: dict[str, str],
    log_level: str,
    full_refresh: bool | None,
    partition_key: str | None,
    prestarted: Prestarted,
    finished: Callable[[DagsterInstance], None] | None = None,
) -> RunOutcome:
    run_id = str(uuid.uuid4())
    with exclusive_run(settings, run_id):
        if full_refresh is None:  # the first run builds the incremental models from all history
            full_refresh = not relation_exists(open_warehouse(settings), MARTS_SCHEMA, "fct_active_users_daily")
        prepare_dbt_manifest(settings)
        instance = prepare_instance(settings.dagster_home)
        fail_abandoned_runs(instance)  # safe: this process holds the warehouse's run lock
        job = build_definitions(settings, prestarted).resolve_job_def(job_name)
        tags = {**tags, PID_TAG: str(os.getpid())}
        started = dt.datetime.now()
        # The full event log goes to the instance (see `kpiwatch ui`); the terminal gets the summary returned here.
        run_config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        if settings.log_format == "json":  # Dagster's own lines too, as JSON on stderr
            run_config = {"loggers": {JSON_LOGGER: {"config": {"log_level": "INFO"}}}}
        if full_refresh:
            run_config["ops"] = {DBT_ASSETS_OP: {"config": {"full_refresh": True}}}
            tags = {**tags, FULL_REFRESH_TAG: "true"}
        wait_for_queued_runs(instance, settings)  # last: from here this run is recorded and holds the queue
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            tags=tags,
            partition_key=partition_key,
            run_id=run_id,
        )
        ran = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
        skipped = sorted(name for name in job.graph.node_names() if name not in ran)
        seconds = (dt.datetime.now() - started).total_seconds()
        monitored = job_name == JOB_NAME
        failed_checks, failures = _failures(result)
        succeeded = result.success
        if monitored and succeeded and PUSH_STEP in skipped:  # never a quiet success that published nothing
            succeeded = False
            failures.append(f"{PUSH_STEP}: did not run although no step failed, so nothing was published; run again.")
        recorded = "" if succeeded or not monitored else _record_failure(instance, settings, result.run_id, as_of)
        published = [
            event.materialization.metadata
            for event in result.all_events
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION
        ]
        notices = tuple(str(m["notice"].value) for m in published if "notice" in m and m["notice"].value)
        withheld = tuple(
            part for m in published if "withheld" in m for part in str(m["withheld"].value).split("; ") if part
        )
        if finished is not None:
            finished(instance)
        return RunOutcome(
            result.run_id, succeeded, failures, failed_checks, skipped, seconds, recorded, notices, withheld
        )


def _failures(result: ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    """Failed checks ("asset check (severity): description") and failed steps ("step: message")."""
    failed_checks, failures = [], []
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
            failures.append(f"{event.step_key}: {readable_failure(message)}")
    return failed_checks, failures


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DUCKDB_LOCK = re.compile(r'Could not set lock on file "([^"]+)": Conflicting lock is held in (.*?) \(PID (\d+)\)')
DBT_ERRORS = "Errors parsed from dbt logs:"
MESSAGE_CHARACTERS = 400


def readable_failure(message: str) -> str:
    """One line a person can act on: colour codes gone, a DuckDB lock named as such, dbt's own error
    instead of dagster-dbt's preamble, and never kilobytes of flattened traceback."""
    text = ANSI_ESCAPE.sub("", message)
    lock = DUCKDB_LOCK.search(text)
    if lock:
        return (
            f"DuckDB file {lock.group(1)} is in use by another process ({lock.group(2)}, PID {lock.group(3)}): "
            "wait for it to finish or stop it, then run again."
        )
    if DBT_ERRORS in text:
        text = text.split(DBT_ERRORS, 1)[1]
    line = " ".join(text.split())
    if len(line) > MESSAGE_CHARACTERS or "Traceback" in text:
        lines = [part.strip() for part in text.splitlines() if part.strip() and not part.strip().startswith("File ")]
        line = " ".join((lines[0] if lines else line).split())
    if len(line) > MESSAGE_CHARACTERS:
        line = line[: MESSAGE_CHARACTERS - 1] + "… (the full text is in the Dagster UI and the run's dbt_output.log)"
    return line


def _record_failure(instance: DagsterInstance, settings: Settings, run_id: str, as_of: dt.date) -> str:
    """In-process runs have no sensor daemon: record the failure the way the run-failure sensor does."""
    target = settings.push
    try:
        count = publish_failed_run(instance, run_id, target, as_of)
    except KpiwatchError as error:
        return f"The failure could not be recorded in Prometheus either: {error}"
    if not target.enabled:
        return "The failure was not recorded in Prometheus: publishing is off (KPIWATCH_PUSHGATEWAY_URL=off)"
    return f"Failure recorded in Prometheus ({count} series at {target.url})"
