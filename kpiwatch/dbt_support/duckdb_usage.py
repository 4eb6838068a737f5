"""A dbt-duckdb plugin (dbt_project/profiles.yml) that adds up what DuckDB reports for every statement of a dbt
run: bytes read from storage, and the buffer manager's peak memory. DuckDB profiles each statement on its own and
keeps only the last profile per cursor, so the plugin reads it after every statement and keeps the sums in
memory; the dbt process (kpiwatch/dbt_support/worker.py `run_dbt`) writes them once the command has finished, into
`DBT_TARGET_PATH/warehouse_usage.json` (the run's target directory, set by dagster-dbt; nothing without it).
Writing after every statement instead cost a second of a small run: about 400 file replacements under a
lock both dbt threads wait on.

dbt-duckdb offers plugins no hook after a statement: the plugin wraps the `execute` of dbt-duckdb's cursor
wrapper, once per process. tests/test_warehouse_cost.py fails loudly if a dbt-duckdb upgrade moves it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.environments import local
from dbt.adapters.duckdb.plugins import BasePlugin

from metrics.warehouse_cost import USAGE_FILE

TRACKED_METRICS = ["io.total_bytes_read", "system.peak_buffer_memory"]
# Profile every statement of a cursor, and only these two metrics (no per-operator timing): one round trip.
PROFILE_SETTINGS = (
    f"SET enable_profiling = 'no_output'; SET profiling_coverage = 'ALL'; SET tracked_metrics = {TRACKED_METRICS!r}"
)
_lock = threading.Lock()
_totals = {"statements": 0, "bytes_read": 0, "peak_memory_bytes": 0}


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        _count_statements()

    def configure_cursor(self, cursor) -> None:
        cursor.execute(PROFILE_SETTINGS)


def _count_statements() -> None:
    original = local.DuckDBCursorWrapper.execute
    if getattr(original, "counts_usage", False):
        return

    def execute(self, sql, bindings=None):
        try:
            return original(self, sql, bindings)
        finally:
            _record(self._cursor)

    execute.counts_usage = True
    local.DuckDBCursorWrapper.execute = execute


def _record(cursor) -> None:
    try:
        profile = json.loads(cursor.get_profiling_information(format="json"))
    except Exception:  # noqa: BLE001 - no profile (a failed statement): nothing to add, never fail dbt for it
        return
    io, system = profile.get("io", {}), profile.get("system", {})
    with _lock:
        _totals["statements"] += 1
        _totals["bytes_read"] += int(io.get("total_bytes_read", 0))
        _totals["peak_memory_bytes"] = max(_totals["peak_memory_bytes"], int(system.get("peak_buffer_memory", 0)))


def start_command() -> None:
    """Count from zero: one dbt command's usage, not the process's."""
    with _lock:
        _totals.update(statements=0, bytes_read=0, peak_memory_bytes=0)


def write_usage() -> None:
    """The sums so far, into DBT_TARGET_PATH (atomically: the dbt step may read it at any time)."""
    target = os.environ.get("DBT_TARGET_PATH")
    if not target or not Path(target).is_dir():
        return
    with _lock:
        text = json.dumps(_totals)
    path = Path(target) / USAGE_FILE
    staged = path.with_name(f".{USAGE_FILE}.{os.getpid()}")
    staged.write_text(text)
    os.replace(staged, path)
