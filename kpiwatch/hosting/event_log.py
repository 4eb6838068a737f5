"""Dagster's SQLite event log with one engine per database file, for the local instance.

The stock SqliteEventLogStorage builds a SQLAlchemy engine and opens a new SQLite connection for
every statement: about 1,650 of them in one `kpiwatch run` (385 events), 2 of the 3 seconds the
run spends storing events. This subclass keeps an engine (and its small connection pool) per
database file: the run's own file and the cross-run index. Files, schema and locking are Dagster's;
only the connection handling differs. Selected by the dagster.yaml that `kpiwatch` writes
(kpiwatch/hosting/instance.py).

Two more costs of the stock storage, 1.3 s of a small run's 513 events: every commit waited for
the disk (SQLite's default synchronous=FULL), and every asset check event asked whether the check
table exists through a new engine and connection. Dagster's files are in WAL mode, where
synchronous=NORMAL keeps the database consistent through any crash and a process that is killed loses
nothing; only the last events before a power loss or kernel crash may be rolled back (SQLite's own
advice for WAL). Tables found once are remembered until the storage is wiped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

# The webserver reads many runs; keep the engines of the most recent few files open, not all of them.
OPEN_FILES = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage that reuses one engine per run file instead of one per statement."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before super(): it connects
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # ty: ignore[invalid-method-override]
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, created on first use; called with _db_lock held."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            # Statements are serialised by _db_lock, so a pooled connection may serve any thread.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _commit_without_waiting_for_the_disk)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_FILES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def has_table(self, table_name: str) -> bool:
        """Whether the index has the table; the stock lookup (a new engine per call, no lock: callers may hold
        one) runs until the table is found."""
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def wipe(self) -> None:
        self._close_engines()  # wipe deletes the run files
        self._tables_found.clear()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def _commit_without_waiting_for_the_disk(dbapi_connection, _record) -> None:
    """synchronous=NORMAL on every connection (see the module's docstring)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
