"""Run the Great Expectations suite of one raw table inside the warehouse and read its verdicts.

The suite runs on a GX *query asset* (`select * from raw.<table>`): GX computes every metric as SQL in the
warehouse, and a query asset needs no table reflection (SQLAlchemy's Postgres-style reflection of
duckdb-engine fails on DuckDB 2.0's pg_catalog). The same suite files run unchanged on Snowflake.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy.pool import StaticPool

from kpiwatch.errors import RunError
from kpiwatch.paths import EXPECTATIONS_DIR
from kpiwatch.quality.config import CheckSettings
from kpiwatch.quality.gx_import import import_great_expectations
from kpiwatch.quality.outcome import CheckOutcome
from kpiwatch.warehouse import Warehouse

# Columns that identify an offending row in the sample shown to a person.
KEY_COLUMNS = {
    "users": ["user_id"],
    "subscriptions": ["subscription_id"],
    "events": ["event_id"],
    "marketing_spend": ["spend_date", "channel"],
}
SAMPLE_SIZE = 5


def suite_path(table: str):
    return EXPECTATIONS_DIR / f"{table}.json"


def load_suite_document(table: str) -> dict[str, Any]:
    return json.loads(suite_path(table).read_text())


def suite_check_names(table: str) -> set[str]:
    return {e["meta"]["check"] for e in load_suite_document(table)["expectations"]}


def run_suite(
    warehouse: Warehouse,
    table: str,
    checks: list[CheckSettings],
    parameters: Mapping[str, Any],
    row_count: int,
    query: str = "",
) -> list[CheckOutcome]:
    """Validate the table's suite once, on `query` (default: the whole table); one outcome per GX check."""
    import_great_expectations()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from kpiwatch.quality.gx_compat import apply_duckdb_result_buffering

    apply_duckdb_result_buffering()
    document = load_suite_document(table)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # One connection for the whole suite (opening a DuckDB file per metric query cost more than the
    # queries), closed in `finally` so the file is free again for other readers and for dbt.
    url, engine_arguments = warehouse.sqlalchemy_engine()
    datasource = context.data_sources.add_sql(
        name="warehouse", connection_string=url, kwargs={**engine_arguments, "poolclass": StaticPool}
    )
    try:
        asset = datasource.add_query_asset(name=table, query=query or f"select * from raw.{table}")
        batch = asset.add_batch_definition_whole_table("whole table").get_batch()
        summary_format = {
            "result_format": "SUMMARY",
            "unexpected_index_column_names": KEY_COLUMNS[table],
            "partial_unexpected_count": SAMPLE_SIZE,
        }
        expectations = [ExpectationConfiguration(**e).to_domain_obj() for e in document["expectations"]]
        suite = context.suites.add(gx.ExpectationSuite(name=document["name"], expectations=expectations))
        # SUMMARY: column expectations return a capped sample of offending values; row queries
        # (expect_no_unexpected_rows) return their capped sample of rows in every format.
        results = batch.validate(suite, expectation_parameters=dict(parameters), result_format=summary_format).results
    finally:
        # The datasource and its execution engine each hold an engine of their own.
        datasource.get_execution_engine().engine.dispose()
        datasource.get_engine().dispose()
    by_check: dict[str, list] = defaultdict(list)
    for result in results:
        by_check[result.expectation_config.meta["check"]].append(result)
    return [_verdict(table, settings, by_check.get(settings.name, []), row_count) for settings in checks]


def _verdict(table: str, settings: CheckSettings, results: list, row_count: int) -> CheckOutcome:
    tolerance = float(settings.params.get("max_unexpected_ratio", 0.0))
    failures, unexpected, samples, observed = [], 0, [], []
    for result in results:
        config = result.expectation_config
        label = _label(config)
        error = _exception_message(result.exception_info)
        if error and ENVIRONMENT_FAILURE.search(error):
            # Not a verdict on the data: the run fails as a run, and the check is not reported as failed.
            raise RunError(
                f"raw.{table} {settings.name} could not run: {' '.join(error.split())[:300]}. This is the machine, "
                "not the data: free memory (or raise KPIWATCH_DUCKDB_MEMORY_LIMIT), disk or the lock, then run again."
            )
        if error:
            failures.append(f"{label} could not be evaluated: {error}")
            continue
        details = result.result or {}
        count = details.get("unexpected_count")
        if count is None and config.type == "expect_no_unexpected_rows":
            count = details.get("observed_value")
        if count is None:  # aggregate expectations have an observed value, not row counts
            observed.append(f"{label}: {details.get('observed_value')}")
            if not result.success:
                failures.append(f"{label} observed {details.get('observed_value')}")
            continue
        count = int(count)
        unexpected += count
        if count and count / max(row_count, 1) > tolerance:
            failures.append(f"{count:,} of {row_count:,} rows fail {label}")
        samples.extend(_sample(details, KEY_COLUMNS[table]))
    metadata = {
        "unexpected_count": unexpected,
        "unexpected_percent": 100.0 * unexpected / row_count if row_count else 0.0,
        "rows": row_count,
        "expectations": ", ".join(_label(r.expectation_config) for r in results),
        "sample": json.dumps(samples[:SAMPLE_SIZE], default=str),
    }
    if observed:
        metadata["observed_value"] = "; ".join(observed)
    if not results:
        failures.append(f"no expectation in {suite_path(table).name} has meta.check = {settings.name!r}")
    if failures:
        example = f" e.g. {metadata['sample']}" if samples else ""
        return CheckOutcome(
            table, settings.name, settings.severity, False, "; ".join(failures) + "." + example, metadata
        )
    return CheckOutcome(
        table,
        settings.name,
        settings.severity,
        True,
        f"all {row_count:,} rows pass {metadata['expectations']}.",
        metadata,
    )


# Errors of the machine running the check, not of the data checked.
ENVIRONMENT_FAILURE = re.compile(
    r"out of memory|could not set lock|no space left on device|permission denied|disk full", re.IGNORECASE
)


def _exception_message(info: Mapping[str, Any] | None) -> str | None:
    """GX reports errors either flat or keyed by metric; return the first message, if any."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for entry in entries:
        if entry.get("raised_exception") or entry.get("exception_message") or entry.get("exception_traceback"):
            message = (
                entry.get("exception_message") or (entry.get("exception_traceback") or "").strip().splitlines()[-1:]
            )
            return message if isinstance(message, str) else " ".join(message)
    return None


def _label(config) -> str:
    kwargs = config.kwargs
    target = (
        kwargs.get("column")
        or kwargs.get("column_list")
        or (f"{kwargs['column_A']} > {kwargs['column_B']}" if "column_A" in kwargs else config.description or "")
    )
    return f"{config.type}({target if isinstance(target, str) else ', '.join(target)})"


def _sample(details: Mapping[str, Any], keys: list[str]) -> list[Any]:
    rows = details.get("partial_unexpected_index_list")
    if rows:
        return list(rows)
    # A row query's sample comes in no particular order: by key, so duplicates sit side by side.
    rows = [dict(r) for r in (details.get("details") or {}).get("unexpected_rows") or []]
    return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in keys))[:SAMPLE_SIZE]
