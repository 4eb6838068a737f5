"""A dbt process started ahead of time, so dbt's 2 s import overlaps with the checks that run before it.

`kpiwatch run` starts the worker early (`DbtWorker`): a fork of the run's process, made once that has
imported dagster-dbt (which brings most of dbt-core), imports the rest of dbt and the target's adapter,
parses the project, listens on a Unix socket in a private directory, and serves exactly one dbt command.
Forking shares the imports instead of paying for them twice (2 s of CPU on a 2-core machine).
dagster-dbt still starts "dbt" as a subprocess and reads its JSON log lines; the program it starts is
`kpiwatch-dbt` (`shim_main`), which hands its arguments, environment and directory to the waiting worker
and relays what dbt writes, then exits with dbt's exit code. Without a worker (the UI, the daemon, a
second dbt call) `kpiwatch-dbt` runs dbt in its own process, the same way.

The worker dies with the process that started it (Linux parent-death signal) and with the shim (a closed
socket), so a killed run never leaves dbt writing to the warehouse.

This module imports only the standard library at the top: `kpiwatch-dbt` starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from kpiwatch.bulk_imports import bulk_imports
from kpiwatch.dbt_support.log_levels import LevelFirst
from kpiwatch.dbt_support.node_results import NodeResultRecorder
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.processes import alive

SOCKET_VARIABLE = "KPIWATCH_DBT_WORKER_SOCKET"  # set only in the environment of the dbt child
# The run's process id, also set only for the dbt child: the shim's parent may already be gone (and the shim
# adopted by init) by the time the shim's interpreter has started and asks, so it is told, not asking.
PARENT_VARIABLE = "KPIWATCH_DBT_PARENT_PID"
CHILD_VARIABLES = (SOCKET_VARIABLE, PARENT_VARIABLE)
EXIT_MARKER = b"\x00kpiwatch-dbt-exit:"  # dbt's JSON log lines never hold a NUL byte
ADAPTERS = {"dev": "dbt.adapters.duckdb", "snowflake": "dbt.adapters.snowflake"}
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
WORKER_NAME = "kpiwatch-dbtwk"  # /proc/PID/comm of the worker (at most 15 characters)
DUCKDB_USAGE = "kpiwatch.dbt_support.duckdb_usage"  # the plugin profiles.yml names; writes its sums after a command
CONNECT_WAIT_SECONDS = 60  # the worker may still be importing dbt when the run reaches its dbt step
# What the run adds to the dbt child's environment, written into the invocation's own target directory, which
# dagster-dbt names to its child as DBT_TARGET_PATH: the run's own environment is never changed for it.
CHILD_ENVIRONMENT_FILE = "kpiwatch_dbt_env.json"


def write_child_environment(target: str | os.PathLike, variables: dict[str, str]) -> None:
    """Hand `variables` to the `kpiwatch-dbt` started with DBT_TARGET_PATH=target. Values this process's
    environment already holds are inherited as they are and not written (a password stays out of files)."""
    added = {k: v for k, v in variables.items() if os.environ.get(k) != v}
    path = os.path.join(target, CHILD_ENVIRONMENT_FILE)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(added, file)


def _take_child_environment() -> None:
    """Lay the run's variables for this dbt child over the inherited environment (none outside a run)."""
    target = os.environ.get("DBT_TARGET_PATH")
    if not target:
        return
    try:
        with open(os.path.join(target, CHILD_ENVIRONMENT_FILE)) as file:
            os.environ.update(json.load(file))
    except FileNotFoundError:
        return


def _connect(value: str) -> socket.socket | None:
    """Connect to the worker named by "PID:PATH", waiting while it still imports dbt; None if it is gone."""
    pid, _, address = value.partition(":")
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    while time.monotonic() < deadline:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(address)
            return connection
        except OSError:
            connection.close()
        if not (pid.isdigit() and alive(int(pid))):
            return None
        time.sleep(0.02)
    return None


def shim_main() -> None:
    """`kpiwatch-dbt ARGS`: run ARGS on the waiting worker, or be the real dbt when there is none. Either
    way it dies with the run's process (and the worker with it), so a killed run leaves no dbt writing."""
    _take_child_environment()
    parent = os.environ.get(PARENT_VARIABLE, "")
    _die_with_parent(int(parent) if parent.isdigit() else os.getppid())
    value = os.environ.get(SOCKET_VARIABLE)
    connection = _connect(value) if value else None
    if connection is None:
        sys.exit(run_dbt(sys.argv[1:]))
    environment = {k: v for k, v in os.environ.items() if k not in CHILD_VARIABLES}
    request = {"argv": sys.argv[1:], "env": environment, "cwd": os.getcwd()}
    connection.sendall(json.dumps(request).encode() + b"\n")
    sys.exit(relay(connection, sys.stdout.buffer))


def relay(connection: socket.socket, out) -> int:
    """Copy the worker's output to `out` until the worker has exited (end of stream, so its warehouse
    connections are closed too); its exit code, or 1 if it vanished without one."""
    pending, code = b"", 1
    while chunk := connection.recv(65536):
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(EXIT_MARKER):
                code = int(line[len(EXIT_MARKER) :])
            else:
                out.write(line + b"\n")
        out.flush()
    out.write(pending)
    out.flush()
    return code


def _name_process(name: str) -> None:
    """Name this process in ps and /proc/PID/comm: a fork keeps its parent's command line."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except OSError:
        pass


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` dies (Linux); if it is already gone, exit now."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() != parent:
        os._exit(1)


def _exit_when_closed(connection: socket.socket) -> None:
    """The shim sends nothing after its request: end of stream means it is gone, and so is the run."""
    try:
        connection.recv(1)
    finally:
        os._exit(143)


def parse_inputs(env: dict[str, str], argv: list[str]) -> tuple:
    """What a parsed manifest depends on besides the project's files: the variables env_var() reads
    (all KPIWATCH_*) and the target."""
    variables = sorted((k, v) for k, v in env.items() if k.startswith("KPIWATCH_") and k not in CHILD_VARIABLES)
    target = argv[argv.index("--target") + 1] if "--target" in argv[:-1] else None
    return tuple(variables), target


def _parse_ahead(dbt_runner, plan: dict):
    """`dbt parse` with the environment the build will have; its manifest, or None when parsing failed
    (the build then parses for itself and reports the problem)."""
    os.environ.clear()
    os.environ.update(plan["env"])
    os.chdir(plan["cwd"])
    try:
        result = dbt_runner().invoke(plan["argv"])
    except BaseException:
        return None
    return result.result if result.success else None


def serve(address: str, target: str, parent: int, plan: dict | None) -> None:
    """The worker: import dbt and the adapter, parse ahead if there is a plan, then run the one command a
    shim sends (with the parsed manifest when its inputs are the same)."""
    _die_with_parent(parent)
    _name_process(WORKER_NAME)
    with bulk_imports():
        from dbt.cli.main import dbtRunner

        __import__(ADAPTERS.get(target, ADAPTERS["dev"]))
    manifest = _parse_ahead(dbtRunner, plan) if plan else None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)
    connection, _ = listener.accept()
    listener.close()
    os.unlink(address)
    request = json.loads(connection.makefile("rb").readline())
    threading.Thread(target=_exit_when_closed, args=(connection,), daemon=True).start()
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(connection.fileno(), 1)
    os.dup2(connection.fileno(), 2)
    # New streams on descriptors 1 and 2: the inherited sys.stdout may write elsewhere (pytest's capture, a
    # notebook's stream), and dbt's log lines must reach the shim. Line-buffered: each reaches Dagster as dbt
    # writes it.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)
    reuse = manifest is not None and parse_inputs(plan["env"], plan["argv"]) == parse_inputs(
        request["env"], request["argv"]
    )
    code = run_dbt(request["argv"], manifest if reuse else None)
    _close_warehouse(target)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, b"\n" + EXIT_MARKER + str(code).encode() + b"\n")
    os._exit(0)  # the shim returns once this process is gone


def run_dbt(argv: list[str], manifest=None) -> int:
    """dbt's command line, run in this process (as the `dbt` program would) with a callback keeping each node's
    adapter response (kpiwatch/dbt_support/node_results.py); dbt's exit code: 0 success, 1 a node failed, 2 an error."""
    from dbt.cli.main import dbtRunner

    recorder = NodeResultRecorder()
    if usage := sys.modules.get(DUCKDB_USAGE):
        usage.start_command()
    try:
        result = dbtRunner(manifest=manifest, callbacks=[LevelFirst(), recorder]).invoke(argv)
        code = 0 if result.success else (2 if result.exception is not None else 1)
    except BaseException:  # reported by dbt's own logging; the exit code tells the caller
        code = 2
    recorder.write()
    if usage := sys.modules.get(DUCKDB_USAGE):  # the DuckDB profile's plugin, loaded by dbt-duckdb
        usage.write_usage()
    return code


def _close_warehouse(target: str) -> None:
    """dbt-duckdb keeps its database open for the process's life; close (and checkpoint) it now."""
    if target != "dev":
        return
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


class DbtWorker:
    """`with DbtWorker(target) as worker:` a dbt worker warming up from now on; pass `worker.env()` to the
    dbt child's environment and run `kpiwatch-dbt` instead of `dbt`. Leaving the block ends it.

    The worker is a fork of this process: start it while this process has no other thread, after the
    imports it should share (dagster-dbt's import of dbt-core)."""

    def __init__(self, target: str, parse_env: dict[str, str] | None = None, parse_argv: list[str] | None = None):
        """With parse_env and parse_argv (`parse ...`), the worker also parses the project while it waits."""
        self._directory = tempfile.mkdtemp(prefix="kpiwatch-dbt-")
        self.address = os.path.join(self._directory, "worker.sock")
        plan = None
        if parse_env is not None and parse_argv is not None:
            plan = {"env": parse_env, "argv": parse_argv, "cwd": str(DBT_PROJECT_DIR)}
        parent = os.getpid()
        sys.stdout.flush()  # nothing buffered here may be written twice
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                serve(self.address, target, parent, plan)
            finally:
                os._exit(1)

    def env(self) -> dict[str, str]:
        return {SOCKET_VARIABLE: f"{self.pid}:{self.address}"}

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> DbtWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def shim_executable() -> str:
    """The `kpiwatch-dbt` console script installed beside this Python."""
    return beside_interpreter("kpiwatch-dbt")
