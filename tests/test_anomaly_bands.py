"""Anomaly bands: the daily series, their bands on hand-worked data, the verdict rules, and the backtest on a
generated company with planted anomalies (every kind found on time, no more than 3 false alerts a year)."""

import csv
import dataclasses
import datetime as dt
import io
import os
import subprocess

import pytest

from kpiwatch.executables import beside_interpreter
from kpiwatch.planted import parse_anomaly
from kpiwatch.warehouse import DuckDBWarehouse
from metrics.anomaly_config import SeriesRule, load_anomaly_config
from metrics.bands import read_verdicts
from tests.anomaly_scoring import false_alert_days, found_on_time
from tests.conftest import build_world, rows
from tests.fixtures import band_world, mrr_world

KPIWATCH = beside_interpreter("kpiwatch")


@pytest.fixture(scope="module")
def band_db(tmp_path_factory):
    return build_world(tmp_path_factory, "band_world", band_world.TABLES, band_world.AS_OF)


def rule(**changes) -> SeriesRule:
    base = SeriesRule(
        sensitivity=5.0, floor=0.0, relative_floor=0.1, count_noise=False, direction="drop", min_training_days=6
    )
    return dataclasses.replace(base, **changes)


def with_rule(series: str, series_rule: SeriesRule):
    config = load_anomaly_config()
    return dataclasses.replace(config, rules={**config.rules, series: series_rule})


@pytest.mark.slow
def test_the_band_of_a_day_is_learnt_from_the_weeks_before_it_with_the_odd_week_left_out(band_db):
    row = rows(
        band_db,
        "select * from marts.fct_series_activity_daily where metric = 'dau' and metric_date = ?",
        [band_world.TARGET],
    )[0]
    assert row["value"] == 5 and row["method"] == "weekday"
    assert row["expected"] == pytest.approx(band_world.EXPECTED)
    assert row["spread"] == pytest.approx(band_world.SPREAD, abs=1e-9)
    assert row["slope"] == pytest.approx(band_world.SLOPE)
    assert row["training_days"] == band_world.TRAINING_DAYS


@pytest.mark.slow
def test_the_verdict_widens_the_band_by_the_rules_and_scores_the_distance(band_db):
    warehouse = DuckDBWarehouse(band_db)
    # spread 0: the half-width is relative_floor x expected = 2.6 -> band 23.4 .. 28.6; 5 is 18.4 below it.
    [verdict] = read_verdicts(warehouse, with_rule("dau", rule()), band_world.TARGET, band_world.TARGET, series="dau")
    assert (verdict.lower, verdict.expected, verdict.upper) == pytest.approx((23.4, 26, 28.6))
    assert verdict.score == pytest.approx((5 - 23.4) / 2.6)
    assert verdict.ready and verdict.fired == "drop" and verdict.metric == "active_users"
    # A count: the band is at least sensitivity x sqrt(expected) = 5 x sqrt(26) = 25.495 wide, so 5 is inside.
    [counted] = read_verdicts(
        warehouse, with_rule("dau", rule(count_noise=True)), band_world.TARGET, band_world.TARGET, series="dau"
    )
    assert counted.lower == pytest.approx(26 - 5 * 26**0.5) and counted.score == 0 and not counted.fired
    # Watching spikes only: below the band, scored, but not fired.
    [spikes] = read_verdicts(
        warehouse, with_rule("dau", rule(direction="spike")), band_world.TARGET, band_world.TARGET, series="dau"
    )
    assert spikes.score < 0 and not spikes.fired


@pytest.mark.slow
def test_too_little_history_gives_no_verdict_and_says_so(band_db):
    # 2024-01-31 has three Wednesdays before it (01-10, 01-17, 01-24): below min_training_days 6.
    day = dt.date(2024, 1, 31)
    [verdict] = read_verdicts(DuckDBWarehouse(band_db), with_rule("dau", rule()), day, day, series="dau")
    assert not verdict.ready and verdict.score == 0 and not verdict.fired
    assert verdict.lower is None and verdict.expected is None and verdict.value == 16


@pytest.fixture(scope="module")
def mrr_db(tmp_path_factory):
    return build_world(tmp_path_factory, "mrr_world_series", mrr_world.TABLES, mrr_world.AS_OF)


@pytest.mark.slow
def test_daily_mrr_and_customers_equal_the_month_end_snapshot_on_every_month_end(mrr_db):
    """Plan changes, annual plans, reactivations and currencies of the hand-worked MRR company."""
    months = rows(mrr_db, "select month, mrr_usd, paying_customers from marts.fct_mrr_monthly where is_complete")
    [first] = rows(mrr_db, "select min(metric_date) as day from marts.fct_series_revenue_daily")
    before = [m for m in months if m["month"] < first["day"].replace(day=1)]
    assert all(m["mrr_usd"] == 0 for m in before)  # the series starts with the first subscription
    assert len(months) - len(before) == 3
    for month in (m for m in months if m not in before):
        last_day = (month["month"].replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        series = {
            r["metric"]: r["value"]
            for r in rows(
                mrr_db,
                "select metric, value from marts.fct_series_revenue_daily where metric_date = ? and segment = 'all'",
                [last_day],
            )
        }
        assert series["mrr"] == pytest.approx(float(month["mrr_usd"]), abs=1e-6), last_day
        assert series["paying_customers"] == month["paying_customers"], last_day


def run_cli(*args, env=None):
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, env=env)


def plain_env(tmp_path, **variables):
    """The environment of a `kpiwatch` subprocess that never reaches a server (no gateway, no dbt)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return {
        **env,
        "KPIWATCH_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        **variables,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-13-01", "--end", "2024-06-30"], "kpiwatch: --start='2024-13-01' is not a date"),
        (["--start", "2024-06-30", "--end", "2024-06-01"], "kpiwatch: --end 2024-06-01 is before --start 2024-06-30."),
        (["--start", "2024-06-01", "--end", "2024-06-30", "--metric", "revenue"], "kpiwatch: unknown series 'revenue'"),
        (["--start", "2024-06-01", "--end", "2024-06-30", "--plot", "out.svg"], "kpiwatch: --plot 'out.svg' must name"),
    ],
)
def test_backtest_refuses_malformed_arguments_in_one_line(args, message, tmp_path):
    done = run_cli("backtest", *args, env=plain_env(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\n", "expected a mapping with `version: 1`"),
        ("version: 1\nseries:\n  revenue: {direction: drop}\n", "unknown series 'revenue'"),
        ("version: 1\ndefaults: {sensitivity: 5}\n", "defaults must set floor, relative_floor, count_noise"),
        (
            "version: 1\ndefaults: {sensitivity: 0, floor: 0, relative_floor: 0, count_noise: false, direction: both, "
            "min_training_days: 6}\n",
            "defaults.sensitivity must be above 0",
        ),
        (
            "version: 1\ndefaults: {sensitivity: 5, floor: -1, relative_floor: 0, count_noise: false, direction: both, "
            "min_training_days: 6}\n",
            "defaults.floor must be a number of 0 or more, got -1",
        ),
        (
            "version: 1\ndefaults: {sensitivity: 5, floor: 0, relative_floor: 0, count_noise: false, direction: both, "
            "min_training_days: 6}\nseries:\n  dau: {direction: sideways}\n",
            "series.dau.direction must be one of",
        ),
        (
            "version: 1\ndefaults: {sensitivity: 5, floor: 0, relative_floor: 0, count_noise: yes please, "
            "direction: both, min_training_days: 6}\n",
            "defaults.count_noise must be true or false",
        ),
        (
            "version: 1\ndefaults: {sensitivity: 5, floor: 0, relative_floor: 0, count_noise: false, direction: both, "
            "min_training_days: 60}\n",
            "defaults.min_training_days must be a whole number from 2 to 14",
        ),
        ("version: [1\n", "is not valid YAML"),
    ],
)
def test_a_malformed_anomaly_configuration_is_refused_in_one_line(text, message, tmp_path):
    config = tmp_path / "anomalies.yml"
    config.write_text(text)
    env = plain_env(tmp_path, KPIWATCH_ANOMALIES_CONFIG=str(config))
    done = run_cli("backtest", "--start", "2024-06-01", "--end", "2024-06-30", env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and str(config) in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("anomaly", "message"),
    [
        ("outage@2024-06-01", "kpiwatch: --anomaly 'outage@2024-06-01': expected KIND@YYYY-MM-DD"),
        ("activity_drop", "kpiwatch: --anomaly 'activity_drop': expected KIND@YYYY-MM-DD"),
        ("activity_drop@June", "kpiwatch: --anomaly 'activity_drop@June': 'June' is not a date"),
        ("churn_wave@2020-01-01", "kpiwatch: --anomaly churn_wave@2020-01-01: 2020-01-01 is outside the generated"),
    ],
)
def test_generate_refuses_malformed_anomalies_in_one_line(anomaly, message, tmp_path):
    out = tmp_path / "g.duckdb"
    env = plain_env(tmp_path)
    done = run_cli(
        "generate", "--out", str(out), "--as-of", "2024-06-30", "--days", "30", "--anomaly", anomaly, env=env
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr
    assert not out.exists()


PLANTED = (
    "activity_drop@2023-09-13",
    "churn_wave@2023-11-15",
    "spend_spike@2024-01-17",
    "feature_dark@2024-03-13",
    "conversion_stop@2024-04-10",
)


@pytest.fixture(scope="module")
def planted_company(tmp_path_factory, cli_env):
    """Two years, 12,000 users, five planted anomalies in the last year, built by the real CLI. The size is
    what the conversion stall needs: a weekly cohort of ~80 paid-search signups, where a rate of 0 against
    ~15 % is beyond its binomial noise (with 3,000 users a week has ~20 and a stall cannot be told apart)."""
    work = tmp_path_factory.mktemp("planted")
    db = work / "planted.duckdb"
    env = cli_env(db, work / "home", KPIWATCH_PUSHGATEWAY_URL="off")
    anomalies = [arg for a in PLANTED for arg in ("--anomaly", a)]
    generate = (
        "generate",
        "--out",
        str(db),
        "--as-of",
        "2024-06-30",
        "--users",
        "12000",
        "--days",
        "730",
        "--seed",
        "11",
    )
    done = run_cli(*generate, *anomalies, env=env)
    assert done.returncode == 0, done.stderr
    assert all(f"Planted {a}:" in done.stdout for a in PLANTED)
    done = run_cli("run", "--as-of", "2024-06-30", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return db, env, work


@pytest.mark.slow
def test_the_backtest_finds_every_planted_anomaly_on_time_with_few_false_alerts(planted_company):
    db, env, work = planted_company
    plot = work / "backtest.png"
    done = run_cli(
        "backtest", "--start", "2023-07-01", "--end", "2024-06-30", "--format", "csv", "--plot", str(plot), env=env
    )
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(table[0]) == ["date", "metric", "value", "lower", "expected", "upper", "score", "fired"]
    assert plot.read_bytes().startswith(b"\x89PNG")
    verdicts = read_verdicts(DuckDBWarehouse(db), load_anomaly_config(), dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    assert len(table) == len(verdicts)  # the CSV is the verdicts, one row per series and day
    fired_rows = {(r["date"], r["metric"]) for r in table if r["fired"]}
    assert fired_rows == {
        (v.day.isoformat(), v.series if v.segment == "all" else f"{v.series}/{v.segment}") for v in verdicts if v.fired
    }
    planted = [parse_anomaly(a) for a in PLANTED]
    for anomaly in planted:
        assert found_on_time(verdicts, anomaly), anomaly
    assert len(false_alert_days(verdicts, planted)) <= 3
    # The fixed thresholds on the same data: the table reports them, and they miss the spike and the dark feature.
    table_view = run_cli("backtest", "--start", "2023-07-01", "--end", "2024-06-30", env=env)
    assert "Days the fixed thresholds would have fired" in table_view.stdout
    fixed_days = [line for line in table_view.stdout.splitlines() if "(Kpiwatch" in line]
    assert not [line for line in fixed_days if "2024-01-1" in line or "2024-03-1" in line]
