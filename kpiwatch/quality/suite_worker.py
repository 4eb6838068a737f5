"""Run Great Expectations suites in a process started ahead of time, so GX's import overlaps with the rest
of a run's start-up.

Importing GX costs about 2 s (it loads every core expectation; kpiwatch/quality/gx_import.py), about as long as
importing Dagster and building the definitions. `kpiwatch run` starts a `SuiteWorker` before anything
else: a second interpreter imports GX on the second core while the first starts Dagster, and the raw
checks then hand their suites to it. Runs launched elsewhere (the UI, the daemon, tests) validate in
their own process (`InProcessSuites`). Both give the same outcomes: both run the same `SuiteRequest.run`.

The worker is a new interpreter (never a fork of a process that may hold threads and connections)
talking over a socket pair; when the parent dies, the pipe closes and the worker exits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any, Protocol

from kpiwatch.bulk_imports import bulk_imports
from kpiwatch.quality.config import CheckSettings
from kpiwatch.quality.gx_import import import_great_expectations
from kpiwatch.quality.outcome import SUITE_SECONDS, CheckOutcome
from kpiwatch.warehouse import Warehouse


@dataclass(frozen=True)
class SuiteRequest:
    """One table's suite to validate: gx_runner.run_suite's arguments, picklable for the worker."""

    warehouse: Warehouse
    table: str
    checks: list[CheckSettings]
    parameters: Mapping[str, Any]
    row_count: int
    query: str = ""

    def run(self) -> list[CheckOutcome]:
        from kpiwatch.quality.gx_runner import run_suite  # GX's import is paid by the first suite only

        started = time.perf_counter()
        outcomes = run_suite(self.warehouse, self.table, self.checks, self.parameters, self.row_count, self.query)
        seconds = time.perf_counter() - started  # one validation of all the table's expectations
        return [replace(o, metadata={**o.metadata, SUITE_SECONDS: seconds}) for o in outcomes]


class SuiteValidator(Protocol):
    """What the raw checks are given to validate a suite: the in-process default, or a SuiteWorker."""

    # True when suites validate in another process, so that the checks may go on while one validates
    # (DuckDB refuses a second, differently configured connection to a file from the same process).
    concurrent: bool

    def validate(self, request: SuiteRequest) -> list[CheckOutcome]: ...


class InProcessSuites:
    """The default: suites validate in the process that runs the check."""

    concurrent = False

    def validate(self, request: SuiteRequest) -> list[CheckOutcome]:
        before = dict(os.environ)
        try:
            return request.run()
        finally:
            # GX's SQL engine sets SF_PARTNER for the rest of the process; a run leaves no such trace.
            for name in os.environ.keys() - before.keys():
                del os.environ[name]
            os.environ.update({k: v for k, v in before.items() if os.environ.get(k) != v})


def serve(connection: Connection) -> None:
    """The worker: import GX at once, then validate each request until the pipe closes."""
    with bulk_imports():
        import_great_expectations()
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", request.run()))
        except Exception as error:  # handed back and raised in the caller, with its message
            connection.send(("error", error))


class SuiteWorker:
    """`with SuiteWorker() as worker:` one worker interpreter, warming up from the moment it is created;
    `worker.validate(request)` runs a SuiteRequest there. Leaving the block stops the worker."""

    concurrent = True

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(child_end.fileno())],
            pass_fds=[child_end.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # Failures come back through the pipe; library chatter at the worker's exit stays out of the terminal.
            stderr=subprocess.DEVNULL,
        )
        child_end.close()
        self._connection = Connection(parent_end.detach())

    def validate(self, request: SuiteRequest) -> list[CheckOutcome]:
        self._connection.send(request)
        try:
            status, value = self._connection.recv()
        except EOFError:
            raise RuntimeError(f"the GX suite worker stopped (exit code {self._process.poll()})") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """Idle and holding no connection once the checks are done: stopped at once (GX's own teardown
        takes most of a second) and reaped, so no zombie is left behind."""
        self._connection.close()
        self._process.kill()
        self._process.wait()

    def __enter__(self) -> SuiteWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
