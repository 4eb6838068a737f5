"""A row-query expectation that runs its query once when the data is clean.

GX's UnexpectedRowsExpectation computes two metrics from the same query, each a full statement: the
offending rows (every one of them read into Python) and their count. A duplicate or orphan check scans the
whole table, so at 100M events that doubled the most expensive part of a full check (2 x 8-15 s for the
duplicate GROUP BY). `expect_no_unexpected_rows` (same `unexpected_rows_query` kwarg, same result fields)
counts first, `select count(*) from (<query>)`, which lets the warehouse read only the columns the query
tests; only when rows fail does it fetch a sample of at most SAMPLE_ROWS of them. (Counting and sampling in
one statement with `count(*) over ()` was slower: it carries every column through the anti-join.)

The sample is any SAMPLE_ROWS offending rows; the runner orders it by the table's key columns. Importing
this module registers the expectation and its metric with GX, as GX custom expectations are registered.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import (
    QueryMetricProvider,
    render_derived_table_alias,
)

SAMPLE_ROWS = MAX_RESULT_RECORDS  # what GX's own row query returns at most (200)
METRIC = "unexpected_rows_query.sample_and_count"


class UnexpectedRowsSampleAndCount(QueryMetricProvider):
    """{"count": n, "rows": [up to SAMPLE_ROWS dicts]}: one statement on clean data, two otherwise."""

    metric_name = METRIC
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> dict:
        batch, _, _ = execution_engine.get_compute_domain(metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
        substituted = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=query, batch_selectable=batch, execution_engine=execution_engine
        )
        unexpected = render_derived_table_alias(substituted, "unexpected", execution_engine.dialect_name)
        count = int(execution_engine.execute_query(sa.text(f"select count(*) from {unexpected}")).fetchone()[0])
        if not count:
            return {"count": 0, "rows": []}
        sample = execution_engine.execute_query(sa.text(f"select * from {unexpected} limit {SAMPLE_ROWS}"))
        return {"count": count, "rows": [dict(row._asdict()) for row in sample.fetchall()]}


class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
    """UnexpectedRowsExpectation that counts first and samples only failing data; same kwargs and result fields."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (METRIC,)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None) -> dict:
        found = metrics[METRIC]
        return {
            "success": found["count"] == 0,
            "result": {"observed_value": found["count"], "details": {"unexpected_rows": found["rows"]}},
        }
