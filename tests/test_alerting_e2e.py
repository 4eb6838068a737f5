"""Warehouse -> gauges -> Prometheus rules -> Alertmanager -> a webhook, with the real servers.

Each test starts Debian's prometheus, prometheus-pushgateway and prometheus-alertmanager on free loopback
ports in a temp dir (1 s scrape and evaluation, 1 s alert grouping), runs the real job, and stops them.
"""

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from html import escape

import duckdb
import pytest
import yaml

from kpiwatch.hosting.launch import run_once
from kpiwatch.paths import MONITORING_DIR, REPO_ROOT
from kpiwatch.quality.config import load_checks_config
from kpiwatch.report import build_report
from kpiwatch.sample.faults import inject
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.stack import where_to_look
from metrics.catalog import EVENT_GAUGES, GAUGES, WAREHOUSE_SPECIFIC_GAUGES
from metrics.push import JOB, PushTarget, push
from metrics.samples import Sample
from tests.monitoring_helpers import firing_alerts, prom_query, rules_evaluated_after, started_stack, wait_until

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 5, 20)  # mid-month, on clean data no alert fires


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "clean.duckdb"
    generate(GenerateOptions(out=path, as_of=AS_OF, users=800, days=400, seed=5), progress=False, log=lambda _: None)
    return path


@pytest.fixture
def live(tmp_path):
    with started_stack(tmp_path) as (stack, hook):
        yield stack, hook


@pytest.fixture(scope="session")
def run_job(job_settings):
    """run_job(stack, db, tmp_path): the daily job in-process, pushing to this stack's gateway."""

    def run(stack, db, tmp_path):
        gateway = {"KPIWATCH_PUSHGATEWAY_URL": stack.settings.url("pushgateway")}
        return run_once(job_settings(db, tmp_path / "dagster_home", env=gateway), AS_OF)

    return run


def copy_of(db, tmp_path, *faults):
    target = tmp_path / f"{'_'.join(faults) or 'copy'}.duckdb"
    shutil.copy(db, target)
    if faults:
        inject(target, list(faults))
    return target


def scraped(stack, expr):
    return wait_until(lambda: prom_query(stack, expr), 30, what=f"Prometheus to scrape {expr}")


def notified(hook, alertname, status="firing", **labels):
    def match():
        return [
            a
            for a in hook.alerts(status)
            if a["labels"]["alertname"] == alertname and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    return wait_until(match, 60, what=f"a {status} {alertname} {labels} notification at the webhook")


def mart_value(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def clean_run(clean_db, tmp_path_factory, run_job):
    """One stack and one successful first run on a copy of the clean data. The gauge and dashboard tests read
    its stack; the other tests start from copies of the warehouse it built, never from each other's."""
    tmp_path = tmp_path_factory.mktemp("clean_stack")
    built = copy_of(clean_db, tmp_path)
    with started_stack(tmp_path) as (stack, hook):
        outcome = run_job(stack, built, tmp_path)
        assert outcome.success, outcome.failures
        scraped(stack, 'kpiwatch_run_success{job="kpiwatch"} == 1')
        scraped(stack, "kpiwatch_last_success_timestamp_seconds")
        yield stack, hook, built


@pytest.fixture(scope="module")
def clean_stack(clean_run):
    return clean_run[:2]


@pytest.fixture(scope="module")
def built_db(clean_run):
    """The clean warehouse after its first run (marts and ledger built); copy it before changing it."""
    return clean_run[2]


def test_clean_data_publishes_every_gauge_with_mart_values_and_no_alert(clean_stack, built_db, dbt_target_dir):
    stack, hook = clean_stack
    for gauge in GAUGES:
        if gauge.name not in EVENT_GAUGES | WAREHOUSE_SPECIFIC_GAUGES:
            assert prom_query(stack, f'count({{__name__="{gauge.name}"}})'), f"{gauge.name} missing in Prometheus"
    assert not prom_query(stack, "kpiwatch_restated_value")  # nothing was published before: nothing restated

    def value(expr):
        return float(prom_query(stack, expr)[0]["value"][1])

    assert value("kpiwatch_mrr_usd") == pytest.approx(
        float(mart_value(built_db, "select mrr_usd from marts.fct_mrr_monthly where month = '2024-05-01'")), abs=1e-6
    )
    for window, column in (("1d", "dau"), ("7d", "wau"), ("30d", "mau")):
        expected = mart_value(
            built_db, f"select {column} from marts.fct_active_users_daily where activity_date = '{AS_OF}'"
        )
        assert value(f'kpiwatch_active_users{{window="{window}"}}') == expected
    assert value('kpiwatch_cac_usd{channel="all"}') == pytest.approx(
        float(
            mart_value(
                built_db, "select cac_usd from marts.fct_cac_monthly where month = '2024-04-01' and channel = 'all'"
            )
        )
    )
    dbt_tests = sum(
        1
        for n in json.loads((dbt_target_dir / "manifest.json").read_text())["nodes"].values()
        if n["resource_type"] == "test"
    )
    assert value("count(kpiwatch_check_success)") == len(load_checks_config().checks) + dbt_tests
    assert not prom_query(stack, "kpiwatch_check_success == 0")
    evaluated_from = time.time() + 3  # three evaluations (1 s apart) of every rule group over these gauges
    wait_until(lambda: rules_evaluated_after(stack, evaluated_from), 30, what="three rule evaluations")
    assert not prom_query(stack, 'ALERTS{alertstate="firing"}')
    assert firing_alerts(stack) == [] and hook.received == []


def metric_value(stack, expr):
    return float(scraped(stack, expr)[0]["value"][1])


def test_an_events_fault_withholds_active_users_alerts_and_mrr_news_still_arrives(
    built_db, tmp_path, live, run_job, job_settings
):
    """Duplicate events fail an error check: DAU and what else is built from raw.events is withheld, MRR is
    published fresh, and its bad news (a drop) still reaches the webhook; all resolves after repair."""
    stack, hook = live
    broken = copy_of(built_db, tmp_path, "duplicate_event_id", "mrr_drop")
    outcome = run_job(stack, broken, tmp_path)
    assert outcome.success, outcome.failures
    assert {w.split(" (")[0] for w in outcome.withheld} == {"active_users", "retention", "feature_adoption"}
    started = time.monotonic()
    alert = notified(hook, "KpiwatchCheckFailed", check="unique_event_id")[0]
    assert time.monotonic() - started < 60
    assert alert["labels"]["severity"] == "error" and alert["labels"]["asset"] == "raw/events"
    assert "unique_event_id" in alert["annotations"]["summary"]
    withheld = notified(hook, "KpiwatchMetricWithheld", metric="active_users")[0]
    assert withheld["annotations"]["summary"] == "active_users was not published: its data failed a check (local)"
    notified(hook, "KpiwatchMrrDrop", metric="mrr")  # the published metric keeps alerting
    assert metric_value(stack, 'kpiwatch_metric_valid{metric="mrr"}') == 1
    assert metric_value(stack, 'kpiwatch_metric_valid{metric="active_users"}') == 0
    assert metric_value(stack, "kpiwatch_mrr_usd") == pytest.approx(
        float(mart_value(broken, "select mrr_usd from marts.fct_mrr_monthly where month = '2024-05-01'")), abs=1e-6
    )
    assert not prom_query(stack, "kpiwatch_active_users")  # withheld: absent, never stale
    assert not prom_query(stack, 'ALERTS{alertname="KpiwatchBusinessGaugeMissing"}')
    # The terminal's view of the same alerts (Debian's Alertmanager has no web UI): `kpiwatch alerts`.
    listed = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "alerts", "--url", stack.settings.url("alertmanager")],
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert "KpiwatchCheckFailed [error]" in listed.stdout and "check=unique_event_id" in listed.stdout
    # And the report's: the active alerts with their annotations, from the same Alertmanager.
    settings = replace(
        job_settings(broken, tmp_path / "dagster_home"), alertmanager_url=stack.settings.url("alertmanager")
    )
    page = build_report(settings, AS_OF, tmp_path / "report.html")
    assert 'data-alert="KpiwatchCheckFailed"' in page and escape(alert["annotations"]["summary"]) in page
    assert 'data-withheld="active_users"' in page

    shutil.copy(built_db, broken)  # the loader re-delivers clean data
    repaired = run_job(stack, broken, tmp_path)
    assert repaired.success and not repaired.withheld
    notified(hook, "KpiwatchCheckFailed", status="resolved", check="unique_event_id")
    notified(hook, "KpiwatchMetricWithheld", status="resolved", metric="active_users")


def test_a_subscriptions_fault_withholds_mrr_and_publishes_active_users(built_db, tmp_path, live, run_job):
    stack, hook = live
    broken = copy_of(built_db, tmp_path, "overlapping_period")
    outcome = run_job(stack, broken, tmp_path)
    assert outcome.success, outcome.failures
    withheld = {w.split(" (")[0] for w in outcome.withheld}
    assert {"mrr", "unit_economics", "cac", "retention"} <= withheld and "active_users" not in withheld
    notified(hook, "KpiwatchMetricWithheld", metric="mrr")
    dau = mart_value(broken, f"select dau from marts.fct_active_users_daily where activity_date = '{AS_OF}'")
    assert metric_value(stack, 'kpiwatch_active_users{window="1d"}') == dau
    assert not prom_query(stack, "kpiwatch_mrr_usd")
    assert metric_value(stack, 'kpiwatch_metric_valid{metric="active_users"}') == 1


def test_a_back_dated_correction_of_last_month_fires_metric_restated_with_both_values(
    built_db, tmp_path, live, run_job
):
    """April's amount of one running subscription is corrected after April's numbers were published: the next
    run restates April's LTV, and the notification carries the value published before and the new one."""
    stack, hook = live
    db = copy_of(built_db, tmp_path)
    first = run_job(stack, db, tmp_path)
    assert first.success and not any(n.startswith("restated:") for n in first.notices)
    con = duckdb.connect(str(db))
    con.execute(
        "update raw.subscriptions set amount = amount * 10 where subscription_id = (select min(subscription_id) "
        "from raw.subscriptions where started_at < '2024-04-01' and (ended_at is null or ended_at >= '2024-05-01'))"
    )
    con.close()

    second = run_job(stack, db, tmp_path)

    assert second.success, second.failures
    assert any(n.startswith("restated: kpiwatch_ltv_usd{} for 2024-04-01 was published as ") for n in second.notices)
    ledger = duckdb.connect(str(db), read_only=True)
    published = [
        v
        for (v,) in ledger.execute(
            "select value from ledger.published_values where gauge = 'kpiwatch_ltv_usd' and period = '2024-04-01' "
            "order by published_at"
        ).fetchall()
    ]
    ledger.close()
    # The clean copy may hold the ledger of earlier runs on it: the last two values are this test's.
    published = published[-2:]
    assert len(published) == 2 and published[0] != published[1]
    alert = notified(hook, "KpiwatchMetricRestated", gauge="kpiwatch_ltv_usd", period="2024-04-01")[0]
    assert alert["labels"]["metric"] == "unit_economics" and alert["labels"]["team"] == "business"
    assert alert["annotations"]["description"].startswith(
        f"kpiwatch_ltv_usd for the closed month 2024-04-01 was published as {published[0]:.2f} and is now "
        f"{published[1]:.2f}."
    )


def test_stale_data_fires_and_silences_the_business_alerts(built_db, tmp_path, live, run_job):
    stack, hook = live
    outcome = run_job(stack, copy_of(built_db, tmp_path, "stale_users", "mrr_drop"), tmp_path)
    assert outcome.success  # users freshness is a warn check: metrics are still published
    notified(hook, "KpiwatchDataStale", table="users")

    def inhibited_mrr_drop():
        return [
            a
            for a in firing_alerts(stack)
            if a["labels"]["alertname"] == "KpiwatchMrrDrop"
            and a["status"]["state"] == "suppressed"
            and a["status"]["inhibitedBy"]
        ]

    wait_until(inhibited_mrr_drop, 30, what="KpiwatchMrrDrop to be inhibited by KpiwatchDataStale")
    time.sleep(3)
    assert not [a for a in hook.alerts() if a["labels"]["team"] == "business"]


def test_a_business_drop_fires_mrr_drop(built_db, tmp_path, live, run_job):
    stack, hook = live
    db = copy_of(built_db, tmp_path, "mrr_drop")
    assert run_job(stack, db, tmp_path).success
    alert = notified(hook, "KpiwatchMrrDrop")[0]
    assert alert["labels"]["team"] == "business"
    growth = float(prom_query(stack, "kpiwatch_mrr_growth_ratio")[0]["value"][1])
    assert growth < -0.05


def test_gateway_down_fails_the_run_clearly_and_a_rerun_pushes_everything(built_db, tmp_path, live, run_job):
    stack, hook = live
    stack.down(("pushgateway",))
    db = copy_of(built_db, tmp_path)
    outcome = run_job(stack, db, tmp_path)
    assert not outcome.success
    gateway = stack.settings.url("pushgateway")
    assert any(
        f"prometheus_push: Pushgateway at {gateway} did not accept the push of job 'kpiwatch' after 4 attempt(s): "
        "cannot connect" in f
        for f in outcome.failures
    ), outcome.failures
    assert outcome.failure_recorded.startswith("The failure could not be recorded in Prometheus either")

    stack.up(("pushgateway",))
    assert run_job(stack, db, tmp_path).success
    with urllib.request.urlopen(f"{gateway}/metrics") as response:
        exposed = response.read().decode()
    for gauge in GAUGES:
        if gauge.name not in EVENT_GAUGES | WAREHOUSE_SPECIFIC_GAUGES:
            assert f"\n{gauge.name}{{" in exposed, f"{gauge.name} not pushed by the re-run"
    scraped(stack, 'kpiwatch_run_success{job="kpiwatch"} == 1')


def test_pushed_state_survives_a_gateway_restart_with_unusual_labels_intact(tmp_path, live):
    stack, hook = live
    target = PushTarget(url=stack.settings.url("pushgateway"), environment="prod/eu-1", backoff_seconds=0.1)
    odd = 'paid/search & "co" ü'
    push(target, JOB, [Sample("kpiwatch_cac_usd", {"channel": odd}, 321.0), Sample("kpiwatch_run_success", {}, 1.0)])
    scraped(stack, 'kpiwatch_cac_usd{environment="prod/eu-1"}')
    time.sleep(2.5)  # the persistence file is written every second

    stack.down(("pushgateway",))
    stack.up(("pushgateway",))
    result = wait_until(
        lambda: [r for r in prom_query(stack, "kpiwatch_cac_usd") if r["metric"]["channel"] == odd],
        30,
        what="the restarted gateway to serve the persisted series",
    )
    assert result[0]["metric"]["environment"] == "prod/eu-1" and float(result[0]["value"][1]) == 321.0
    scraped(stack, 'push_time_seconds{job="kpiwatch",environment="prod/eu-1"}')
    time.sleep(3)
    assert not prom_query(stack, 'ALERTS{alertname="KpiwatchPushMissing"}')


DASHBOARDS = sorted((MONITORING_DIR / "grafana" / "dashboards").glob("*.json"))


def test_every_url_the_quickstart_prints_answers_on_a_running_stack(clean_stack):
    """quickstart.sh prints `kpiwatch stack where`: each of its pages exists on Debian's servers."""
    stack, _ = clean_stack
    assert "kpiwatch stack where" in (REPO_ROOT / "scripts" / "quickstart.sh").read_text()
    for label, url in where_to_look(stack.settings):
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode(errors="replace")
        assert response.status == 200 and body, (label, url)
        assert "404 page not found" not in body, (label, url)


def test_dashboards_cover_business_quality_and_pipeline():
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARDS}
    assert titles == {"kpiwatch — Business overview", "kpiwatch — Data quality", "kpiwatch — Pipeline health"}
    provisioning = yaml.safe_load(
        (MONITORING_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioning["datasources"][0]["uid"]
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
    # A panel per watched series, declared metrics included, through the `series` variable (label values of
    # kpiwatch_metric_band_ready): no dashboard edit per metric.
    business = json.loads((MONITORING_DIR / "grafana" / "dashboards" / "kpiwatch-business.json").read_text())
    variable = next(v for v in business["templating"]["list"] if v["name"] == "series")
    assert variable["multi"] and variable["includeAll"] and "kpiwatch_metric_band_ready" in variable["definition"]
    assert [p["title"] for p in business["panels"] if p.get("repeat") == "series"] == ["$series and its expected band"]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_panel_has_data_in_the_real_prometheus(dashboard, clean_stack):
    stack, _ = clean_stack
    for panel in json.loads(dashboard.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$environment", ".*").replace("$series", "dau").replace("$dimension", "plan")
            if "kpiwatch_metric_anomaly{" in expr or "kpiwatch_warehouse_credits_estimated" in expr:
                # Firings (a clean run has none: tests/test_anomaly_e2e.py has one) and Snowflake's credits (a
                # DuckDB run has none: tests/test_warehouse_cost.py): the query must still be valid PromQL.
                prom_query(stack, expr)
                continue
            assert prom_query(stack, expr), f"{dashboard.name}: panel {panel['title']!r} would be empty: {expr}"
