"""The local monitoring stack: Debian's prometheus, prometheus-pushgateway and prometheus-alertmanager
run on 127.0.0.1 with the project's configuration (monitoring/), data under one folder.

`kpiwatch stack up|down|status` and the end-to-end tests both use this module; the tests pick free ports,
1-second intervals and their own webhook receiver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kpiwatch.errors import KpiwatchError
from kpiwatch.paths import DATA_DIR, MONITORING_DIR

APT_INSTALL = "sudo apt-get install -y prometheus prometheus-pushgateway prometheus-alertmanager"
BINARIES = {
    "prometheus": "prometheus",
    "pushgateway": "prometheus-pushgateway",
    "alertmanager": "prometheus-alertmanager",
}
HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackSettings:
    data_dir: Path = DATA_DIR / "stack"
    prometheus_port: int = 9090
    pushgateway_port: int = 9091
    alertmanager_port: int = 9093
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    webhook_url: str | None = None  # replaces every receiver's URL (tests run their own receiver)
    alert_timing: dict[str, str] = field(default_factory=dict)  # group_wait, group_interval, repeat_interval
    persistence_interval: str = "5s"

    def url(self, service: str) -> str:
        port = {
            "prometheus": self.prometheus_port,
            "pushgateway": self.pushgateway_port,
            "alertmanager": self.alertmanager_port,
        }[service]
        return f"http://{HOST}:{port}"


def where_to_look(settings: StackSettings) -> list[tuple[str, str]]:
    """Pages that exist on Debian's builds: Prometheus serves its classic UI, Alertmanager has no web UI
    (its API answers, and `kpiwatch alerts` reads it)."""
    prometheus, alertmanager = settings.url("prometheus"), settings.url("alertmanager")
    every_series = urllib.parse.quote('{job="kpiwatch"}')
    return [
        ("Gauges in Prometheus", f"{prometheus}/classic/graph?g0.expr=kpiwatch_mrr_usd&g0.tab=1"),
        ("Every kpiwatch series", f"{prometheus}/classic/graph?g0.expr={every_series}&g0.tab=1"),
        ("Alert rules and states", f"{prometheus}/classic/alerts"),
        ("Active alerts (JSON)", f"{alertmanager}/api/v2/alerts"),
        ("Pushgateway", f"{settings.url('pushgateway')}/"),
    ]


def active_alerts(alertmanager_url: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds now (its v2 API), newest first; KpiwatchError when it does not answer."""
    url = f"{alertmanager_url.rstrip('/')}/api/v2/alerts?active=true&silenced=false&inhibited=false"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            alerts = json.loads(response.read())
    except (OSError, ValueError) as error:
        raise KpiwatchError(
            f"Alertmanager at {alertmanager_url} did not answer ({getattr(error, 'reason', error)}); "
            "start the local stack with `kpiwatch stack up` or pass --url."
        ) from None
    return sorted(alerts, key=lambda a: a.get("startsAt", ""), reverse=True)


def binary(service: str) -> str:
    path = shutil.which(BINARIES[service])
    if not path:
        raise KpiwatchError(f"{BINARIES[service]} is not installed. Install the monitoring stack with: {APT_INSTALL}")
    return path


def render_configs(settings: StackSettings) -> tuple[Path, Path]:
    """Write prometheus.yml and alertmanager.yml for this stack from the files in monitoring/."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prometheus = yaml.safe_load((MONITORING_DIR / "prometheus" / "prometheus.yml").read_text())
    prometheus["global"].update(
        scrape_interval=settings.scrape_interval, evaluation_interval=settings.evaluation_interval
    )
    prometheus["rule_files"] = [str(MONITORING_DIR / "prometheus" / "rules" / "*.yml")]
    prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"{HOST}:{settings.alertmanager_port}"
    ]
    for job in prometheus["scrape_configs"]:
        if job["job_name"] == "pushgateway":
            job["static_configs"][0]["targets"] = [f"{HOST}:{settings.pushgateway_port}"]
    alertmanager = yaml.safe_load((MONITORING_DIR / "alertmanager" / "alertmanager.yml").read_text())
    alertmanager["route"].update(settings.alert_timing)
    if settings.webhook_url:
        for receiver in alertmanager["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = settings.webhook_url
    prometheus_file = settings.data_dir / "prometheus.yml"
    alertmanager_file = settings.data_dir / "alertmanager.yml"
    prometheus_file.write_text(yaml.safe_dump(prometheus, sort_keys=False))
    alertmanager_file.write_text(yaml.safe_dump(alertmanager, sort_keys=False))
    return prometheus_file, alertmanager_file


def commands(settings: StackSettings) -> dict[str, list[str]]:
    prometheus_file, alertmanager_file = render_configs(settings)
    d = settings.data_dir
    return {
        "pushgateway": [
            binary("pushgateway"),
            f"--web.listen-address={HOST}:{settings.pushgateway_port}",
            f"--persistence.file={d / 'pushgateway.data'}",
            f"--persistence.interval={settings.persistence_interval}",
        ],
        "alertmanager": [
            binary("alertmanager"),
            f"--config.file={alertmanager_file}",
            f"--storage.path={d / 'alertmanager'}",
            f"--web.listen-address={HOST}:{settings.alertmanager_port}",
            f"--web.external-url={settings.url('alertmanager')}",
            "--cluster.listen-address=",
        ],
        "prometheus": [
            binary("prometheus"),
            f"--config.file={prometheus_file}",
            f"--storage.tsdb.path={d / 'prometheus'}",
            f"--web.listen-address={HOST}:{settings.prometheus_port}",
            f"--web.external-url={settings.url('prometheus')}",
        ],
    }


def is_ready(url: str) -> bool:
    for path in ("/-/ready", "/-/healthy"):
        try:
            with urllib.request.urlopen(url + path, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            continue
    return False


def _is_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] == "Z"


class Stack:
    """Start, check and stop the three servers; pid files make `up` and `down` work across processes."""

    def __init__(self, settings: StackSettings | None = None):
        self.settings = settings or StackSettings()
        self.processes: dict[str, subprocess.Popen] = {}  # children of this process, reaped on poll

    def pid_file(self, service: str) -> Path:
        return self.settings.data_dir / f"{service}.pid"

    def running_pid(self, service: str) -> int | None:
        if service in self.processes and self.processes[service].poll() is not None:
            return None
        try:
            pid = int(self.pid_file(service).read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return None if _is_zombie(pid) else pid

    def start(self, service: str, command: list[str]) -> None:
        if self.running_pid(service):
            return
        log = open(self.settings.data_dir / f"{service}.log", "ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.processes[service] = process
        self.pid_file(service).write_text(str(process.pid))

    def up(
        self, services: tuple[str, ...] = ("pushgateway", "alertmanager", "prometheus"), timeout: float = 60
    ) -> None:
        all_commands = commands(self.settings)
        for service in services:
            self.start(service, all_commands[service])
        deadline = time.monotonic() + timeout
        for service in services:
            while not is_ready(self.settings.url(service)):
                if not self.running_pid(service):
                    log = (self.settings.data_dir / f"{service}.log").read_text(errors="replace")[-2000:]
                    raise KpiwatchError(f"{BINARIES[service]} exited during start-up. Its log ends with:\n{log}")
                if time.monotonic() > deadline:
                    raise KpiwatchError(f"{BINARIES[service]} did not become ready at {self.settings.url(service)}.")
                time.sleep(0.2)

    def down(
        self, services: tuple[str, ...] = ("prometheus", "alertmanager", "pushgateway"), timeout: float = 20
    ) -> None:
        for service in services:
            pid = self.running_pid(service)
            if pid:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + timeout
                while self.running_pid(service) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if self.running_pid(service):
                    os.kill(pid, signal.SIGKILL)
            self.pid_file(service).unlink(missing_ok=True)

    def status(self) -> dict[str, str]:
        report = {}
        for service in BINARIES:
            pid = self.running_pid(service)
            state = "ready" if pid and is_ready(self.settings.url(service)) else ("starting" if pid else "stopped")
            report[service] = f"{state:8} {self.settings.url(service)}" + (f" (pid {pid})" if pid else "")
        return report
