"""KPIWATCH_LOG_FORMAT=json through the real CLI: every line a run writes, Dagster's included, parses as one
JSON object with the same keys, the run's lines carry its id, and no secret appears in any of them."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kpiwatch.sample.faults import inject
from kpiwatch.sample.generate import GenerateOptions, generate

pytestmark = pytest.mark.slow
KPIWATCH = str(Path(sys.executable).with_name("kpiwatch"))
AS_OF = dt.date(2024, 3, 31)
KEYS = {"timestamp", "level", "run_id", "step", "event", "message", "fields"}
PASSWORD = "s3cret-pw-7f1"


def json_lines(done) -> list[dict]:
    lines = [line for stream in (done.stdout, done.stderr) for line in stream.splitlines()]
    assert lines, "a run writes something"
    parsed = [json.loads(line) for line in lines]  # every line: one JSON object, or this fails
    assert all(set(p) == KEYS for p in parsed), [set(p) for p in parsed if set(p) != KEYS]
    return parsed


def run(tmp_path, cli_env, *faults):
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=150, days=40, seed=12), progress=False, log=lambda _: None)
    if faults:
        inject(db, list(faults))
    env = cli_env(
        db,
        tmp_path / "home",
        KPIWATCH_LOG_FORMAT="json",
        KPIWATCH_ENVIRONMENT="json-logs",
        KPIWATCH_PUSHGATEWAY_USERNAME="kpi",
        KPIWATCH_PUSHGATEWAY_PASSWORD=PASSWORD,
    )
    done = subprocess.run([KPIWATCH, "run", "--as-of", str(AS_OF)], env=env, capture_output=True, text=True)
    assert PASSWORD not in done.stdout + done.stderr
    return done


def test_a_run_writes_only_json_lines_with_its_run_id(tmp_path, cli_env):
    done = run(tmp_path, cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = json_lines(done)
    events = [(line["step"], line["event"]) for line in lines]
    assert events[0] == ("cli", "run_starting") and ("cli", "run_succeeded") in events
    run_id = next(line["run_id"] for line in lines if line["event"] == "run_succeeded")
    assert {line["run_id"] for line in lines[1:]} == {run_id}  # Dagster's lines and kpiwatch's alike
    assert {line["step"] for line in lines} >= {"cli", "kpiwatch_dbt_models"}  # Dagster's own lines are JSON too
    headline = next(line for line in lines if line["event"] == "headline")
    assert headline["fields"]["mrr_usd"] > 0 and headline["fields"]["paying_customers"] > 0
    assert all(line["level"] in ("debug", "info", "warning", "error") for line in lines)
    assert all(dt.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")) for line in lines)


def test_failed_checks_are_json_events_naming_the_check(tmp_path, cli_env):
    done = run(tmp_path, cli_env, "duplicate_event_id")
    assert done.returncode == 1
    lines = json_lines(done)
    failed = [line for line in lines if line["event"] == "check_failed"]
    assert any(line["fields"]["check"].startswith("raw/events unique_event_id (error)") for line in failed)
    assert all(line["level"] == "error" for line in failed)
    assert any(line["event"] == "metric_withheld" and line["fields"]["metric"] == "active_users" for line in lines)
