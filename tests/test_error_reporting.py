"""Errors to Sentry: the real sentry-sdk sends a failed run, its failed error checks and an unexpected exception
to a local receiver standing in for Sentry's ingest (loopback, a free port), which records the envelopes; no
DSN, nothing sent; a malformed DSN is refused in one line without being echoed."""

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kpiwatch import cli
from kpiwatch.sample.faults import inject
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.monitoring_helpers import free_port, wait_until

KPIWATCH = str(Path(sys.executable).with_name("kpiwatch"))
AS_OF = "2024-03-31"
AS_OF_DATE = dt.date(2024, 3, 31)


class EnvelopeReceiver:
    """Sentry's envelope endpoint on loopback: records every event it is sent, as parsed JSON."""

    def __init__(self):
        self.events: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                lines = body.split(b"\n")
                for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                    if json.loads(header).get("type") == "event":
                        receiver.events.append(json.loads(payload))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/42"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = EnvelopeReceiver()
    yield r
    r.close()


@pytest.mark.slow
def test_a_failed_run_and_its_failed_error_check_reach_sentry_tagged(tmp_path, cli_env, receiver):
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF_DATE, users=200, days=40, seed=4), progress=False, log=lambda _: None)
    inject(db, ["duplicate_event_id"])
    closed = free_port()  # nobody listens: the push fails, and so does the run
    env = cli_env(
        db,
        tmp_path / "home",
        KPIWATCH_SENTRY_DSN=receiver.dsn,
        KPIWATCH_ENVIRONMENT="staging",
        KPIWATCH_PUSHGATEWAY_URL=f"http://127.0.0.1:{closed}",
        KPIWATCH_PUSHGATEWAY_ATTEMPTS="1",
    )
    done = subprocess.run([KPIWATCH, "run", "--as-of", AS_OF], env=env, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr[-3000:]
    run_id = done.stderr.split("kpiwatch run ", 1)[1].split(" ", 1)[0]
    wait_until(lambda: len(receiver.events) >= 2, 30, every=0.1, what="two events at the receiver")
    assert receiver.paths == ["/api/42/envelope/"] * len(receiver.paths)
    by_message = {
        e["message"] if isinstance(e.get("message"), str) else e["logentry"]["message"]: e for e in receiver.events
    }
    check = by_message["kpiwatch check failed: raw/events unique_event_id"]
    assert check["level"] == "error" and check["environment"] == "staging"
    assert check["release"].startswith("kpiwatch@")
    assert check["tags"] == {
        "run_id": run_id,
        "evaluation_date": AS_OF,
        "environment": "staging",
        "step": "raw_checks",
        "asset": "raw/events",
        "check": "unique_event_id",
    }
    failed = next(e for m, e in by_message.items() if m.startswith("kpiwatch run failed: "))
    assert failed["tags"]["run_id"] == run_id and failed["tags"]["evaluation_date"] == AS_OF
    assert failed["tags"]["step"] in failed["extra"]["detail"]
    assert "publickey" not in done.stdout + done.stderr  # the DSN's key is never printed


NO_DSN_RUN = """
import datetime as dt, sys, types
from kpiwatch.error_reporting import report_run
from kpiwatch.settings import load_settings
failed = types.SimpleNamespace(
    run_id="r1", success=False, failures=["kpiwatch_dbt_models: boom"],
    failed_checks=["raw/events unique_event_id (error): 6 of 100 rows"],
)
print(report_run(load_settings({}), failed, dt.date(2024, 3, 31)), "sentry_sdk" in sys.modules)
"""


def test_without_a_dsn_a_failed_run_sends_nothing_and_sentry_is_not_even_imported():
    """The same failed run and failed error check that reach Sentry with a DSN (the test above): without one,
    nothing is sent and the SDK never loads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    done = subprocess.run([sys.executable, "-c", NO_DSN_RUN], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["0", "False"], done.stderr


def test_an_unexpected_exception_is_sent_with_the_command_and_raised(monkeypatch, receiver):
    monkeypatch.setenv("KPIWATCH_SENTRY_DSN", receiver.dsn)
    monkeypatch.setenv("KPIWATCH_ENVIRONMENT", "prod")

    def broken(args):
        raise RuntimeError("a bug in the ledger command")

    monkeypatch.setattr(cli, "_ledger", broken)  # the parser binds the command when main builds it
    with pytest.raises(RuntimeError, match="a bug in the ledger command"):
        cli.main(["ledger", "mrr"])
    wait_until(lambda: receiver.events, 30, every=0.1, what="the exception at the receiver")
    [event] = receiver.events
    assert event["level"] == "error" and event["environment"] == "prod"
    assert event["tags"] == {"step": "ledger", "environment": "prod"}
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and exception["value"] == "a bug in the ledger command"


@pytest.mark.parametrize(
    "dsn",
    [
        "sentry.example",
        "ftp://key@127.0.0.1/1",
        "https://127.0.0.1/1",
        "https://key@127.0.0.1/project",
        "https://key@:80/1",
    ],
)
def test_a_malformed_dsn_is_refused_in_one_line_without_showing_it(dsn, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "KPIWATCH_SENTRY_DSN": dsn, "DAGSTER_HOME": str(tmp_path / "h")}
    env["KPIWATCH_DUCKDB_PATH"] = str(tmp_path / "w.duckdb")
    done = subprocess.run([KPIWATCH, "run", "--as-of", AS_OF], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("kpiwatch: KPIWATCH_SENTRY_DSN is not a Sentry DSN (not shown: it holds a key)")
    assert dsn not in done.stderr
