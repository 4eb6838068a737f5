"""Push gauge samples to a Prometheus Pushgateway: a fresh registry per push, PUT semantics, retries.

Two groups per job and environment (the Pushgateway's documented batch-job pattern):
  {job="kpiwatch", environment=E}               every gauge of the last run; each push replaces the group,
                                                 so no series of an earlier run lingers
  {job="kpiwatch_last_success", environment=E}  kpiwatch_last_success_timestamp_seconds, pushed only by a
                                                 successful run, so a failed run never overwrites it
"""

from __future__ import annotations

import base64
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import push_to_gateway

from kpiwatch.errors import KpiwatchError
from kpiwatch.settings import PushTarget
from metrics.catalog import GAUGES_BY_NAME
from metrics.samples import Sample

JOB = "kpiwatch"
LAST_SUCCESS_JOB = "kpiwatch_last_success"


class PushError(KpiwatchError):
    """The Pushgateway did not accept a push after every retry."""


def build_registry(samples: Iterable[Sample]) -> CollectorRegistry:
    """A dedicated registry holding exactly these samples, typed and documented from the catalog."""
    registry = CollectorRegistry(auto_describe=True)
    gauges: dict[str, Gauge] = {}
    for sample in samples:
        spec = GAUGES_BY_NAME[sample.name]
        gauge = gauges.get(spec.name)
        if gauge is None:
            gauge = gauges[spec.name] = Gauge(
                spec.name, f"{spec.help} Unit: {spec.unit}.", spec.labels, registry=registry
            )
        (gauge.labels(**sample.labels) if spec.labels else gauge).set(sample.value)
    return registry


def _handler(target: PushTarget):
    """urllib request with the target's timeout, basic auth and TLS settings; raises on any non-2xx."""
    context = None
    if target.url.startswith("https://"):
        context = ssl.create_default_context(cafile=target.ca_file)
        if target.cert_file:
            context.load_cert_chain(target.cert_file, target.key_file)
    auth = None
    if target.username:
        token = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
        auth = f"Basic {token}"

    def handler(url, method, timeout, headers, data):
        def send():
            request = urllib.request.Request(url, data=data, method=method)
            for key, value in headers:
                request.add_header(key, value)
            if auth:
                request.add_header("Authorization", auth)
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                response.read()

        return send

    return handler


def push(target: PushTarget, job: str, samples: list[Sample], sleep=time.sleep) -> None:
    """PUT the samples as the group {job, environment}; retry connection errors and 5xx with backoff."""
    registry = build_registry(samples)
    grouping = {"environment": target.environment}
    last_error = ""
    for attempt in range(1, target.attempts + 1):
        try:
            push_to_gateway(
                target.url,
                job=job,
                registry=registry,
                grouping_key=grouping,
                timeout=target.timeout_seconds,
                handler=_handler(target),
            )
            return
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace").strip()
            last_error = f"HTTP {error.code} {error.reason}: {body}" if body else f"HTTP {error.code} {error.reason}"
            if error.code < 500:
                break  # the gateway refused the content: retrying cannot help
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                last_error = f"no answer within {target.timeout_seconds:g} s (KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS)"
            else:
                last_error = f"cannot connect: {reason}"
        if attempt < target.attempts:
            sleep(target.backoff_seconds * 2 ** (attempt - 1))
    raise PushError(
        f"Pushgateway at {target.url} did not accept the push of job {job!r} after {attempt} attempt(s): {last_error}. "
        "Start it with `kpiwatch stack up` or point KPIWATCH_PUSHGATEWAY_URL at yours; re-running the job "
        "pushes the full state."
    )
