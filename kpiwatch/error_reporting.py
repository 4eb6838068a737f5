"""Errors to Sentry, when KPIWATCH_SENTRY_DSN is set: a failed run, each failed check of error severity and an
unexpected exception, tagged with run id, step, evaluation date and environment so an error tracker groups them
the way a person looks for them. No DSN, no Sentry: the SDK is not even imported."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from importlib.metadata import version

from kpiwatch.settings import Settings, sentry_dsn_from_env

FLUSH_SECONDS = 5.0  # how long the process waits at exit for the events to leave
# launch.RunOutcome.failed_checks: "raw/events unique_event_id (error): description"
FAILED_CHECK = re.compile(r"^(?P<asset>\S+) (?P<check>\S+) \((?P<severity>error|warn)\): (?P<description>.*)$", re.S)


def _sentry(dsn: str, environment: str):
    """The SDK, initialised once per process: only what kpiwatch captures is sent (no integrations, no
    breadcrumbs, no personal data, no performance tracing)."""
    import sentry_sdk

    if not sentry_sdk.get_client().is_active():
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            release=f"kpiwatch@{version('kpiwatch')}",
            default_integrations=False,
            auto_enabling_integrations=False,
            max_breadcrumbs=0,
            send_default_pii=False,
        )
    return sentry_sdk


def report_run(settings: Settings, outcome, as_of: dt.date) -> int:
    """Send the run's failure and its failed error checks; the number of events sent (0 without a DSN)."""
    if not settings.sentry_dsn:
        return 0
    sentry = _sentry(settings.sentry_dsn, settings.push.environment)
    base = {"run_id": outcome.run_id, "evaluation_date": as_of.isoformat(), "environment": settings.push.environment}
    sent = 0
    for text in outcome.failed_checks:
        match = FAILED_CHECK.match(text)
        if not match or match["severity"] != "error":
            continue
        step = "raw_checks" if match["asset"].startswith("raw/") else "dbt_tests"
        tags = {**base, "step": step, "asset": match["asset"], "check": match["check"]}
        _capture(
            sentry, f"kpiwatch check failed: {match['asset']} {match['check']}", "error", tags, match["description"]
        )
        sent += 1
    if not outcome.success:
        first = outcome.failures[0] if outcome.failures else "the run failed"
        step = first.split(":", 1)[0] if ":" in first else "run"
        tags = {**base, "step": step}
        _capture(sentry, f"kpiwatch run failed: {step}", "error", tags, "\n".join(outcome.failures))
        sent += 1
    sentry.flush(timeout=FLUSH_SECONDS)
    return sent


def report_exception(error: BaseException, command: str, env: Mapping[str, str]) -> bool:
    """Send an exception no kpiwatch code expected (a bug, not bad input); False without a (valid) DSN."""
    try:
        dsn = sentry_dsn_from_env(env)
    except Exception:  # a malformed DSN is reported by the command itself, not here
        return False
    if not dsn:
        return False
    environment = (env.get("KPIWATCH_ENVIRONMENT") or "local").strip() or "local"
    sentry = _sentry(dsn, environment)
    with sentry.new_scope() as scope:
        for key, value in {"step": command, "environment": environment}.items():
            scope.set_tag(key, value)
        sentry.capture_exception(error)
    sentry.flush(timeout=FLUSH_SECONDS)
    return True


def _capture(sentry, message: str, level: str, tags: Mapping[str, str], detail: str) -> None:
    with sentry.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        scope.set_extra("detail", detail)
        sentry.capture_message(message, level=level)
