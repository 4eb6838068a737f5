"""Failed runs still reach Prometheus: the run-failure sensor pushes the check results and run_success=0."""

import datetime as dt
import urllib.request
from dataclasses import replace

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from kpiwatch.faults import inject
from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.hosting.launch import run_once
from orchestration.resources import pushgateway_resource
from orchestration.system import build_definitions

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


def test_failure_sensor_records_a_blocked_run(tmp_path, session_pushgateway, job_settings):
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=300, days=60, seed=2), progress=False, log=lambda _: None)
    inject(db, ["duplicate_event_id"])
    settings = job_settings(db, tmp_path / "home")
    outcome = run_once(settings, AS_OF)
    assert not outcome.success

    instance = DagsterInstance.from_config(str(settings.dagster_home))
    sensor = build_definitions(settings).get_sensor_def("kpiwatch_failure_publisher")
    run = instance.get_run_by_id(outcome.run_id)
    failure = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[0].dagster_event
    gateway = session_pushgateway.settings.url("pushgateway")
    context = build_run_status_sensor_context(
        sensor_name="kpiwatch_failure_publisher",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"pushgateway": pushgateway_resource(replace(settings.push, url=gateway, environment="sensor-test"))},
    ).for_run_failure()
    sensor(context)

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
