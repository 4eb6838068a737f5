"""Anomaly bands: the daily series, their bands on hand-worked data, the verdict rules, and the backtest on a
generated company with planted anomalies (every kind found on time, no more than 3 false alerts a year)."""

import csv
import dataclasses
import datetime as dt
import io
import os
import subprocess

import duckdb
import pytest

from kpiwatch.executables import beside_interpreter
from kpiwatch.sample.planted import parse_anomaly
from kpiwatch.warehouse import DuckDBWarehouse
from metrics.anomaly_config import SERIES_MARTS, SeriesRule, load_anomaly_config
from metrics.bands import read_verdicts, verdicts_of_day
from metrics.samples import missing_bands
from tests.anomaly_scoring import false_alert_days, found_on_time
from tests.conftest import build_world, d, rows
from tests.fixtures import band_world

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
def mrr_db(mrr_world_db):
    return mrr_world_db


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


def series_values(db, mart: str, metric: str, segment: str = "all") -> dict[dt.date, float]:
    query = f"select metric_date, value from marts.{mart} where metric = ? and segment = ?"
    return {r["metric_date"]: r["value"] for r in rows(db, query, [metric, segment])}


@pytest.mark.slow
def test_new_and_churned_mrr_month_to_date_count_each_change(mrr_db):
    """The hand-worked MRR company (tests/fixtures/mrr_world.py), change by change: new MRR is a customer's
    first payment (u_two's second subscription is expansion, u_react's return in April is not new); churned MRR
    is what a customer paid when they stop (u_blip, 03-05 to 03-20, is new and churned in March, though never
    at a month end)."""
    new = series_values(mrr_db, "fct_series_revenue_daily", "new_mrr_mtd")
    churned = series_values(mrr_db, "fct_series_revenue_daily", "churned_mrr_mtd")
    expected_new = {"2024-01-01": 127, "2024-01-04": 235, "2024-01-31": 415, "2024-02-29": 40, "2024-03-04": 0}
    expected_new |= {"2024-03-05": 25, "2024-03-31": 95, "2024-04-01": 0, "2024-04-15": 0}
    assert {day: new[d(day)] for day in expected_new} == pytest.approx(expected_new)
    expected_churned = {"2024-01-31": 0, "2024-02-03": 108, "2024-02-29": 108, "2024-03-01": 40, "2024-03-20": 65}
    expected_churned |= {"2024-03-31": 65, "2024-04-15": 0}
    assert {day: churned[d(day)] for day in expected_churned} == pytest.approx(expected_churned)
    # Day-of-month bands: 03-31 learns from 02-29 (the last day of a shorter month) and 01-31, the only earlier
    # months; the trend through 415 (lag 2) and 40 (lag 1) is -375 a month, projecting to -335.
    [band] = rows(
        mrr_db,
        "select * from marts.fct_series_revenue_daily where metric = 'new_mrr_mtd' and metric_date = ?",
        [d("2024-03-31")],
    )
    assert (band["method"], band["training_days"]) == ("monthday", 2)
    assert (band["slope"], band["expected"]) == pytest.approx((-375, -335))


@pytest.mark.slow
def test_acquisition_series_per_channel_and_trailing_cac(mrr_db):
    """Signups, spend and the trailing-30-day CAC per channel, worked out from tests/fixtures/mrr_world.py:
    first payments u_down 01-01 (organic), u_react 01-03 (unknown), u_upgrade 01-05 and u_annual 01-10
    (paid_search), u_two 01-15 (content), u_boundary 02-01 (paid_search), u_blip 03-05 (paid_search), u_sched
    03-15 (content)."""
    mart = "fct_series_acquisition_daily"
    assert series_values(mrr_db, mart, "signups", "paid_search")[d("2024-01-02")] == 1  # u_boundary at 00:00
    assert series_values(mrr_db, mart, "signups")[d("2024-01-02")] == 2  # and u_react, channel unknown
    assert series_values(mrr_db, mart, "spend", "content")[d("2024-03-31")] == pytest.approx(54)  # EUR 50
    cac = {segment: series_values(mrr_db, mart, "cac_30d", segment) for segment in ("all", "paid_search", "content")}
    # 01-01 .. 01-30: paid_search 300 + 100 for 2 customers, content 108 for 1; all 508 for 5.
    assert cac["paid_search"][d("2024-01-30")] == pytest.approx(200)
    assert cac["content"][d("2024-01-30")] == pytest.approx(108)
    assert cac["all"][d("2024-01-30")] == pytest.approx(101.6)
    # 01-17 .. 02-15: 100 + 200 for u_boundary alone; 03-02 .. 03-31: content 54 for u_sched, paid_search 0.
    assert cac["all"][d("2024-02-15")] == pytest.approx(300)
    assert (cac["all"][d("2024-03-31")], cac["paid_search"][d("2024-03-31")]) == pytest.approx((27, 0))
    [window] = rows(
        mrr_db,
        f"select sample_size from marts.{mart} where metric = 'cac_30d' and segment = 'all' and metric_date = ?",
        [d("2024-01-30")],
    )
    assert window["sample_size"] == 5
    # The first 29 days of the series (from u_lead's signup, 2023-11-20) have no full window: no CAC.
    assert cac["all"][d("2023-12-18")] is None


@pytest.mark.slow
def test_conversion_is_judged_per_signup_week_when_its_window_closes(mrr_db):
    """Weekly cohorts (Monday to Sunday) of tests/fixtures/mrr_world.py, dated 36 days after their Monday.
    Week of 2024-01-01: u_annual (paid 01-10) and u_react (01-03) converted; u_boundary signed up 01-02 00:00
    and first paid 02-01 00:00, exactly 30 days later: not within the window. u_two (12-10, a Sunday: week of
    12-04) first paid 36 days after signing up. u_future's week (04-08) is not complete on 04-15."""
    cohorts = {
        (r["metric_date"].isoformat(), r["segment"]): (r["value"], r["sample_size"])
        for r in rows(mrr_db, "select * from marts.fct_series_conversion_daily")
    }
    assert cohorts == (
        {
            ("2023-12-26", "all"): (0, 1),  # u_lead, never paid
            ("2023-12-26", "organic"): (0, 1),
            ("2024-01-09", "all"): (0, 1),
            ("2024-01-09", "content"): (0, 1),
            ("2024-01-23", "all"): (1, 1),
            ("2024-01-23", "paid_search"): (1, 1),
            ("2024-01-30", "all"): (1, 1),  # u_down, 2023-12-31 23:30, paid 30 minutes later
            ("2024-01-30", "organic"): (1, 1),
            ("2024-02-06", "all"): (pytest.approx(2 / 3), 3),
            ("2024-02-06", "paid_search"): (0.5, 2),
            ("2024-02-06", "unknown"): (1, 1),
            ("2024-04-02", "all"): (1, 2),  # u_blip and u_sched, both 03-01
            ("2024-04-02", "paid_search"): (1, 1),
            ("2024-04-02", "content"): (1, 1),
        }
    )


def band_rows_db(tmp_path, *bands: tuple) -> DuckDBWarehouse:
    """A warehouse whose series marts hold only the given band rows:
    (mart, day, series, value, sample_size, expected, spread)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = tmp_path / "bands.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema if not exists marts")
    for mart in SERIES_MARTS:
        con.execute(
            f"create table marts.{mart} (metric_date date, metric varchar, segment varchar, value double, "
            "sample_size double, method varchar, expected double, spread double, slope double, training_days integer)"
        )
    for mart, day, series, value, sample_size, expected, spread in bands:
        con.execute(
            f"insert into marts.{mart} values (?, ?, 'all', ?, ?, 'cohort', ?, ?, 0, 8)",
            [day, series, value, sample_size, expected, spread],
        )
    con.close()
    return DuckDBWarehouse(db)


def judged(tmp_path, mart: str, series: str, band: dict, series_rule: SeriesRule):
    """The verdict of one hand-set band row."""
    warehouse = band_rows_db(
        tmp_path, (mart, TARGET_DAY, series, band["value"], band["n"], band["expected"], band["spread"])
    )
    config = with_rule(series, series_rule)
    [verdict] = read_verdicts(warehouse, config, TARGET_DAY, TARGET_DAY, series=series)
    return verdict


def test_a_run_publishes_the_newest_complete_cohort_but_never_an_older_day_of_a_daily_series(tmp_path):
    conversion, activity = "fct_series_conversion_daily", "fct_series_activity_daily"
    warehouse = band_rows_db(
        tmp_path,
        (conversion, dt.date(2024, 5, 14), "conversion", 0.2, 40, 0.2, 0.01),
        (conversion, dt.date(2024, 5, 21), "conversion", 0.0, 40, 0.2, 0.01),
        (activity, dt.date(2024, 5, 22), "dau", 100, None, 100, 5),
    )
    config = load_anomaly_config()
    on_thursday = verdicts_of_day(warehouse, config, dt.date(2024, 5, 23))
    assert [(v.series, v.day, v.fired) for v in on_thursday] == [("conversion", dt.date(2024, 5, 21), "drop")]
    assert "series dau" in missing_bands(on_thursday)  # 05-22's DAU does not stand in for 05-23's
    assert "series conversion" not in missing_bands(on_thursday)
    on_monday = verdicts_of_day(warehouse, config, dt.date(2024, 5, 27))
    assert [v.day for v in on_monday if v.series == "conversion"] == [dt.date(2024, 5, 21)]
    assert not verdicts_of_day(warehouse, config, dt.date(2024, 5, 28))  # a week on, that cohort is no news


TARGET_DAY = dt.date(2024, 5, 21)


def test_a_conversion_band_is_at_least_its_binomial_noise_on_the_arcsine_scale(tmp_path):
    """expected 20 % of 36 signups, sensitivity 3: asin(sqrt(0.2)) = 0.463648, minus 3 / (2 x 6) = 0.213648,
    sin(0.213648)^2 = 0.044955: the band reaches down to 4.50 % although the learnt spread (0.01) is far narrower."""
    conversion = rule(sensitivity=3.0, relative_floor=0.0)
    band = {"value": 0.04, "n": 36, "expected": 0.2, "spread": 0.01}
    verdict = judged(tmp_path, "fct_series_conversion_daily", "conversion", band, conversion)
    assert verdict.lower == pytest.approx(0.044955, abs=1e-6)
    assert verdict.fired == "drop"
    inside = judged(tmp_path / "in", "fct_series_conversion_daily", "conversion", {**band, "value": 0.05}, conversion)
    assert inside.score == 0 and not inside.fired


def test_a_cost_per_customer_band_is_at_least_the_noise_of_its_customer_count(tmp_path):
    """CAC expected 100 over 25 new customers, sensitivity 5: 5 x 100 / sqrt(25) = 100 each side."""
    cac = rule(direction="spike", relative_floor=0.0)
    band = {"value": 190, "n": 25, "expected": 100, "spread": 1}
    verdict = judged(tmp_path, "fct_series_acquisition_daily", "cac_30d", band, cac)
    assert (verdict.lower, verdict.upper) == pytest.approx((0, 200))
    assert not verdict.fired


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
