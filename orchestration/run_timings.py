"""How long the parts of a run took, read from the run's own Dagster event log: each dbt model and test (dagster-dbt
records dbt's execution time and status on every materialization and check), and the run's phases. A slow model
is the usual first sign of a warehouse problem; these feed the pipeline gauges and KpiwatchSlowModel."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from metrics.samples import NodeTiming
from orchestration.run_window import PROCESS_STARTED_TAG

DBT_DURATION, DBT_ID = "Execution Duration", "unique_id"
# The run's steps as the phases a person names them by (the publishing step measures itself).
PHASE_OF_STEP = {"raw_quality_checks": "checks", "kpiwatch_dbt_models": "dbt"}


def dbt_node_timings(instance: DagsterInstance, run_id: str) -> list[NodeTiming]:
    """Every dbt node this run built or tested, with dbt's own execution time; the newest event of a node wins."""
    timings: dict[str, NodeTiming] = {}
    for kind in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION):
        for entry in instance.all_logs(run_id, of_type=kind):
            data = entry.dagster_event.event_specific_data
            metadata = {k: getattr(v, "value", v) for k, v in (_metadata(data) or {}).items()}
            unique_id, seconds = metadata.get(DBT_ID), metadata.get(DBT_DURATION)
            if not isinstance(unique_id, str) or not isinstance(seconds, int | float):
                continue  # not a dbt node (raw checks, the summaries)
            resource_type, _, name = unique_id.split(".", 2)
            name = name.split(".", 1)[1] if "." in name else name  # drop the project name
            if kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                succeeded = bool(data.passed)
            else:
                succeeded = str(metadata.get("status", "success")) in ("success", "pass", "warn")
            timings[unique_id] = NodeTiming(name, resource_type, float(seconds), succeeded)
    return sorted(timings.values(), key=lambda t: (t.resource_type, t.node))


def _metadata(data):
    materialization = getattr(data, "materialization", None)
    return materialization.metadata if materialization is not None else getattr(data, "metadata", None)


def phase_seconds(
    instance: DagsterInstance, run_id: str, tags: Mapping[str, str], publishing_started: float
) -> dict[str, float]:
    """Seconds in each phase: start-up (`kpiwatch run` only: its process until the run began), checks, dbt and
    publishing (this step until now: reading the marts, the verdicts and the attribution)."""
    phases: dict[str, float] = {}
    for stats in instance.get_run_step_stats(run_id):
        phase = PHASE_OF_STEP.get(stats.step_key)
        if phase and stats.start_time and stats.end_time:
            phases[phase] = phases.get(phase, 0.0) + max(0.0, stats.end_time - stats.start_time)
    phases["publishing"] = max(0.0, dt.datetime.now(dt.UTC).timestamp() - publishing_started)
    run_start = instance.get_run_stats(run_id).start_time
    process_started = tags.get(PROCESS_STARTED_TAG)
    if run_start and process_started:
        phases["startup"] = max(0.0, run_start - float(process_started))
    return phases


def process_start_time() -> float | None:
    """When this process started (epoch seconds), from Linux's /proc; None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # starttime: clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return dt.datetime.now(dt.UTC).timestamp() - uptime + ticks / os.sysconf("SC_CLK_TCK")
