"""Data-quality checks on the raw tables, as Dagster asset checks on the tables they guard.

Every check spec is blocking, so all checks run before the dbt models; the result's severity decides what
a failure does: ERROR stops the dbt models (the business metrics are not rebuilt from bad data), WARN is
reported and the run goes on. All tables' checks are one step: one look at the warehouse's columns, and
each table's GX suite validates while the SQL checks of the next tables run (kpiwatch.quality.runner).
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    ResourceParam,
    multi_asset_check,
)

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES
from kpiwatch.errors import ConfigError
from kpiwatch.quality.config import ChecksConfig
from kpiwatch.quality.gx_runner import suite_check_names
from kpiwatch.quality.outcome import CheckOutcome
from kpiwatch.quality.runner import run_raw_checks
from kpiwatch.quality.sql_checks import SQL_CHECKS
from kpiwatch.quality.suite_worker import SuiteValidator
from orchestration.resources import EvaluationWindow, WarehouseResource
from orchestration.run_window import FULL_REFRESH_TAG

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


def _raw_checks(config: ChecksConfig) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(
            name=c.name, asset=AssetKey([RAW_SCHEMA, table.name]), blocking=True, description=f"{c.name} ({c.severity})"
        )
        for table in RAW_TABLES
        for c in config.for_table(table.name)
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
        window = evaluation.window(context.run.tags)
        full = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        # A run may select some checks only (the backfill job: those of raw.events; the UI: any).
        selected = {(key.asset_key.path[-1], key.name) for key in context.selected_asset_check_keys}
        tables = [table.name for table in RAW_TABLES if any(t == table.name for t, _ in selected)]
        outcomes = run_raw_checks(
            warehouse.client(),
            config,
            tables,
            window.as_of,
            first_processed_day=None if full else window.first_processed_day,
            suites=suites,
        )
        for outcome in outcomes:
            if (outcome.table, outcome.check) not in selected:
                continue
            if not outcome.passed:
                context.log.warning(
                    f"raw.{outcome.table} {outcome.check} ({outcome.severity}) failed: {outcome.description}"
                )
            yield check_result(outcome)

    return checks


def build_raw_checks(config: ChecksConfig) -> list[AssetChecksDefinition]:
    ensure_suites_match(config)
    return [_raw_checks(config)]
