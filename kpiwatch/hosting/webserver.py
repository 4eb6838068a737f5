"""The Dagster UI: `kpiwatch ui` (dagster dev, stopped with its whole process tree), and a webserver on
loopback for tests and screenshots, with a small GraphQL client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kpiwatch.errors import KpiwatchError
from kpiwatch.executables import beside_interpreter
from kpiwatch.hosting.instance import initialize_instance
from kpiwatch.paths import CODE_LOCATION_ARGS, WORK_DIR
from kpiwatch.processes import alive

STOP_SECONDS = 20  # what a process tree gets to stop on SIGTERM before SIGKILL


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def stop_tree(process: subprocess.Popen, timeout: float = STOP_SECONDS) -> None:
    """SIGTERM the process and everything it started (found before signalling, so orphans are not
    missed), wait, then SIGKILL whatever is left."""
    tree = [process.pid, *descendants(process.pid)]
    for pid in tree:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process.poll() is None or any(alive(p) for p in tree[1:])):
        time.sleep(0.1)
    for pid in tree:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    process.wait()


def serve_ui(dagster_home: Path, host: str, port: int) -> int:
    """`dagster dev` on the kpiwatch instance until it exits or this process gets SIGTERM/SIGINT/SIGHUP;
    then its whole tree (webserver, daemon, code servers) is stopped."""
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}  # the child's environment, not ours
    command = [beside_interpreter("dagster"), "dev", *CODE_LOCATION_ARGS, "-h", host, "-p", str(port)]
    process = subprocess.Popen(command, cwd=WORK_DIR, env=env, start_new_session=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop_tree(process)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:
            stop_tree(process)


class Webserver:
    """`with Webserver(port, env, log) as ui:` starts the UI on 127.0.0.1 and always stops it.

    With daemon=True it also runs dagster-daemon, which launches queued runs, schedules and sensors.
    """

    def __init__(self, port: int, env: Mapping[str, str], log_path: Path, daemon: bool = False):
        self.url = f"http://127.0.0.1:{port}"
        self.port, self.env, self.log_path, self.daemon = port, dict(env), log_path, daemon
        self.processes: list[subprocess.Popen] = []

    def _start(self, tool: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [beside_interpreter(tool), *args],
            cwd=WORK_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> Webserver:
        if "DAGSTER_HOME" in self.env:
            initialize_instance(Path(self.env["DAGSTER_HOME"]))
        self.log = open(self.log_path, "wb")
        self.process = self._start("dagster-webserver", *CODE_LOCATION_ARGS, "-h", "127.0.0.1", "-p", str(self.port))
        if self.daemon:
            self._start("dagster-daemon", "run", *CODE_LOCATION_ARGS)
        deadline = time.monotonic() + 180
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise KpiwatchError(f"dagster-webserver did not start; see {self.log_path}")
            time.sleep(0.5)
        return self

    def _ready(self) -> bool:
        try:
            return "repositoriesOrError" in json.dumps(self.graphql("{ repositoriesOrError { __typename } }"))
        except OSError:
            return False

    def __exit__(self, *exc_info) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop_tree(process)
        self.log.close()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)


def graphql(url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise KpiwatchError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]
