"""The push: a fresh registry, exact PUT paths and bodies, retries on 5xx and connection errors only."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kpiwatch.dbt_support.profile import dbt_environment
from kpiwatch.errors import ConfigError
from kpiwatch.settings import PushTarget, load_settings, push_target_from_env
from metrics.push import JOB, PushError, build_registry, push
from metrics.samples import Sample


class Recorder(BaseHTTPRequestHandler):
    """Records requests; answers with the next status in the server's script."""

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"gateway says no" if status >= 400 else b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    server.requests, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def target_for(server, **overrides):
    settings = {
        "url": f"http://127.0.0.1:{server.server_port}",
        "environment": "prod",
        "attempts": 3,
        "backoff_seconds": 0.01,
        **overrides,
    }
    return PushTarget(**settings)


SAMPLES = [Sample("kpiwatch_mrr_usd", {}, 1234.5), Sample("kpiwatch_cac_usd", {"channel": "paid/search"}, 200.0)]


def test_push_puts_the_group_with_the_exact_body(gateway):
    push(target_for(gateway), JOB, SAMPLES)
    method, path, headers, body = gateway.requests[0]
    assert (method, path) == ("PUT", "/metrics/job/kpiwatch/environment/prod")
    assert "# HELP kpiwatch_mrr_usd MRR at the end of the evaluation date. Unit: USD." in body
    assert "# TYPE kpiwatch_mrr_usd gauge" in body
    assert "kpiwatch_mrr_usd 1234.5" in body
    assert 'kpiwatch_cac_usd{channel="paid/search"} 200.0' in body


def test_a_grouping_value_with_a_slash_is_base64_encoded(gateway):
    push(target_for(gateway, environment="prod/eu"), JOB, SAMPLES)
    assert gateway.requests[0][1] == "/metrics/job/kpiwatch/environment@base64/cHJvZC9ldQ=="


def test_basic_auth_header_is_sent(gateway):
    push(target_for(gateway, username="kpi", password="s3cret"), JOB, SAMPLES)
    assert gateway.requests[0][2]["Authorization"] == "Basic a3BpOnMzY3JldA=="


def test_server_errors_are_retried_then_succeed(gateway):
    gateway.statuses = [503, 500]
    push(target_for(gateway), JOB, SAMPLES)
    assert len(gateway.requests) == 3


def test_client_errors_fail_at_once_with_the_gateway_answer(gateway):
    gateway.statuses = [400]
    with pytest.raises(PushError) as error:
        push(target_for(gateway), JOB, SAMPLES)
    assert len(gateway.requests) == 1
    assert "after 1 attempt(s): HTTP 400 Bad Request: gateway says no" in str(error.value)


def test_unreachable_gateway_fails_after_every_attempt_with_backoff():
    waits = []
    target = PushTarget(url="http://127.0.0.1:9", environment="prod", attempts=3, backoff_seconds=0.5)
    with pytest.raises(PushError) as error:
        push(target, JOB, SAMPLES, sleep=waits.append)
    assert waits == [0.5, 1.0]
    assert str(error.value).startswith(
        "Pushgateway at http://127.0.0.1:9 did not accept the push of job 'kpiwatch' "
        "after 3 attempt(s): cannot connect:"
    )


def test_each_push_uses_its_own_registry():
    first, second = build_registry(SAMPLES), build_registry(SAMPLES[:1])
    assert first is not second
    assert second.get_sample_value("kpiwatch_cac_usd", {"channel": "paid/search"}) is None
    assert first.get_sample_value("kpiwatch_cac_usd", {"channel": "paid/search"}) == 200.0


def test_configuration_comes_from_the_environment_without_leaking_the_password():
    target = push_target_from_env(
        {
            "KPIWATCH_PUSHGATEWAY_URL": "https://gw:9091/",
            "KPIWATCH_ENVIRONMENT": "prod",
            "KPIWATCH_PUSHGATEWAY_USERNAME": "u",
            "KPIWATCH_PUSHGATEWAY_PASSWORD": "hunter2",
        }
    )
    assert (target.url, target.environment, target.username) == ("https://gw:9091", "prod", "u")
    assert "hunter2" not in repr(target)
    with pytest.raises(ConfigError, match="Set both KPIWATCH_PUSHGATEWAY_USERNAME and KPIWATCH_PUSHGATEWAY_PASSWORD"):
        push_target_from_env({"KPIWATCH_PUSHGATEWAY_USERNAME": "u"})
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        push_target_from_env({"KPIWATCH_PUSHGATEWAY_URL": "gw:9091"})


def test_a_gateway_that_never_answers_is_reported_as_a_timeout_not_a_refused_connection():
    """The socket accepts but nothing answers: the message names the timeout setting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        target = PushTarget(
            url=f"http://127.0.0.1:{listener.getsockname()[1]}", environment="prod", attempts=1, timeout_seconds=0.3
        )
        with pytest.raises(PushError) as error:
            push(target, JOB, SAMPLES)
    finally:
        listener.close()
    assert str(error.value).endswith(
        "after 1 attempt(s): no answer within 0.3 s (KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS). Start it with "
        "`kpiwatch stack up` or point KPIWATCH_PUSHGATEWAY_URL at yours; re-running the job pushes the full state."
    )


def test_dbt_is_never_asked_to_send_usage_statistics():
    """Every dbt call kpiwatch makes (the parse, the build, the worker) gets this environment."""
    for target in (
        {},
        {
            "KPIWATCH_TARGET": "snowflake",
            "KPIWATCH_SNOWFLAKE_ACCOUNT": "a",
            "KPIWATCH_SNOWFLAKE_USER": "u",
            "KPIWATCH_SNOWFLAKE_DATABASE": "d",
            "KPIWATCH_SNOWFLAKE_PASSWORD": "p",
        },
    ):
        assert dbt_environment(load_settings(target))["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
