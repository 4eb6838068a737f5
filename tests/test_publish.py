"""Failed runs still reach Prometheus: the run-failure sensor pushes the check results and run_success=0."""

import datetime as dt
import urllib.request
from dataclasses import replace

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from kpiwatch.hosting.launch import run_once
from kpiwatch.sample.faults import inject
from kpiwatch.sample.generate import GenerateOptions, generate
from orchestration.resources import pushgateway_resource
from orchestration.system import build_definitions

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


def test_failure_sensor_records_a_failed_run(tmp_path, session_pushgateway, job_settings):
    """The run's own push goes nowhere (a closed port), so the run fails; the sensor records it elsewhere."""
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=300, days=60, seed=2), progress=False, log=lambda _: None)
    inject(db, ["duplicate_event_id"])
    settings = job_settings(db, tmp_path / "home")
    settings = replace(settings, push=replace(settings.push, url="http://127.0.0.1:9", attempts=1, backoff_seconds=0))
    outcome = run_once(settings, AS_OF)
    assert not outcome.success
    assert outcome.failures[0].startswith("prometheus_push: Pushgateway at http://127.0.0.1:9 did not accept")

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
    assert 'kpiwatch_metric_valid{environment="sensor-test",instance="",job="kpiwatch",metric="mrr"} 0' in exposed
    assert 'kpiwatch_mrr_usd{environment="sensor-test"' not in exposed  # no business numbers from bad data
    assert 'job="kpiwatch_last_success",environment="sensor-test"' not in exposed


def test_a_channel_label_with_thousands_of_values_is_capped_to_the_top_n_and_other(
    tmp_path, session_pushgateway, job_settings
):
    """300 spend channels push 5 + other + all CAC series; other's CAC is its channels' blended CAC."""
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=300, days=60, seed=2), progress=False, log=lambda _: None)
    con = duckdb.connect(str(db))
    con.execute(
        "insert into raw.marketing_spend select date '2024-03-10', 'affiliate_' || i, 1 + i, 'USD' from range(300) t(i)"
    )
    con.close()
    environment = "capped-labels"
    settings = job_settings(db, tmp_path / "home", env={"KPIWATCH_ENVIRONMENT": environment}, segment_top_n=5)

    outcome = run_once(settings, AS_OF)

    assert outcome.success, outcome.failures
    assert any(
        'channels beyond the top 5 by spend were pushed together as channel="other"' in n for n in outcome.notices
    )
    gateway = session_pushgateway.settings.url("pushgateway")
    with urllib.request.urlopen(f"{gateway}/metrics") as response:
        exposed_lines = response.read().decode().splitlines()
    exposed = [line for line in exposed_lines if line.startswith("kpiwatch_cac_usd{")]
    channels = [line.split('channel="')[1].split('"')[0] for line in exposed if f'environment="{environment}"' in line]
    assert len(channels) == 7 and {"all", "other"} <= set(channels)
    # The bands are judged for all 300 channels in the warehouse; the top 5 of each series and `all` are pushed.
    spend_bands = [
        line
        for line in exposed_lines
        if line.startswith("kpiwatch_metric_observed{") and 'series="spend"' in line and environment in line
    ]
    assert len(spend_bands) == 6
    assert any(
        "channel or group-by series beyond the top 5 of their series were judged but not pushed" in n
        for n in outcome.notices
    )
    con = duckdb.connect(str(db), read_only=True)
    spend, new = con.execute(
        "select sum(spend_usd), sum(new_customers) from marts.fct_cac_monthly where month = '2024-03-01' "
        "and channel <> 'all' and channel not in (select channel from marts.fct_cac_monthly where month = "
        "'2024-03-01' and channel <> 'all' order by spend_usd desc, channel limit 5)"
    ).fetchone()
    con.close()
    other = next(line for line in exposed if f'environment="{environment}"' in line and 'channel="other"' in line)
    assert new  # the generated channels beyond the top 5 by spend won customers in March
    assert float(other.rsplit(" ", 1)[1]) == pytest.approx(float(spend) / new)
