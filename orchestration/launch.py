"""Run the kpiwatch job once, in-process, against the persistent Dagster instance the UI reads."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from kpiwatch.settings import Settings


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str]  # "step: message", one per failed step or blocking check
    seconds: float


def prepare_instance(settings: Settings):
    """The instance under DAGSTER_HOME (default .dagster_home/), shared with `kpiwatch ui`."""
    from dagster import DagsterInstance

    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    instance_file = settings.dagster_home / "dagster.yaml"
    if not instance_file.exists():
        # Local runs stay local: no usage statistics leave the machine.
        instance_file.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return DagsterInstance.get()


def run_once(settings: Settings, as_of: dt.date, log_level: str = "WARNING") -> RunOutcome:
    """Materialise every asset through Dagster and summarise what failed, without raising."""
    from orchestration.dbt_project_handle import ensure_manifest

    ensure_manifest()
    from dagster import DagsterEventType

    from orchestration.definitions import defs
    from orchestration.resources import warehouse_config
    from orchestration.schedules import JOB_NAME, run_config_for

    instance = prepare_instance(settings)
    job = defs.resolve_job_def(JOB_NAME)
    started = dt.datetime.now()
    # The full event log goes to the instance (see `kpiwatch ui`); the terminal gets warnings and errors.
    run_config = run_config_for(as_of)
    run_config["resources"]["warehouse"] = {"config": warehouse_config(settings)}
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    result = job.execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags={"kpiwatch/as_of": str(as_of)}
    )
    failures = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            user_message = event.step_failure_data.user_failure_data
            message = user_message.description if user_message and user_message.description else error.message
            failures.append(f"{event.step_key}: {message.strip()}")
    seconds = (dt.datetime.now() - started).total_seconds()
    return RunOutcome(run_id=result.run_id, success=result.success, failures=failures, seconds=seconds)
