"""What a run cost the warehouse: an estimate of the Snowflake credits it used, and what DuckDB reports.

Snowflake bills a running warehouse per second, at a rate set by its size, with at least 60 seconds each time
it resumes (docs/operations.md "What a run costs the warehouse" has the formula and its limits).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from kpiwatch.snowflake_sizes import CREDITS_PER_HOUR

MINIMUM_BILLED_SECONDS = 60.0  # per resume of the warehouse
USAGE_FILE = "warehouse_usage.json"  # written into the run's dbt target directory by kpiwatch.dbt_support.duckdb_usage


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds in which at least one of the intervals (start, end) was running: queries on several threads
    overlap, and the warehouse is billed once for the time they share."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def snowflake_credits(busy: float, size: str) -> float:
    """Credits of `busy` seconds on a warehouse of `size` that resumed for them (billed for at least 60 s)."""
    return CREDITS_PER_HOUR[size] * max(MINIMUM_BILLED_SECONDS, busy) / 3600.0


@dataclass(frozen=True)
class DuckDBUsage:
    """What DuckDB reported for the statements of one dbt build, summed over statements
    (kpiwatch.dbt_support.duckdb_usage)."""

    statements: int
    bytes_read: int  # from the database file and spill files (DuckDB's io.total_bytes_read)
    peak_memory_bytes: int  # the buffer manager's peak (DuckDB's system.peak_buffer_memory)

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def read_duckdb_usage(target: Path) -> DuckDBUsage | None:
    """The usage file of a dbt build, or None when there is none (Snowflake, or dbt did not start)."""
    try:
        data = json.loads((target / USAGE_FILE).read_text())
        return DuckDBUsage(**{k: int(data[k]) for k in DuckDBUsage.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None
