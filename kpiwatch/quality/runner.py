"""All checks of the raw tables, SQL and GX, in the order a person reads them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from kpiwatch.contract import RAW_TABLES_BY_NAME, billing_intervals
from kpiwatch.quality.config import ChecksConfig
from kpiwatch.quality.outcome import CHECK_SECONDS, CheckOutcome
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
    """Every check of one table: SQL checks first; the GX suite runs only on a table that matches the contract.

    first_processed_day: for WINDOWED_TABLES, the first day of the rows the run processes; None checks
    every row (full refresh)."""
    columns = raw_columns(warehouse).get(table, {}) if columns is None else columns
    outcomes, request = plan_table_checks(warehouse, config, table, as_of, columns, first_processed_day)
    return outcomes + ((suites or InProcessSuites()).validate(request) if request else [])


def run_raw_checks(
    warehouse: Warehouse,
    config: ChecksConfig,
    tables: Sequence[str],
    as_of: dt.date,
    first_processed_day: dt.date | None = None,
    suites: SuiteValidator | None = None,
) -> Iterator[CheckOutcome]:
    """Every check of every table, table by table. With a suite worker, each table's GX suite validates
    there (waited on by a second thread) while the SQL checks of the next tables run here."""
    validator = suites or InProcessSuites()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpiwatch-gx") as gx:
        planned: list[tuple[list[CheckOutcome], Future[list[CheckOutcome]] | None, SuiteRequest | None]] = []
        # Every table's SQL checks on one connection (opening the file per query cost about a second of a
        # small run). GX opens its own: in the suite worker while this runs, or here once the session is
        # closed (DuckDB refuses a second connection to the file with another configuration in one process).
        with warehouse.session():
            columns = raw_columns(warehouse)
            for table in tables:
                outcomes, request = plan_table_checks(
                    warehouse, config, table, as_of, columns.get(table, {}), first_processed_day
                )
                concurrent = request is not None and validator.concurrent
                suite = gx.submit(validator.validate, request) if concurrent else None
                planned.append((outcomes, suite, None if concurrent else request))
        for outcomes, suite, inline in planned:
            yield from outcomes
            if suite is not None:
                yield from suite.result()
            elif inline is not None:
                yield from validator.validate(inline)


def plan_table_checks(
    warehouse: Warehouse,
    config: ChecksConfig,
    table: str,
    as_of: dt.date,
    columns: dict[str, str],
    first_processed_day: dt.date | None,
) -> tuple[list[CheckOutcome], SuiteRequest | None]:
    """The table's SQL check outcomes, and its GX suite to validate (None when it has none, or when the
    table does not match the contract: then its GX checks are outcomes saying they were not evaluated)."""
    settings = config.for_table(table)
    # volume compares the evaluation day with the 7 before it; missing_days looks back lookback_days.
    history_days = max([8] + [int(s.params["lookback_days"]) for s in settings if s.name == "missing_days"])
    facts = TableFacts(warehouse, RAW_TABLES_BY_NAME[table], columns, as_of, history_days, first_processed_day)
    sql_outcomes = [_timed(facts, s) for s in settings if s.name in SQL_CHECKS]
    # Changed days further back that this run re-processes are checked like the rest of its window.
    repair_from = next(
        (o.metadata.get("repair_from") for o in sql_outcomes if o.check == "history_unchanged" and not o.passed),
        None,
    )
    if repair_from and first_processed_day is not None:
        first_processed_day = min(first_processed_day, dt.date.fromisoformat(repair_from))
    gx_settings = [s for s in settings if s.name not in SQL_CHECKS]
    if not gx_settings:
        return sql_outcomes, None
    schema = next((o for o in sql_outcomes if o.check == "schema_matches_contract"), None)
    if not facts.exists or (schema is not None and not schema.passed):
        reason = f"not evaluated: raw.{table} does not match the contract (see schema_matches_contract)."
        return sql_outcomes + [CheckOutcome(table, s.name, s.severity, False, reason, {}) for s in gx_settings], None
    # A run at 06:00 sees the first hours of today (after the evaluation day): only a timestamp later than
    # both the evaluation day and the check itself cannot be real.
    future_after = max(facts.cutoff, dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    parameters = {
        "cutoff": facts.cutoff.isoformat(sep=" "),
        "future_after": future_after.isoformat(sep=" "),
        "as_of": as_of.isoformat(),
        "earliest": EARLIEST_DATE.isoformat(),
        "fx_currencies": list(config.fx_currencies),
        "billing_intervals": list(billing_intervals()),
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
    return sql_outcomes, SuiteRequest(warehouse, table, gx_settings, parameters, int(rows), query)


def _timed(facts: TableFacts, setting) -> CheckOutcome:
    """The SQL check's outcome with its duration (the facts it shares with other checks are counted once, by the
    first check that needs them)."""
    started = time.perf_counter()
    outcome = run_sql_check(facts, setting)
    return replace(outcome, metadata={**outcome.metadata, CHECK_SECONDS: time.perf_counter() - started})


def _timestamp(value: dt.datetime) -> str:
    return f"cast('{value.isoformat(sep=' ')}' as timestamp)"
