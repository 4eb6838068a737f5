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


def test_gx_imports_scipy_stats_and_altair_only_when_an_expectation_uses_them():
    """kpiwatch/quality/gx_import.py, in a fresh interpreter: GX imported, the two modules not run yet, the lazy
    finder gone again, and GX's KL-divergence module computing with scipy.stats once it needs it."""
    import subprocess
    import sys

    script = """
import sys
from kpiwatch.quality.gx_import import import_great_expectations
import_great_expectations()
print(type(sys.modules["scipy.stats"]).__name__, type(sys.modules["altair"]).__name__)
print(any(type(f).__name__ == "_LazyFinder" for f in sys.meta_path))
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
print(round(float(kl.stats.entropy([0.5, 0.5], [0.9, 0.1])), 4), kl.alt.Chart.__name__)
print(type(sys.modules["scipy.stats"]).__name__)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # KL(0.5,0.5 || 0.9,0.1) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.5108
    assert done.stdout.splitlines() == ["_LazyModule _LazyModule", "False", "0.5108 Chart", "module"]
