"""The Great Expectations fix for DuckDB: needed, effective, and guarded against GX upgrades."""

import great_expectations as gx
import pytest
from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from sqlalchemy.pool import NullPool

from kpiwatch.quality import gx_compat
from tests.conftest import ts, write_raw_warehouse


def test_the_replaced_method_is_still_the_one_the_fix_was_written_for():
    """Fails on a GX upgrade that changes execute_query: re-check gx_compat.py, then update the expected body."""
    assert gx_compat.original_matches_expected()


def validate_unique_event_ids(db_path):
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(
        name="w", connection_string=f"duckdb:///{db_path}?access_mode=read_only", kwargs={"poolclass": NullPool}
    )
    batch = (
        source.add_query_asset(name="events", query="select * from raw.events")
        .add_batch_definition_whole_table("a")
        .get_batch()
    )
    expectation = ExpectationConfiguration(type="expect_column_values_to_be_unique", kwargs={"column": "event_id"})
    try:
        return batch.validate(expectation.to_domain_obj(), result_format="SUMMARY")
    finally:
        source.get_engine().dispose()


@pytest.fixture
def duplicated(tmp_path):
    events = [
        ("e1", "u1", "login", ts("2024-01-01 10:00:00")),
        ("e1", "u1", "login", ts("2024-01-01 10:00:00")),
        ("e2", "u1", "login", ts("2024-01-02 10:00:00")),
    ]
    return write_raw_warehouse(tmp_path / "w.duckdb", {"events": events})


def test_with_the_fix_gx_counts_duplicates_exactly(duplicated):
    gx_compat.apply_duckdb_result_buffering()
    result = validate_unique_event_ids(duplicated)
    assert result.success is False
    assert result.result["unexpected_count"] == 2


def test_without_the_fix_gx_cannot_read_duckdb_results(duplicated, monkeypatch):
    """Documents the bug the fix exists for: no counts at all, not even for the duplicate."""
    monkeypatch.setattr(SqlAlchemyExecutionEngine, "execute_query", gx_compat._original_execute_query)
    result = validate_unique_event_ids(duplicated)
    assert result.result.get("unexpected_count") is None
