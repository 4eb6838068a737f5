"""Data-quality checks on the raw tables, as Dagster asset checks on the tables they guard.

The result's severity decides what a failure does: ERROR withholds the table from the run's models (the
dbt step excludes every model built from it, so those marts are not rebuilt from bad data, and the
metrics read from them are not published; orchestration/gating.py), WARN is reported and the run goes
on. The checks themselves do not block in Dagster's sense, which would stop every model: each table has
one blocking summary check, FEEDS_METRICS, that orders the dbt step after the checks and says in the UI
whether the table feeds this run's models; it fails with WARN severity, so it never stops them itself.
All tables' checks are one step: one look at the warehouse's columns, and each table's GX suite validates
while the SQL checks of the next tables run (kpiwatch.quality.runner).
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    ResourceParam,
    multi_asset_check,
)

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES
from kpiwatch.errors import ConfigError, KpiwatchError
from kpiwatch.quality.config import ChecksConfig
from kpiwatch.quality.gx_runner import suite_check_names
from kpiwatch.quality.outcome import CheckOutcome
from kpiwatch.quality.runner import run_raw_checks
from kpiwatch.quality.sql_checks import SQL_CHECKS
from kpiwatch.quality.suite_worker import SuiteValidator
from kpiwatch.settings import Settings
from orchestration.gating import FEEDS_METRICS
from orchestration.resources import EvaluationWindow, WarehouseResource
from orchestration.run_window import FULL_REFRESH_TAG
from orchestration.source_views import prepare_source_views

SEVERITY = {"error": AssetCheckSeverity.ERROR, "warn": AssetCheckSeverity.WARN}


def ensure_suites_match(config: ChecksConfig) -> None:
    """Every GX check in checks.yml has expectations in its suite, and every suite check is configured."""
    for table in RAW_TABLES:
        configured = {c.name for c in config.for_table(table.name) if c.name not in SQL_CHECKS}
        in_suite = suite_check_names(table.name)
        if configured != in_suite:
            raise ConfigError(
                f"{config.path}: checks of raw.{table.name} do not match expectations/{table.name}.json: "
                f"configured but not in the suite: {sorted(configured - in_suite)}; "
                f"in the suite but not configured: {sorted(in_suite - configured)}."
            )


def check_result(outcome: CheckOutcome) -> AssetCheckResult:
    metadata = {"severity": outcome.severity, **outcome.metadata}
    return AssetCheckResult(
        asset_key=AssetKey([RAW_SCHEMA, outcome.table]),
        check_name=outcome.check,
        passed=outcome.passed,
        severity=SEVERITY[outcome.severity],
        description=outcome.description,
        metadata=metadata,
    )


def feeds_metrics_result(table: str, outcomes: list[CheckOutcome]) -> AssetCheckResult:
    """The table's summary: whether it feeds this run's models, or which error checks withheld it."""
    failed = [o.check for o in outcomes if o.severity == "error" and not o.passed]
    key = AssetKey([RAW_SCHEMA, table])
    if not failed:
        return AssetCheckResult(
            asset_key=key,
            check_name=FEEDS_METRICS,
            passed=True,
            description=f"raw.{table} passed every error check and feeds this run's models.",
        )
    return AssetCheckResult(
        asset_key=key,
        check_name=FEEDS_METRICS,
        passed=False,
        severity=AssetCheckSeverity.WARN,
        description=f"raw.{table} is withheld from this run's models: {', '.join(failed)} (error) failed. The marts "
        "built from it keep their last values and the metrics read from them are not published.",
        metadata={"failed_error_checks": ", ".join(failed)},
    )


def _raw_checks(config: ChecksConfig, settings: Settings) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(name=c.name, asset=AssetKey([RAW_SCHEMA, table.name]), description=f"{c.name} ({c.severity})")
        for table in RAW_TABLES
        for c in config.for_table(table.name)
    ] + [
        AssetCheckSpec(
            name=FEEDS_METRICS,
            asset=AssetKey([RAW_SCHEMA, table.name]),
            blocking=True,
            description="Whether the table passed every error check and so feeds this run's models.",
        )
        for table in RAW_TABLES
    ]

    @multi_asset_check(
        specs=specs, name="raw_quality_checks", description="Data-quality checks on the raw tables.", can_subset=True
    )
    def checks(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        evaluation: EvaluationWindow,
        suites: ResourceParam[SuiteValidator],
    ) -> Iterator[AssetCheckResult]:
        try:  # contract tables read through a source adapter: its view, current before it is checked
            prepare_source_views(settings)
        except KpiwatchError as error:
            raise Failure(description=str(error)) from None
        window = evaluation.window(context.run.tags)
        full = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        # A run may select some checks only (the backfill job: those of raw.events; the UI: any).
        selected = {(key.asset_key.path[-1], key.name) for key in context.selected_asset_check_keys}
        tables = [table.name for table in RAW_TABLES if any(t == table.name for t, _ in selected)]
        by_table: dict[str, list[CheckOutcome]] = {table: [] for table in tables}
        outcomes = run_raw_checks(
            warehouse.client(),
            config,
            tables,
            window.as_of,
            first_processed_day=None if full else window.first_processed_day,
            suites=suites,
        )
        for outcome in outcomes:
            by_table[outcome.table].append(outcome)
            if (outcome.table, outcome.check) not in selected:
                continue
            if not outcome.passed:
                context.log.warning(
                    f"raw.{outcome.table} {outcome.check} ({outcome.severity}) failed: {outcome.description}"
                )
            yield check_result(outcome)
        for table, table_outcomes in by_table.items():
            if (table, FEEDS_METRICS) in selected:
                yield feeds_metrics_result(table, table_outcomes)

    return checks


def build_raw_checks(config: ChecksConfig, settings: Settings) -> list[AssetChecksDefinition]:
    ensure_suites_match(config)
    return [_raw_checks(config, settings)]
