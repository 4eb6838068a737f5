"""Data-quality checks on the raw tables, as Dagster asset checks on the tables they guard.

Every check spec is blocking, so all checks of a table run before the dbt models; the result's severity
decides what a failure does: ERROR stops the dbt models (the business metrics are not rebuilt from bad
data), WARN is reported and the run goes on.
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
from kpiwatch.quality.runner import run_table_checks
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


def _table_checks(config: ChecksConfig, table: str) -> AssetChecksDefinition:
    key = AssetKey([RAW_SCHEMA, table])
    specs = [
        AssetCheckSpec(name=c.name, asset=key, blocking=True, description=f"{c.name} ({c.severity})")
        for c in config.for_table(table)
    ]

    @multi_asset_check(specs=specs, name=f"{table}_quality_checks", description=f"Data-quality checks on raw.{table}.")
    def checks(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        evaluation: EvaluationWindow,
        suites: ResourceParam[SuiteValidator],
    ) -> Iterator[AssetCheckResult]:
        window = evaluation.window(context.run.tags)
        full = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        first_day = None if full else window.first_processed_day
        outcomes = run_table_checks(
            warehouse.client(), config, table, window.as_of, first_processed_day=first_day, suites=suites
        )
        for outcome in outcomes:
            if not outcome.passed:
                context.log.warning(f"raw.{table} {outcome.check} ({outcome.severity}) failed: {outcome.description}")
            yield check_result(outcome)

    return checks


def build_raw_checks(config: ChecksConfig) -> list[AssetChecksDefinition]:
    ensure_suites_match(config)
    return [_table_checks(config, table.name) for table in RAW_TABLES]
