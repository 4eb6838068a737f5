"""Real monitoring servers for tests: free loopback ports, temp dirs, a webhook receiver, always stopped."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from kpiwatch.stack import Stack, StackSettings

FAST_ALERTS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """Alertmanager's webhook target: records every notification it is sent."""

    def __init__(self):
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/kpiwatch/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        return [a for n in self.received for a in n["alerts"] if status is None or a["status"] == status]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stack_settings(directory: Path, webhook_url: str | None = None) -> StackSettings:
    return StackSettings(
        data_dir=directory,
        prometheus_port=free_port(),
        pushgateway_port=free_port(),
        alertmanager_port=free_port(),
        scrape_interval="1s",
        evaluation_interval="1s",
        webhook_url=webhook_url,
        alert_timing=FAST_ALERTS,
        persistence_interval="1s",
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 60, every: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def prom_query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    url = f"{stack.settings.url('prometheus')}/api/v1/query?query={urllib.parse.quote(expr)}"
    return get_json(url)["data"]["result"]


def utc_timestamp(text: str) -> float:
    """Seconds of an RFC 3339 UTC time as Prometheus writes it (nanoseconds, Z)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC).timestamp() + float(f"0.{fraction or 0}")


def rules_evaluated_after(stack: Stack, epoch_seconds: float, group: str | None = None) -> bool:
    """Whether Prometheus evaluated every rule group (or the one named) after `epoch_seconds`."""
    groups = get_json(f"{stack.settings.url('prometheus')}/api/v1/rules")["data"]["groups"]
    chosen = [g for g in groups if group is None or g["name"] == group]
    return bool(chosen) and all(utc_timestamp(g["lastEvaluation"]) > epoch_seconds for g in chosen)


def firing_alerts(stack: Stack) -> list[dict[str, Any]]:
    """Alerts Alertmanager currently holds (active, inhibited or silenced)."""
    return get_json(f"{stack.settings.url('alertmanager')}/api/v2/alerts")


@contextlib.contextmanager
def started_stack(directory: Path):
    """A full stack with its own webhook receiver, always stopped."""
    hook = WebhookReceiver()
    stack = Stack(stack_settings(directory / "stack", hook.url))
    try:
        stack.up()
        yield stack, hook
    finally:
        stack.down()
        hook.close()
