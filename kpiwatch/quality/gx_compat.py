"""Make Great Expectations 1.24's SQL execution work on DuckDB (through duckdb-engine).

GX's SqlAlchemyExecutionEngine.execute_query returns the CursorResult *after* leaving the connection's
`with` block. Most drivers have buffered the rows by then; duckdb-engine has not, so every metric reads
an empty result ("list index out of range", unexpected counts of None) and every expectation "fails".
The fix buffers the rows inside the block, for DuckDB engines only. It is applied explicitly by the GX
runner, never as an import side effect, and tests/test_gx_compat.py fails loudly if a GX upgrade changes
the method it replaces.
"""

from __future__ import annotations

import inspect

from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

# The body this fix was written against (GX 1.24); anything else means re-checking the fix.
EXPECTED_ORIGINAL_BODY = (
    "with self.get_connection() as connection:\n"
    "            result = self._execute_query_with_recovery(connection, query)\n"
    "\n"
    "        return result"
)

_original_execute_query = SqlAlchemyExecutionEngine.execute_query


def original_matches_expected() -> bool:
    return EXPECTED_ORIGINAL_BODY in inspect.getsource(_original_execute_query)


def _buffered_execute_query(self, query):
    if self.engine.dialect.name != "duckdb":
        return _original_execute_query(self, query)
    with self.get_connection() as connection:
        result = self._execute_query_with_recovery(connection, query)
        # freeze() reads every row while the connection is open; calling the frozen result replays them.
        return result.freeze()() if result.returns_rows else result


def apply_duckdb_result_buffering() -> None:
    """Idempotently install the fix; refuse if GX changed the method, rather than patch blindly."""
    if SqlAlchemyExecutionEngine.execute_query is _buffered_execute_query:
        return
    if not original_matches_expected():
        raise RuntimeError(
            "great_expectations changed SqlAlchemyExecutionEngine.execute_query; re-check "
            "kpiwatch/quality/gx_compat.py against the new version before running checks on DuckDB."
        )
    SqlAlchemyExecutionEngine.execute_query = _buffered_execute_query
