"""Failed runs still reach Prometheus: the run-failure sensor pushes the check results and run_success=0."""

import datetime as dt
import urllib.request
from dataclasses import replace

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context
from orchestration.launch import run_once

from kpiwatch.faults import inject
from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.settings import load_settings
from orchestration.publish import PushgatewayResource, kpiwatch_failure_publisher

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


def test_failure_sensor_records_a_blocked_run(tmp_path, session_pushgateway):
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=300, days=60, seed=2), progress=False, log=lambda _: None)
    inject(db, ["duplicate_event_id"])
    outcome = run_once(replace(load_settings({}), duckdb_path=db, dagster_home=tmp_path / "home"), AS_OF)
    assert not outcome.success

    instance = DagsterInstance.get()
    run = instance.get_run_by_id(outcome.run_id)
    failure = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[0].dagster_event
    gateway = session_pushgateway.settings.url("pushgateway")
    context = build_run_status_sensor_context(
        sensor_name="kpiwatch_failure_publisher",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"pushgateway": PushgatewayResource(url=gateway, environment="sensor-test")},
    ).for_run_failure()
    kpiwatch_failure_publisher(context)

    with urllib.request.urlopen(f"{gateway}/metrics") as response:
        exposed = response.read().decode()
    assert 'kpiwatch_run_success{environment="sensor-test",instance="",job="kpiwatch"} 0' in exposed
    assert (
        'kpiwatch_check_success{asset="raw/events",check="unique_event_id",environment="sensor-test",instance="",'
        'job="kpiwatch",severity="error"} 0'
    ) in exposed
    assert 'kpiwatch_metrics_valid{environment="sensor-test",instance="",job="kpiwatch"} 0' in exposed
    assert 'kpiwatch_mrr_usd{environment="sensor-test"' not in exposed  # no business numbers from bad data
    assert 'job="kpiwatch_last_success",environment="sensor-test"' not in exposed
