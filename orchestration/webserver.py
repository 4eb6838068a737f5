"""Run dagster-webserver on loopback for a test or a screenshot, and talk to its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kpiwatch.errors import KpiwatchError
from kpiwatch.paths import REPO_ROOT


class Webserver:
    """`with Webserver(port, env, log) as ui:` starts the UI on 127.0.0.1 and always stops it.

    With daemon=True it also runs dagster-daemon, which launches queued runs, schedules and sensors.
    """

    def __init__(self, port: int, env: Mapping[str, str], log_path: Path, daemon: bool = False):
        self.url = f"http://127.0.0.1:{port}"
        self.port, self.env, self.log_path, self.daemon = port, dict(env), log_path, daemon
        self.processes: list[subprocess.Popen] = []

    def _start(self, *command: str) -> subprocess.Popen:
        executable = Path(sys.executable).with_name(command[0])
        process = subprocess.Popen([str(executable), *command[1:]], cwd=REPO_ROOT, env=self.env, stdout=self.log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.processes.append(process)
        return process

    def __enter__(self) -> Webserver:
        workspace = str(REPO_ROOT / "workspace.yaml")
        self.log = open(self.log_path, "wb")
        self.process = self._start("dagster-webserver", "-w", workspace, "-h", "127.0.0.1", "-p", str(self.port))
        if self.daemon:
            self._start("dagster-daemon", "run", "-w", workspace)
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
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log.close()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise KpiwatchError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]
