"""Business pages on the real stack: a run as of a planted activity drop pages KpiwatchMetricAnomaly through
Alertmanager, runs as of a clean Sunday and a clean first day of a month page nobody, and an MRR drop's page
names the segment it came from."""

import datetime as dt
import time

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.sample.planted import Anomaly
from tests.conftest import write_raw_warehouse
from tests.fixtures import segment_world
from tests.monitoring_helpers import prom_query, rules_evaluated_after, started_stack, wait_until

pytestmark = pytest.mark.slow

SUNDAY, FIRST_OF_MONTH, PLANTED_WEDNESDAY = dt.date(2024, 6, 16), dt.date(2024, 7, 1), dt.date(2024, 6, 12)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("anomaly_stack")) as (stack, hook):
        yield stack, hook


def company(tmp_path, as_of, *anomalies):
    db = tmp_path / f"company-{as_of}.duckdb"
    options = GenerateOptions(out=db, as_of=as_of, users=1500, days=120, seed=3, anomalies=anomalies)
    generate(options, progress=False, log=lambda _: None)
    return db


def run_and_wait_for_rules(stack, job_settings, db, tmp_path, as_of):
    """Run the job, then wait until Prometheus scraped this run's push and evaluated the business rules on it."""
    gateway = {"KPIWATCH_PUSHGATEWAY_URL": stack.settings.url("pushgateway")}
    outcome = run_once(job_settings(db, tmp_path / f"home-{as_of}", env=gateway), as_of)
    assert outcome.success, outcome.failures
    midnight = dt.datetime.combine(as_of, dt.time(), dt.UTC).timestamp()
    wait_until(
        lambda: (
            prom_query(stack, f"kpiwatch_evaluation_date_timestamp_seconds == {midnight:.0f}")
            and prom_query(stack, 'kpiwatch_metric_band_ready{series="dau"} == 1')
        ),
        30,
        what=f"Prometheus to scrape the run as of {as_of}",
    )
    scraped_at = time.time()

    wait_until(
        lambda: rules_evaluated_after(stack, scraped_at + 1, group="kpiwatch-business"),
        30,
        every=0.2,
        what="the business rules to be evaluated on the new push",
    )


def anomaly_alerts(stack):
    return prom_query(stack, 'ALERTS{alertname="KpiwatchMetricAnomaly"}')


def test_clean_sunday_and_month_start_stay_quiet_and_a_planted_drop_pages(live, job_settings, tmp_path):
    stack, hook = live
    for quiet_day in (SUNDAY, FIRST_OF_MONTH):
        run_and_wait_for_rules(stack, job_settings, company(tmp_path, quiet_day), tmp_path, quiet_day)
        assert not anomaly_alerts(stack), quiet_day
        assert prom_query(stack, 'kpiwatch_metric_anomaly_score{series="dau"} == 0'), quiet_day
    assert not [a for a in hook.alerts() if a["labels"]["alertname"] == "KpiwatchMetricAnomaly"]

    db = company(tmp_path, PLANTED_WEDNESDAY, Anomaly("activity_drop", PLANTED_WEDNESDAY))
    run_and_wait_for_rules(stack, job_settings, db, tmp_path, PLANTED_WEDNESDAY)

    def paged():
        return [
            a
            for a in hook.alerts("firing")
            if a["labels"]["alertname"] == "KpiwatchMetricAnomaly" and a["labels"]["series"] == "dau"
        ]

    alert = wait_until(paged, 60, what="KpiwatchMetricAnomaly for dau at the webhook")[0]
    assert alert["labels"]["metric"] == "active_users" and alert["labels"]["direction"] == "drop"
    assert alert["labels"]["team"] == "business" and alert["labels"]["segment"] == "all"
    observed = float(prom_query(stack, 'kpiwatch_metric_observed{series="dau"}')[0]["value"][1])
    lower = float(prom_query(stack, 'kpiwatch_metric_expected{series="dau",bound="lower"}')[0]["value"][1])
    assert observed < lower
    assert alert["annotations"]["summary"] == "dau fell below its expected band (local)"
    assert alert["annotations"]["description"].startswith(f"dau is {observed:.4g}; expected ")
    # The page says where the fall is concentrated: a segment of one of the users' dimensions.
    where = alert["annotations"]["where"]
    assert where.split(" = ")[0] in ("country", "acquisition_channel", "signup_cohort"), where
    assert where.endswith(" users of the latest change (`kpiwatch explain active_users`)"), where


def test_an_mrr_drop_pages_with_the_segment_it_came_from(live, job_settings, tmp_path):
    """February of the hand-worked segment company: MRR -34 % from scale customers in Germany churning. The
    KpiwatchMrrDrop page that reaches Alertmanager names the segment and its exact amount."""
    stack, hook = live
    db = write_raw_warehouse(tmp_path / "segments.duckdb", segment_world.TABLES)
    as_of = dt.date(2024, 2, 29)
    gateway = {"KPIWATCH_PUSHGATEWAY_URL": stack.settings.url("pushgateway")}
    outcome = run_once(job_settings(db, tmp_path / "home-segments", env=gateway), as_of)
    assert outcome.success, outcome.failures

    def paged():
        return [a for a in hook.alerts("firing") if a["labels"]["alertname"] == "KpiwatchMrrDrop"]

    alert = wait_until(paged, 60, what="KpiwatchMrrDrop at the webhook")[0]
    assert alert["annotations"]["where"] == "country = DE, -600.00 USD of this month's change (`kpiwatch explain mrr`)"
    top = prom_query(stack, 'kpiwatch_change_contribution{metric="mrr",dimension="plan",rank="1"}')
    assert top[0]["metric"]["segment"] == "scale" and float(top[0]["value"][1]) == -600
