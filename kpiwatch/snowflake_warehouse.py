"""Snowflake access for the SQL kpiwatch runs itself (contract and quality checks, mart reads for the push).

Settings come from kpiwatch.settings (the environment, parsed once). Connecting has an outer deadline,
because with the connector's defaults a connect to a wrong host can hang for many minutes
(snowflake-connector-python#1325); only transient errors are retried, never SQL errors. Column names come
back lower-case, as on DuckDB.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from kpiwatch.errors import KpiwatchError
from kpiwatch.settings import SnowflakeSettings


class SnowflakeWarehouse:
    """One short-lived connection per query, or per `session` block, like the DuckDB warehouse."""

    name = "snowflake"

    def __init__(self, settings: SnowflakeSettings):
        self.settings = settings
        self._session: Any = None

    def _connect_arguments(self) -> dict[str, Any]:
        s = self.settings
        arguments: dict[str, Any] = {
            "account": s.account,
            "user": s.user,
            "database": s.database,
            "schema": s.schema,
            "login_timeout": s.connect_deadline_seconds,
            "network_timeout": s.connect_deadline_seconds,
            "paramstyle": "qmark",
            "client_session_keep_alive": False,
        }
        if s.role:
            arguments["role"] = s.role
        if s.warehouse:
            arguments["warehouse"] = s.warehouse
        if s.private_key_path:
            arguments["private_key_file"] = s.private_key_path
            if s.private_key_passphrase:
                arguments["private_key_file_pwd"] = s.private_key_passphrase
        else:
            arguments["password"] = s.password
        return arguments

    def connect(self):
        """Connect within the deadline; retry network failures with backoff, never wrong credentials or SQL."""
        import snowflake.connector
        from snowflake.connector.errors import OperationalError

        last: Exception | None = None
        for attempt in range(1, self.settings.attempts + 1):
            try:
                return _with_deadline(
                    lambda: snowflake.connector.connect(**self._connect_arguments()),
                    self.settings.connect_deadline_seconds,
                )
            except TimeoutError as error:
                last = error
            except OperationalError as error:
                if getattr(error, "errno", None) in (250001, 390100, 390144):  # login refused: not transient
                    raise KpiwatchError(
                        f"Snowflake refused the login for {self.settings.user}@{self.settings.account}: {error.msg}"
                    ) from None
                last = error
            if attempt < self.settings.attempts:
                time.sleep(2 ** (attempt - 1))
        raise KpiwatchError(
            f"Could not connect to Snowflake account {self.settings.account} within "
            f"{self.settings.connect_deadline_seconds:g} s after {self.settings.attempts} attempt(s): {last}"
        )

    @contextmanager
    def session(self) -> Iterator[SnowflakeWarehouse]:
        """Serve every query of the block from one connection (a login costs far more than a query)."""
        if self._session is not None:
            yield self
            return
        self._session = self.connect()
        try:
            yield self
        finally:
            connection, self._session = self._session, None
            connection.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        connection = self._session or self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, list(params or []))
            names = [d[0].lower() for d in cursor.description] if cursor.description else []
            return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]
        finally:
            if connection is not self._session:
                connection.close()

    def sqlalchemy_engine(self) -> tuple[str, dict[str, Any]]:
        """URL and create_engine arguments for Great Expectations (snowflake-sqlalchemy); every part is
        escaped, and the URL is never logged (it holds the password)."""
        s = self.settings
        parts = [quote(value, safe="") for value in (s.user, s.password or "", s.account, s.database, s.schema)]
        url = "snowflake://{}:{}@{}/{}/{}".format(*parts)
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (("warehouse", s.warehouse), ("role", s.role)) if v)
        return url + (f"?{query}" if query else ""), {}


def _with_deadline(call, seconds: float):
    """Run a blocking call in a daemon thread; give up (TimeoutError) after `seconds`."""
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed back to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
