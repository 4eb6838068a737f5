"""How long the parts of a run took, read from the run's own Dagster event log: each dbt model and test (dagster-dbt
records dbt's execution time and status on every materialization and check), and the run's phases. A slow model
is the usual first sign of a warehouse problem; these feed the pipeline gauges and KpiwatchSlowModel."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, MetadataValue
from dagster._core.events import EngineEventData  # not exported; the run log's only metadata-carrying note

from kpiwatch.dbt_support.node_results import BYTES_SCANNED, ROWS_AFFECTED, STARTED_AT
from metrics.samples import NodeTiming
from metrics.warehouse_cost import DuckDBUsage
from orchestration.run_window import PROCESS_STARTED_TAG

DBT_DURATION, DBT_ID = "Execution Duration", "unique_id"
# The run's steps as the phases a person names them by (the publishing step measures itself).
PHASE_OF_STEP = {"raw_quality_checks": "checks", "kpiwatch_dbt_models": "dbt"}
USAGE_MESSAGE = "Warehouse usage of the dbt build: each node's adapter response and start; DuckDB's own counts"
NODES = "nodes"


def dbt_node_timings(
    instance: DagsterInstance, run_id: str, facts: Mapping[str, Mapping] | None = None
) -> list[NodeTiming]:
    """Every dbt node this run built or tested, with dbt's own execution time and the facts the dbt process
    recorded for it (`dbt_usage`); the newest event of a node wins."""
    timings: dict[str, NodeTiming] = {}
    facts = facts or {}
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
            timings[unique_id] = NodeTiming(
                name,
                resource_type,
                float(seconds),
                succeeded,
                started_at=_number(facts.get(unique_id, {}).get(STARTED_AT)),
                rows_affected=_number(facts.get(unique_id, {}).get(ROWS_AFFECTED)),
                bytes_scanned=_number(facts.get(unique_id, {}).get(BYTES_SCANNED)),
            )
    return sorted(timings.values(), key=lambda t: (t.resource_type, t.node))


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def report_dbt_usage(
    instance: DagsterInstance, run_id: str, nodes: Mapping[str, Mapping], duckdb: DuckDBUsage | None
) -> None:
    """Keep what the dbt process recorded in the run's event log, where the publishing step finds it and a
    person sees it in the UI (each node's query_id to look up in Snowflake's QUERY_HISTORY)."""
    metadata = {NODES: MetadataValue.json(dict(nodes)), **(duckdb.as_metadata() if duckdb else {})}
    instance.report_engine_event(USAGE_MESSAGE, instance.get_run_by_id(run_id), EngineEventData(metadata=metadata))


def dbt_usage(instance: DagsterInstance, run_id: str) -> tuple[dict[str, dict], DuckDBUsage | None]:
    """The run's node results by unique_id and its DuckDB usage (None on Snowflake, or before dbt ran)."""
    for entry in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        if entry.dagster_event is None or entry.dagster_event.message != USAGE_MESSAGE:
            continue
        metadata = {k: getattr(v, "value", v) for k, v in entry.dagster_event.event_specific_data.metadata.items()}
        nodes = metadata.pop(NODES, None)
        try:
            duckdb = DuckDBUsage(**{k: int(metadata[k]) for k in DuckDBUsage.__dataclass_fields__})
        except KeyError:
            duckdb = None
        return (nodes if isinstance(nodes, dict) else {}), duckdb
    return {}, None


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
