"""Short-lived warehouse connections for the little SQL Python runs itself.

DuckDB allows one writing process per file and dbt writes during a run, so a connection is
opened per query, or per step's batch of queries (`session`), and closed at once, never held
across steps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb

from kpiwatch.contract import RAW_SCHEMA, observed_columns, raise_for_contract
from kpiwatch.errors import ConfigError, KpiwatchError, RunError
from kpiwatch.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings
from kpiwatch.snowflake_warehouse import SnowflakeWarehouse

MARTS_SCHEMA = "marts"


class Warehouse(Protocol):
    """What kpiwatch needs from a warehouse: run a query, get rows as dicts."""

    name: str

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]: ...

    def session(self) -> contextlib.AbstractContextManager[Any]: ...

    def sqlalchemy_engine(self) -> tuple[str, dict[str, Any]]: ...


class DuckDBWarehouse:
    """A DuckDB file; every call opens and closes its own connection.

    memory_limit caps the DuckDB engine inside this process (checks run here on whole tables)."""

    name = "duckdb"

    def __init__(self, path: Path, read_only: bool = True, memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT):
        self.path = Path(path)
        self.read_only = read_only
        self.memory_limit = memory_limit
        self._session: duckdb.DuckDBPyConnection | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Sent to another process (the GX suite worker) without this process's open session."""
        return {**self.__dict__, "_session": None}

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.read_only and not self.path.exists():
            raise KpiwatchError(
                f"DuckDB file {self.path} does not exist. Create sample data with "
                f"`kpiwatch generate --out {self.path}` or point KPIWATCH_DUCKDB_PATH at your warehouse file."
            )
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only, config={"memory_limit": self.memory_limit})
        except duckdb.Error as error:
            problem = duckdb_open_problem(self.path, error)
            raise (RunError if LOCK_HOLDER.search(str(error)) else ConfigError)(problem) from None
        try:
            yield con
        finally:
            con.close()

    def sqlalchemy_engine(self) -> tuple[str, dict[str, Any]]:
        """URL and create_engine arguments for Great Expectations; read-only, so checks can never change the
        data they check. The path and settings travel as connection arguments, never pasted into the URL,
        where a `?` or `#` in a file name would start a query string or a fragment."""
        arguments = {"database": str(self.path), "read_only": True, "config": {"memory_limit": self.memory_limit}}
        return "duckdb://", {"connect_args": arguments}

    @contextmanager
    def session(self) -> Iterator[DuckDBWarehouse]:
        """Serve every query of the block from one connection: opening the file costs about 15 ms, a
        cursor on an open connection 0.3 ms, and a step asks dozens of queries. Closed with the block,
        before dbt writes."""
        if self._session is not None:
            yield self
            return
        with self.connect() as con:
            self._session = con
            try:
                yield self
            finally:
                self._session = None

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        if self._session is not None:
            # A cursor per query: checks may query from two threads at once, and a cursor is its own
            # connection to the same open database.
            with self._session.cursor() as cursor:
                return _rows(cursor.execute(sql, params or []))
        with self.connect() as con:
            return _rows(con.execute(sql, params or []))


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description] if cursor.description else []
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def duckdb_open_problem(path: Path, error: Exception) -> str:
    """One sentence for why DuckDB could not open `path`, and what to do."""
    text = str(error)
    holder = LOCK_HOLDER.search(text)
    if holder:
        return (
            f"DuckDB file {path} is in use by another process ({holder.group(1)}, PID {holder.group(2)}): "
            "wait for it to finish (another kpiwatch run, a notebook, the DuckDB CLI) or stop it, then run again."
        )
    if path.is_dir():
        return f"KPIWATCH_DUCKDB_PATH={str(path)!r} is a directory; point it at a DuckDB database file."
    if "not a valid DuckDB database file" in text:
        return f"KPIWATCH_DUCKDB_PATH={str(path)!r} is not a DuckDB database file; point it at your warehouse file."
    return f"DuckDB could not open {path}: {' '.join(text.split())}"


def open_warehouse(settings: Settings) -> Warehouse:
    """The configured warehouse: the DuckDB file, or the Snowflake account (connections open per query)."""
    if settings.target == "snowflake" and settings.snowflake is not None:
        return SnowflakeWarehouse(settings.snowflake)
    return DuckDBWarehouse(settings.duckdb_path, memory_limit=settings.duckdb_memory_limit)


def raw_columns(warehouse: Warehouse) -> dict[str, dict[str, str]]:
    """The columns of every table in schema raw, as {table: {column: type}}."""
    rows = warehouse.query(
        "select table_name, column_name, data_type from information_schema.columns "
        "where lower(table_schema) = ? order by table_name, ordinal_position",
        [RAW_SCHEMA],
    )
    return observed_columns(rows)


def as_date(value: Any) -> dt.date:
    """A date read back from the warehouse: engines return DATE columns as a date or a midnight datetime."""
    return value.date() if isinstance(value, dt.datetime) else value


def ensure_raw_contract(warehouse: Warehouse, skip: Collection[str] = ()) -> None:
    """Fail with every contract problem named before dbt meets them as cryptic SQL errors; tables in `skip`
    (withheld from the run's models) are not read by dbt, so their problems are the checks' to report."""
    raise_for_contract(raw_columns(warehouse), skip)


def relation_exists(warehouse: Warehouse, schema: str, name: str) -> bool:
    """Whether a table or view exists (names compared case-insensitively, as both engines fold them)."""
    rows = warehouse.query(
        "select count(*) as n from information_schema.tables where lower(table_schema) = ? and lower(table_name) = ?",
        [schema.lower(), name.lower()],
    )
    return bool(rows[0]["n"])
