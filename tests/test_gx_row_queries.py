"""expect_no_unexpected_rows: exact counts beyond its sample, one statement per row check on clean data."""

import datetime as dt

from sqlalchemy import event
from sqlalchemy.engine import Engine

from kpiwatch.quality.config import load_checks_config
from kpiwatch.quality.gx_row_queries import SAMPLE_ROWS
from kpiwatch.quality.runner import run_table_checks
from kpiwatch.warehouse import DuckDBWarehouse
from tests.conftest import ts, write_raw_warehouse

AS_OF = dt.date(2024, 1, 1)
DUPLICATED_IDS = 130  # 260 offending rows: more than the sample GX-style row queries return


def events_warehouse(path, duplicated_ids: int, orphans: int):
    users = [(f"u{i}", ts("2023-12-01 00:00:00"), "DE", "ads") for i in range(3)]
    events = [(f"e{i:04d}", "u1", "login", ts("2024-01-01 10:00:00")) for i in range(400)]
    events += [(f"e{i:04d}", "u2", "login", ts("2024-01-01 11:00:00")) for i in range(duplicated_ids)]
    events += [(f"x{i}", "nobody", "login", ts("2024-01-01 12:00:00")) for i in range(orphans)]
    return DuckDBWarehouse(write_raw_warehouse(path, {"users": users, "events": events}))


def run_events_checks(warehouse) -> tuple[dict, list[str]]:
    """The events checks' outcomes by name, and the SQL statements of its two row queries."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "having count(*) > 1" in statement or "not in (select user_id from raw.users" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        outcomes = {o.check: o for o in run_table_checks(warehouse, load_checks_config(), "events", AS_OF)}
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return outcomes, seen


def test_clean_data_costs_one_statement_per_row_check(tmp_path):
    outcomes, statements = run_events_checks(events_warehouse(tmp_path / "w.duckdb", duplicated_ids=0, orphans=0))
    assert outcomes["unique_event_id"].passed and outcomes["user_id_known"].passed
    assert len(statements) == 2, statements  # GX's unexpected_rows_expectation would issue 4


def test_counts_every_offending_row_and_samples_them_by_key(tmp_path):
    warehouse = events_warehouse(tmp_path / "w.duckdb", duplicated_ids=DUPLICATED_IDS, orphans=1)
    outcomes, statements = run_events_checks(warehouse)
    duplicates, orphans = outcomes["unique_event_id"], outcomes["user_id_known"]
    assert 2 * DUPLICATED_IDS > SAMPLE_ROWS
    assert not duplicates.passed
    assert duplicates.metadata["unexpected_count"] == 2 * DUPLICATED_IDS
    assert (
        f"{2 * DUPLICATED_IDS:,} of {400 + DUPLICATED_IDS + 1:,} rows fail expect_no_unexpected_rows"
        in duplicates.description
    )
    sample = duplicates.metadata["sample"]
    assert '"event_id": "e0000"' in sample and sample.index('"u1"') < sample.index(
        '"u2"'
    )  # both copies of e0000, side by side
    assert not orphans.passed and orphans.metadata["unexpected_count"] == 1 and '"nobody"' in orphans.metadata["sample"]
    assert len(statements) == 4  # a count and a sample for each failing check
