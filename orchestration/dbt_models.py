"""Every dbt model, seed and test as Dagster assets and asset checks, daily-partitioned.

The models tagged `daily` (the event staging view and the incremental activity models and marts) process
the partition's days; every other model is rebuilt as of the partition's day in the same `dbt build`
(cheap: see docs/operations.md), so partition D of any mart means "as known at the end of D".
"""

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    BackfillPolicy,
    Config,
    Failure,
    PartitionsDefinition,
)
from dagster_dbt import DbtProject, build_dbt_asset_selection, dbt_assets

from kpiwatch.contract import RAW_SCHEMA
from kpiwatch.dbt_support.node_results import read_node_results
from kpiwatch.dbt_support.parse_state import keep_parse_state, seed_parse_state
from kpiwatch.dbt_support.profile import dbt_environment
from kpiwatch.errors import KpiwatchError
from kpiwatch.quality.history import record as record_fingerprints
from kpiwatch.quality.history import record_full_scan
from kpiwatch.semantic_layer import SEMANTIC_MANIFEST_FILE, write_declared_queries
from kpiwatch.settings import Settings
from kpiwatch.warehouse import ensure_raw_contract
from metrics.warehouse_cost import read_duckdb_usage
from orchestration.gating import check_records, failed_raw_tables
from orchestration.resources import EvaluationWindow, KpiwatchDbtCli, WarehouseResource
from orchestration.run_timings import report_dbt_usage

DAILY_SELECTION = "tag:daily"
SOURCE_ADAPTERS = "tag:source_adapter"
HISTORY_CHECK = "history_unchanged"
KEPT_RUN_TARGETS = 5  # the newest runs' compiled SQL and run_results.json stay for debugging


class DbtBuildConfig(Config):
    full_refresh: bool = False


def target_with_parse_state(target_root: Path, run_id: str, profile_env: dict[str, str]) -> Path:
    """A fresh target directory per run (runs may overlap) that starts from the parse state of the run's
    profile, so dbt parses only what changed instead of the whole project (kpiwatch/dbt_support/parse_state.py)."""
    prune_run_targets(target_root, keep=KEPT_RUN_TARGETS - 1)
    target = target_root / f"run-{run_id}"
    target.mkdir(parents=True, exist_ok=True)
    seed_parse_state(target_root, target, profile_env)
    return target


def prune_run_targets(target_root: Path, keep: int) -> None:
    """Remove all but the `keep` newest run target directories: each holds megabytes of artifacts, and a
    daily schedule would otherwise grow the project directory without end."""
    runs = sorted(target_root.glob("run-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def build_dbt_assets(
    settings: Settings, project: DbtProject, manifest: Path, partitions: PartitionsDefinition
) -> AssetsDefinition:
    """The dbt assets of the project's manifest; `manifest` must exist (orchestration.dbt_project)."""
    target_root = settings.dbt_target_dir
    profile_env = dbt_environment(settings)

    @dbt_assets(
        manifest=manifest,
        project=project,
        exclude=SOURCE_ADAPTERS,  # run before the raw checks, only when they change (orchestration/source_views.py)
        name="kpiwatch_dbt_models",
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def kpiwatch_dbt_models(
        context: AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: KpiwatchDbtCli,
        warehouse: WarehouseResource,
        evaluation: EvaluationWindow,
    ) -> Iterator[Any]:
        """`dbt build` for the run's window, after checking the raw contract. One dbt call per run (each costs
        seconds of start-up); a backfill of any range is one run that replaces the whole range at once."""
        # Raw tables that failed an error check in this run: every model built from them is left out, and
        # keeps its last values (dbt's own lineage: `source:raw.events+`).
        records = check_records(context.instance, context.run_id)
        failed = failed_raw_tables(records)
        fingerprints = {
            r.asset.split("/", 1)[1]: r.metadata
            for r in records
            if r.asset.startswith(f"{RAW_SCHEMA}/") and r.check == HISTORY_CHECK
        }
        try:
            ensure_raw_contract(warehouse.client(), skip=failed.keys())
        except KpiwatchError as error:
            raise Failure(description=str(error)) from None
        window = evaluation.window(context.run.tags)
        repair_from = fingerprints.get("events", {}).get("repair_from")
        if repair_from and "events" not in failed:
            # Days of events that changed after they were processed: re-processed from the first of them, the
            # way a backfill of that range would, so the marts equal a full rebuild again.
            window = replace(window, start=min(window.start, dt.date.fromisoformat(str(repair_from))))
            context.log.warning(
                f"Re-processing raw.events from {window.start}: history changed there (history_unchanged)."
            )
        # buildable: when a run selects only some models (the backfill job), a test runs only if all of its
        # parents are built or upstream, never against a model this run did not build.
        # dbt.log at info level: a line per node, not per SQL statement (the compiled SQL is in the run's
        # target directory); debug-level file logging was a sixth of the build's time on a small company.
        args = ["build", "--indirect-selection", "buildable", "--no-write-json", "--log-level-file", "info"]
        if config.full_refresh:
            args.append("--full-refresh")
        if failed:
            # One value: dagster-dbt passes the arguments on, and dbt reads space-separated selectors.
            args += ["--exclude", " ".join(f"source:{RAW_SCHEMA}.{table}+" for table in sorted(failed))]
            for table, checks in sorted(failed.items()):
                context.log.warning(
                    f"Not rebuilding the models built from {RAW_SCHEMA}.{table}: {', '.join(checks)} (error) failed."
                )
        # The declared metrics a company watches: MetricFlow's SQL of each, for fct_series_declared_daily.
        watched = write_declared_queries(
            warehouse.client(writable=True),
            target_root / SEMANTIC_MANIFEST_FILE,
            "duckdb" if settings.target == "dev" else "snowflake",
            None if config.full_refresh else window.first_processed_day,
            window.as_of,
            settings.segment_top_n,
        )
        if watched:
            context.log.info(f"Watching declared metrics: {', '.join(watched)}.")
        target = target_with_parse_state(target_root, context.run_id, profile_env)
        yield from dbt.build(context, args, env={**profile_env, **window.dbt_env()}, target=target)
        keep_parse_state(target_root, target, profile_env)
        # What the adapter said of each node and what DuckDB counted, written by the dbt process.
        report_dbt_usage(context.instance, context.run_id, read_node_results(target), read_duckdb_usage(target))
        # What this run processed becomes the history the next runs compare with (withheld tables excepted).
        ledger, now = warehouse.client(writable=True), dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with ledger.session():
            for table, metadata in sorted(fingerprints.items()):
                if table in failed:
                    continue
                if metadata.get("record"):
                    record_fingerprints(ledger, table, str(metadata["record"]), context.run_id, now)
                if metadata.get("full_scan"):
                    record_full_scan(
                        ledger, table, dt.date.fromisoformat(str(metadata["full_scan"])), context.run_id, now
                    )

    return kpiwatch_dbt_models


def daily_event_models(dbt_models: AssetsDefinition) -> AssetSelection:
    """The backfill job's selection: the daily event models alone."""
    return build_dbt_asset_selection([dbt_models], dbt_select=DAILY_SELECTION)
