"""The single place that turns the environment into kpiwatch settings."""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kpiwatch.errors import ConfigError
from kpiwatch.paths import DEFAULT_DAGSTER_HOME, DEFAULT_DUCKDB_PATH

# dbt target names; the Dagster resource map is keyed by the same names.
TARGETS = ("dev", "snowflake")
TARGET_ALIASES = {"duckdb": "dev"}

KNOWN_VARIABLES = {
    "KPIWATCH_DUCKDB_PATH": "DuckDB file holding schema raw and the dbt schemas",
    "KPIWATCH_AS_OF": "evaluation date YYYY-MM-DD (default: today, UTC)",
    "KPIWATCH_TARGET": "warehouse: dev (DuckDB, default) or snowflake",
    "KPIWATCH_ENVIRONMENT": "environment label of every pushed gauge (default: local)",
    "KPIWATCH_PARTITIONS_START": "first day of the daily partitions, YYYY-MM-DD (default: 2020-01-01)",
    "KPIWATCH_LOOKBACK_DAYS": "days before a daily run's partition it re-processes for late events (default: 3)",
    "KPIWATCH_DUCKDB_MEMORY_LIMIT": "memory DuckDB may use per process before it spills to disk (default: 3GB)",
}
DEFAULT_PARTITIONS_START = dt.date(2020, 1, 1)
DEFAULT_LOOKBACK_DAYS = 3
# A laptop-friendly ceiling for the embedded warehouse; DuckDB spills larger work to disk (docs/operations.md).
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"
MEMORY_LIMIT_PATTERN = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)

# Variables with these prefixes belong to other modules (publishing, Snowflake, checks), which validate them.
# KPIWATCH_DBT_* carry a run's dates from Dagster to dbt (orchestration/run_window.py).
OTHER_PREFIXES = ("KPIWATCH_PUSHGATEWAY", "KPIWATCH_SNOWFLAKE", "KPIWATCH_CHECKS", "KPIWATCH_STACK", "KPIWATCH_DBT")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one kpiwatch process."""

    duckdb_path: Path
    as_of: dt.date
    target: str
    dagster_home: Path
    partitions_start: dt.date = DEFAULT_PARTITIONS_START
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT


def parse_date(value: str, name: str) -> dt.date:
    """Parse YYYY-MM-DD, naming the setting that held a bad value."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a date; use the form YYYY-MM-DD, e.g. 2024-06-30.") from None


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read KPIWATCH_* variables; unknown ones are reported so typos are not silently ignored."""
    env = os.environ if env is None else env
    unknown = sorted(
        k for k in env if k.startswith("KPIWATCH_") and k not in KNOWN_VARIABLES and not k.startswith(OTHER_PREFIXES)
    )
    if unknown:
        warnings.warn(f"Ignoring unknown kpiwatch variables: {', '.join(unknown)}", stacklevel=2)

    duckdb_path = Path(env.get("KPIWATCH_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH).expanduser().resolve()
    as_of_raw = env.get("KPIWATCH_AS_OF")
    as_of = parse_date(as_of_raw, "KPIWATCH_AS_OF") if as_of_raw else today_utc()
    target_raw = (env.get("KPIWATCH_TARGET") or "dev").strip().lower()
    target = TARGET_ALIASES.get(target_raw, target_raw)
    if target not in TARGETS:
        raise ConfigError(f"KPIWATCH_TARGET={target_raw!r} is not a known target; use one of: duckdb (dev), snowflake.")
    dagster_home = Path(env.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser().resolve()
    start_raw = env.get("KPIWATCH_PARTITIONS_START")
    partitions_start = parse_date(start_raw, "KPIWATCH_PARTITIONS_START") if start_raw else DEFAULT_PARTITIONS_START
    lookback_days = parse_lookback(env.get("KPIWATCH_LOOKBACK_DAYS") or str(DEFAULT_LOOKBACK_DAYS))
    memory_limit = parse_memory_limit(env.get("KPIWATCH_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT)
    return Settings(duckdb_path=duckdb_path, as_of=as_of, target=target, dagster_home=dagster_home,
                    partitions_start=partitions_start, lookback_days=lookback_days,
                    duckdb_memory_limit=memory_limit)  # fmt: skip


def parse_memory_limit(value: str) -> str:
    """A size DuckDB understands, e.g. 3GB or 512MiB; checked here so a typo fails before any run starts."""
    text = value.strip()
    if not MEMORY_LIMIT_PATTERN.match(text):
        raise ConfigError(f"KPIWATCH_DUCKDB_MEMORY_LIMIT={value!r} is not a size; use e.g. 3GB, 512MB or 8GiB.")
    return text.replace(" ", "")


def parse_lookback(value: str) -> int:
    """Whole days, 0 to 366: a look-back longer than a year is a backfill, not a daily run."""
    try:
        days = int(value.strip())
    except ValueError:
        days = -1
    if not 0 <= days <= 366:
        raise ConfigError(f"KPIWATCH_LOOKBACK_DAYS={value!r} is not a number of days from 0 to 366.")
    return days

