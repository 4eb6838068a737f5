"""All checks of one raw table, SQL and GX, in the order a person reads them."""

from __future__ import annotations

import datetime as dt

from kpiwatch.contract import RAW_TABLES_BY_NAME
from kpiwatch.quality.config import ChecksConfig
from kpiwatch.quality.gx_runner import fx_currencies
from kpiwatch.quality.outcome import CheckOutcome
from kpiwatch.quality.sql_checks import SQL_CHECKS, TableFacts, run_sql_check
from kpiwatch.quality.suite_worker import InProcessSuites, SuiteRequest, SuiteValidator
from kpiwatch.warehouse import Warehouse, raw_columns

# Append-only tables that daily runs process a window of: their row checks (GX) look at the processed
# days only (plus rows with no timestamp), so a daily run's cost follows a day of data, not all history.
WINDOWED_TABLES = {"events"}
# Nothing real in a SaaS company's raw tables is older: earlier timestamps are defaults (the epoch's
# neighbours, 1900-01-01) or typos. Checked on every table (timestamps_after_earliest, error), so they
# cannot silently fall outside the metric spines, which reach 100 years back from the evaluation date.
EARLIEST_DATE = dt.date(1970, 1, 1)


def run_table_checks(
    warehouse: Warehouse,
    config: ChecksConfig,
    table: str,
    as_of: dt.date,
    columns: dict[str, str] | None = None,
    first_processed_day: dt.date | None = None,
    suites: SuiteValidator | None = None,
) -> list[CheckOutcome]:
    """SQL checks first; the GX suite runs only on a table that matches the contract.

    first_processed_day: for WINDOWED_TABLES, the first day of the rows the run processes; None checks
    every row (full refresh)."""
    columns = raw_columns(warehouse).get(table, {}) if columns is None else columns
    settings = config.for_table(table)
    # volume compares the evaluation day with the 7 before it; missing_days looks back lookback_days.
    history_days = max([8] + [int(s.params["lookback_days"]) for s in settings if s.name == "missing_days"])
    facts = TableFacts(warehouse, RAW_TABLES_BY_NAME[table], columns, as_of, history_days)
    sql_outcomes = [run_sql_check(facts, s) for s in settings if s.name in SQL_CHECKS]
    gx_settings = [s for s in settings if s.name not in SQL_CHECKS]
    if not gx_settings:
        return sql_outcomes
    schema = next((o for o in sql_outcomes if o.check == "schema_matches_contract"), None)
    if not facts.exists or (schema is not None and not schema.passed):
        reason = f"not evaluated: raw.{table} does not match the contract (see schema_matches_contract)."
        return sql_outcomes + [CheckOutcome(table, s.name, s.severity, False, reason, {}) for s in gx_settings]
    # A run at 06:00 sees the first hours of today (after the evaluation day): only a timestamp later than
    # both the evaluation day and the check itself cannot be real.
    future_after = max(facts.cutoff, dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    parameters = {
        "cutoff": facts.cutoff.isoformat(sep=" "),
        "future_after": future_after.isoformat(sep=" "),
        "as_of": as_of.isoformat(),
        "earliest": EARLIEST_DATE.isoformat(),
        "fx_currencies": fx_currencies(),
    }
    query, rows = f"select * from raw.{table}", facts.row_count()
    if table in WINDOWED_TABLES and first_processed_day is not None:
        # The processed days, plus the rows no day owns: future-stamped, implausibly old and untimed ones.
        column, start = facts.time_column, dt.datetime.combine(first_processed_day, dt.time())
        earliest = dt.datetime.combine(EARLIEST_DATE, dt.time())
        query += (
            f" where ({column} >= {_timestamp(start)} and {column} < {_timestamp(facts.cutoff)})"
            f" or {column} >= {_timestamp(future_after)} or {column} < {_timestamp(earliest)} or {column} is null"
        )
        rows = warehouse.query(f"select count(*) as n from ({query}) as processed")[0]["n"]
    request = SuiteRequest(warehouse, table, gx_settings, parameters, int(rows), query)
    return sql_outcomes + (suites or InProcessSuites()).validate(request)


def _timestamp(value: dt.datetime) -> str:
    return f"cast('{value.isoformat(sep=' ')}' as timestamp)"
