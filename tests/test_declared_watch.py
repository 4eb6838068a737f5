"""A metric a company declares in its project's metrics/ folder and marks as watched becomes, with no Python: a
daily series with its band in the warehouse (marts.fct_series_declared_daily), a verdict, gauges in the
existing families, rows in `kpiwatch backtest` and `kpiwatch explain`, and a report card. A planted drop (report
exports hidden by a release) pages KpiwatchMetricAnomaly through the real Prometheus and Alertmanager."""

import dataclasses
import datetime as dt
import os
import re
import subprocess
import urllib.request

import duckdb
import pytest

from kpiwatch.executables import beside_interpreter
from kpiwatch.hosting.launch import run_once
from kpiwatch.project_init import EXAMPLE_METRICS, EXAMPLE_METRICS_TEXT, init_project
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.sample.planted import parse_anomaly
from kpiwatch.settings import KNOWN_VARIABLES
from kpiwatch.warehouse import DuckDBWarehouse
from metrics.anomaly_config import load_anomaly_config
from metrics.bands import read_verdicts
from tests.monitoring_helpers import started_stack, wait_until

pytestmark = pytest.mark.slow

AS_OF = dt.date(2026, 3, 31)
DARK_FROM = AS_OF - dt.timedelta(days=1)  # report_export unused from here on (kpiwatch/sample/planted.py)
SERIES = "exports_per_active_user"


GROUPED = "product_events"


def declaration() -> str:
    """metrics/example.yml uncommented, with its ratio marked as watched, and every event counted by name."""
    body = EXAMPLE_METRICS_TEXT.split("#\n", 1)[1]
    text = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines()) + "\n"
    text = text.replace(
        "      denominator: dau\n", "      denominator: dau\n    config:\n      meta: {kpiwatch: {watch: true}}\n"
    )
    text = text.replace(
        "    measures:\n", "    measures:\n      - name: product_events\n        agg: sum\n        expr: 1\n"
    )
    return text + (
        f"  - name: {GROUPED}\n    label: Product events\n    type: simple\n    type_params:\n"
        "      measure: product_events\n    config:\n"
        "      meta: {kpiwatch: {watch: true, seasonality: level, unit: count, group_by: product_event__event_name}}\n"
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("declared_stack")) as (stack, hook):
        yield stack, hook


@pytest.fixture(scope="module")
def watched(tmp_path_factory, job_settings, live):
    work = tmp_path_factory.mktemp("declared_watch")
    project = work / "acme"
    init_project(project, KNOWN_VARIABLES)
    (project / EXAMPLE_METRICS).write_text(declaration())
    db = project / "data" / "kpiwatch.duckdb"
    db.parent.mkdir()
    options = GenerateOptions(out=db, as_of=AS_OF, users=800, days=100, seed=5)
    options = dataclasses.replace(options, anomalies=(parse_anomaly(f"feature_dark@{DARK_FROM}"),))
    generate(options, progress=False, log=lambda _: None)
    # Its own dbt target: the session's manifest is parsed without this project's declarations.
    env = {
        "KPIWATCH_PROJECT_DIR": str(project),
        "KPIWATCH_DBT_TARGET_DIR": str(work / "target"),
        "KPIWATCH_SEGMENT_TOP_N": "3",  # the grouped metric: `all`, its 3 largest event names and `other`
        "KPIWATCH_PUSHGATEWAY_URL": live[0].settings.url("pushgateway"),
    }
    settings = job_settings(db, work / "home", env=env)
    assert settings.metrics_dir == project / "metrics"
    # The first run builds all history; the next one adds a day incrementally (MetricFlow's SQL constrained to
    # the processed days, the band's history read from the series itself).
    for as_of, full_refresh in ((AS_OF - dt.timedelta(days=1), True), (AS_OF, None)):
        outcome = run_once(settings, as_of, full_refresh=full_refresh)
        assert outcome.success, (outcome.failures, outcome.failed_checks)
    return settings


def test_the_declared_series_equals_its_definition_computed_from_the_raw_events(watched):
    con = duckdb.connect(str(watched.duckdb_path), read_only=True)
    try:
        declared = dict(
            con.execute(
                "select metric_date, value from marts.fct_series_declared_daily where metric = ? and segment = 'all'",
                [SERIES],
            ).fetchall()
        )
        by_hand = dict(
            con.execute(
                "select cast(occurred_at as date) as day, "
                "count(*) filter (where event_name = 'report_export') / count(distinct user_id) "
                "from raw.events where occurred_at < ? group by 1",
                [AS_OF + dt.timedelta(days=1)],
            ).fetchall()
        )
        training = con.execute(
            "select max(training_days) from marts.fct_series_declared_daily where metric = ?", [SERIES]
        ).fetchone()[0]
    finally:
        con.close()
    assert set(declared) == set(by_hand) and len(declared) >= 90
    assert all(declared[day] == pytest.approx(by_hand[day]) for day in by_hand)
    assert declared[AS_OF] == 0 and declared[AS_OF - dt.timedelta(days=2)] > 0
    assert training >= 8


def test_the_planted_drop_fires_and_is_pushed_in_the_existing_gauge_families(watched, live):
    config = load_anomaly_config(watched.anomalies_config, [SERIES])
    verdicts = read_verdicts(DuckDBWarehouse(watched.duckdb_path), config, AS_OF, AS_OF, series=SERIES)
    assert [(v.series, v.metric, v.fired) for v in verdicts] == [(SERIES, "declared", "drop")]

    url = live[0].settings.url("pushgateway") + "/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    pushed = [line for line in text.splitlines() if f'series="{SERIES}"' in line and not line.startswith("#")]
    families = {line.split("{", 1)[0] for line in pushed}
    assert {"kpiwatch_metric_observed", "kpiwatch_metric_expected", "kpiwatch_metric_anomaly"} <= families
    assert any(line.startswith("kpiwatch_metric_anomaly{") and 'direction="drop"' in line for line in pushed)


def test_the_backtest_lists_the_declared_series_by_day(watched):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(
        KPIWATCH_PROJECT_DIR=str(watched.project.directory),
        KPIWATCH_DBT_TARGET_DIR=str(watched.dbt_target_dir),
        DAGSTER_HOME=str(watched.dagster_home),
    )
    start = AS_OF - dt.timedelta(days=6)
    command = [beside_interpreter("kpiwatch"), "backtest", "--start", str(start), "--end", str(AS_OF)]
    done = subprocess.run([*command, "--metric", SERIES, "--format", "csv"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in done.stdout.splitlines()[1:] if line]
    assert [row[0] for row in rows] == [str(start + dt.timedelta(days=n)) for n in range(7)]
    assert {row[1] for row in rows} == {SERIES}
    assert rows[-1][-1] == "drop"


def test_the_report_has_a_card_for_the_declared_metric_marked_anomalous(watched, tmp_path):
    from kpiwatch.report import build_report

    html = build_report(watched, AS_OF, tmp_path / "report.html")
    assert f'<div class="card" data-card="{SERIES}" data-state="anomalous"' in html
    card = html.split(f'data-card="{SERIES}"', 1)[1].split('<div class="card"', 1)[0]
    assert "Exports per active user" in card and 'data-value="0.0"' in card
    assert "Report exports divided by the day" in card


def test_the_docs_page_documents_every_declared_metric_from_its_declaration(watched, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(KPIWATCH_PROJECT_DIR=str(watched.project.directory), KPIWATCH_DBT_TARGET_DIR=str(watched.dbt_target_dir))
    page = tmp_path / "declared.md"
    done = subprocess.run(
        [beside_interpreter("kpiwatch"), "metrics", "docs", "--out", str(page)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    section = text.split("## Exports per active user (`exports_per_active_user`)\n", 1)[1].split("\n## ", 1)[0]
    assert "Report exports divided by the day's active users (kpiwatch's dau)." in section
    assert "- ratio: `report_exports` / `dau`\n- watched: yes, weekday band" in section
    assert "## ARPA (USD) (`arpa`)" in text and "- derived: `mrr * 12` over `mrr`" in text

    refused = subprocess.run(
        [beside_interpreter("kpiwatch"), "metrics", "docs", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert (
        refused.returncode == 2
        and refused.stderr == f"kpiwatch: --out {str(tmp_path)!r} cannot be written (Is a directory).\n"
    )


def test_a_grouped_metric_has_a_series_per_value_that_adds_up_and_the_push_keeps_the_top_n(watched, live):
    con = duckdb.connect(str(watched.duckdb_path), read_only=True)
    try:
        rows = con.execute(
            "select metric_date, segment, value from marts.fct_series_declared_daily where metric = ?", [GROUPED]
        ).fetchall()
        names = {name for (name,) in con.execute("select distinct event_name from raw.events").fetchall()}
    finally:
        con.close()
    totals, parts = {}, {}
    for day, segment, value in rows:
        if segment == "all":
            totals[day] = value
        else:
            parts[day] = parts.get(day, 0) + value
    # The full run split every value; the daily run (with a history to rank by) its top 3 and `other`.
    assert {segment for _, segment, _ in rows} == names | {"all", "other"}
    assert totals and totals.keys() == parts.keys()
    assert all(parts[day] == pytest.approx(totals[day]) for day in totals)
    newest = sorted(segment for day, segment, _ in rows if day == AS_OF)
    assert len(newest) == 5 and "other" in newest and "all" in newest

    url = live[0].settings.url("pushgateway") + "/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    observed = [
        line
        for line in text.splitlines()
        if line.startswith("kpiwatch_metric_observed{") and f'series="{GROUPED}"' in line
    ]
    segments = {re.search(r'segment="([^"]*)"', line).group(1) for line in observed}
    assert {"all", "other"} <= segments and len(segments) == 5 and segments - {"all", "other"} <= names


def test_explain_splits_a_grouped_declared_metric_by_its_dimension(watched):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(
        KPIWATCH_PROJECT_DIR=str(watched.project.directory),
        KPIWATCH_DBT_TARGET_DIR=str(watched.dbt_target_dir),
        DAGSTER_HOME=str(watched.dagster_home),
    )
    command = [beside_interpreter("kpiwatch"), "explain", GROUPED, "--date", str(AS_OF)]
    done = subprocess.run([*command, "--format", "csv"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in done.stdout.splitlines()[1:]]
    assert rows and {row[3] for row in rows} == {"product_event__event_name"}
    table = subprocess.run(command, capture_output=True, text=True, env=env)
    assert table.returncode == 0 and table.stdout.startswith(f"{GROUPED} {AS_OF}: "), table.stdout + table.stderr
    con = duckdb.connect(str(watched.duckdb_path), read_only=True)
    try:
        before, after = (
            con.execute(
                "select value from marts.fct_series_declared_daily where metric = ? and segment = 'all' "
                "and metric_date = ?",
                [GROUPED, day],
            ).fetchone()[0]
            for day in (AS_OF - dt.timedelta(days=7), AS_OF)
        )
    finally:
        con.close()
    assert sum(float(row[5]) for row in rows) == pytest.approx(after - before)  # a sum: the values add up

    refused = subprocess.run(
        [beside_interpreter("kpiwatch"), "explain", SERIES, "--date", str(AS_OF)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode == 2 and "a declared metric needs config.meta.kpiwatch.group_by" in refused.stderr


def test_a_failed_raw_table_withholds_the_declared_series_without_failing_the_push(
    watched, tmp_path, session_pushgateway
):
    """On a copy of the warehouse: duplicate event ids fail an error check, so the models built from raw.events,
    and the declared series (built after every model), are not rebuilt; the run names it among the withheld
    and publishes the rest instead of failing on its missing band."""
    import shutil

    from kpiwatch.sample.faults import inject

    copy = dataclasses.replace(
        watched,
        # The session's gateway: the live stack keeps the pushes of the runs above.
        push=dataclasses.replace(watched.push, url=session_pushgateway.settings.url("pushgateway")),
        duckdb_path=tmp_path / "kpiwatch.duckdb",
        dagster_home=tmp_path / "home",
        dbt_target_dir=tmp_path / "target",
    )
    shutil.copy(watched.duckdb_path, copy.duckdb_path)
    shutil.copytree(watched.dbt_target_dir, copy.dbt_target_dir)
    inject(copy.duckdb_path, ["duplicate_event_id"])
    outcome = run_once(copy, AS_OF)
    assert outcome.success and not outcome.failures, (outcome.failures, outcome.failed_checks)
    assert any(line.startswith("declared (raw.events") for line in outcome.withheld), outcome.withheld


def test_the_planted_drop_pages_through_prometheus_and_alertmanager(watched, live):
    """The same rule as the built-in series: Prometheus scrapes the push, KpiwatchMetricAnomaly fires, and
    Alertmanager delivers it to the webhook with the declared metric's name and its band."""
    _, hook = live

    def paged():
        return [
            a
            for a in hook.alerts("firing")
            if a["labels"]["alertname"] == "KpiwatchMetricAnomaly" and a["labels"]["series"] == SERIES
        ]

    alert = wait_until(paged, 90, what=f"KpiwatchMetricAnomaly for {SERIES} at the webhook")[0]
    assert (alert["labels"]["metric"], alert["labels"]["direction"], alert["labels"]["segment"]) == (
        "declared",
        "drop",
        "all",
    )
    # `environment: "acme"`: the project's kpiwatch.yml, as `kpiwatch init acme` wrote it.
    assert alert["annotations"]["summary"] == f"{SERIES} fell below its expected band (acme)"
    assert alert["annotations"]["description"].startswith(f"{SERIES} is 0; expected ")
