"""periods_do_not_overlap on hand-built subscriptions: which pairs of priced periods overlap, and which touch."""

import datetime as dt

import duckdb

from kpiwatch.contract import RAW_TABLES_BY_NAME, raw_table_ddl
from kpiwatch.quality.config import CheckSettings
from kpiwatch.quality.sql_checks import TableFacts, periods_do_not_overlap
from kpiwatch.warehouse import DuckDBWarehouse, raw_columns

CHECK = CheckSettings("subscriptions", "periods_do_not_overlap", "error")


def verdict(tmp_path, periods):
    """periods: (subscription_id, started_at, ended_at or None) on 2024 dates."""
    path = tmp_path / "subs.duckdb"
    con = duckdb.connect(str(path))
    for statement in raw_table_ddl():
        con.execute(statement)
    con.execute("insert into raw.users values ('u1', timestamp '2024-01-01', 'DE', 'ads')")
    for subscription, start, end in periods:
        con.execute(
            "insert into raw.subscriptions values (?, 'u1', 'pro', 'month', 50, 'USD', ?, ?)",
            [subscription, dt.datetime.fromisoformat(start), end and dt.datetime.fromisoformat(end)],
        )
    con.close()
    warehouse = DuckDBWarehouse(path)
    columns = raw_columns(warehouse)["subscriptions"]
    facts = TableFacts(warehouse, RAW_TABLES_BY_NAME["subscriptions"], columns, dt.date(2024, 6, 30))
    return periods_do_not_overlap(facts, CHECK)


def test_a_plan_change_closes_one_period_where_the_next_starts(tmp_path):
    outcome = verdict(tmp_path, [("s1", "2024-01-01", "2024-02-15"), ("s1", "2024-02-15", None)])
    assert outcome.passed, outcome.description
    assert outcome.metadata["overlapping_pairs"] == 0


def test_a_shifted_copy_overlaps_and_is_named_with_its_keys(tmp_path):
    outcome = verdict(
        tmp_path,
        [("s1", "2024-01-01", "2024-02-01"), ("s1", "2024-01-02", "2024-02-02"), ("s2", "2024-01-01", "2024-02-01")],
    )
    assert not outcome.passed
    assert outcome.metadata == {
        "overlapping_pairs": 1,
        "subscriptions": 1,
        "sample": "s1 [2024-01-01 00:00:00, 2024-02-01 00:00:00) overlapped by the period starting 2024-01-02 00:00:00",
    }
    assert outcome.description.startswith("1 overlapping pair(s) of priced periods in 1 subscription(s)")


def test_a_running_period_overlaps_every_later_one(tmp_path):
    outcome = verdict(
        tmp_path,
        [("s1", "2024-01-01", None), ("s1", "2024-03-01", "2024-04-01"), ("s1", "2024-04-01", None)],
    )
    assert not outcome.passed
    # The running period overlaps both later ones; the two later ones only touch.
    assert outcome.metadata["overlapping_pairs"] == 2
    assert outcome.metadata["subscriptions"] == 1


def test_a_period_nested_inside_an_earlier_one_overlaps(tmp_path):
    outcome = verdict(tmp_path, [("s1", "2024-01-01", "2024-06-01"), ("s1", "2024-02-01", "2024-03-01")])
    assert not outcome.passed
    assert outcome.metadata["overlapping_pairs"] == 1
