"""Change attribution on the hand-worked company of tests/fixtures/segment_world.py: the MRR bridge by
segment (summing to the company's), event-level movements beside month-end netting, 12-month NRR and GRR,
active users by segment, and `kpiwatch explain` through the real CLI (hostile arguments included)."""

import csv
import io
import os
import subprocess
from decimal import Decimal

import duckdb
import pytest

from kpiwatch.executables import beside_interpreter
from kpiwatch.warehouse import DuckDBWarehouse
from metrics.samples import business_samples
from metrics.snapshot import read_snapshot
from tests.conftest import d, rows

KPIWATCH = beside_interpreter("kpiwatch")
MOVEMENT_COLUMNS = (
    "new_mrr_usd",
    "expansion_mrr_usd",
    "contraction_mrr_usd",
    "churned_mrr_usd",
    "reactivation_mrr_usd",
    "moved_in_mrr_usd",
    "moved_out_mrr_usd",
)


@pytest.fixture(scope="module")
def db(segment_world_db):
    return segment_world_db


def bridge(db, month, dimension):
    """{segment: {column: value}} of one month and dimension, zero movements left out."""
    found = rows(
        db,
        "select * from marts.fct_mrr_by_segment_monthly where month = ? and dimension = ?",
        [d(month), dimension],
    )
    return {
        r["segment"]: {k: float(r[k]) for k in ("mrr_usd", "net_new_mrr_usd", *MOVEMENT_COLUMNS) if r[k]} for r in found
    }


@pytest.mark.slow
def test_february_s_drop_by_segment_is_the_churn_of_scale_customers_in_germany(db):
    assert bridge(db, "2024-02-01", "plan") == {
        "scale": {"mrr_usd": 389, "net_new_mrr_usd": -600, "churned_mrr_usd": -600},
        "growth": {"mrr_usd": 530, "net_new_mrr_usd": 50, "expansion_mrr_usd": 50},
        "starter": {"mrr_usd": 50, "net_new_mrr_usd": 50, "new_mrr_usd": 50},
    }
    country = bridge(db, "2024-02-01", "country")
    assert country["DE"] == {"net_new_mrr_usd": -600, "churned_mrr_usd": -600}  # no MRR left in Germany
    assert country["US"]["net_new_mrr_usd"] == 100
    channels = {
        k: v["net_new_mrr_usd"]
        for k, v in bridge(db, "2024-02-01", "acquisition_channel").items()
        if "net_new_mrr_usd" in v
    }
    assert channels == {"paid_social": -300, "paid_search": -250, "content": 50}
    cohorts = {k: v.get("net_new_mrr_usd", 0) for k, v in bridge(db, "2024-02-01", "signup_cohort").items()}
    assert cohorts == {"2023-Q1": 0, "2023-Q3": -250, "2023-Q4": -300, "2024-Q1": 50}


@pytest.mark.slow
def test_every_dimension_sums_to_the_company_bridge_in_every_month(db):
    """The dbt test kpiwatch_segments_sum_to_company passed in the build; this checks the same from outside."""
    company = {r["month"]: r for r in rows(db, "select * from marts.fct_mrr_monthly")}
    sums = rows(
        db,
        "select month, dimension, sum(mrr_usd) as mrr_usd, sum(churned_mrr_usd) as churned_mrr_usd, "
        "sum(expansion_mrr_usd) as expansion_mrr_usd, sum(moved_in_mrr_usd + moved_out_mrr_usd) as moved "
        "from marts.fct_mrr_by_segment_monthly group by month, dimension",
    )
    assert len({r["dimension"] for r in sums}) == 6
    for r in sums:
        month = company[r["month"]]
        assert r["mrr_usd"] == month["mrr_usd"] and r["churned_mrr_usd"] == month["churned_mrr_usd"], r
        assert r["expansion_mrr_usd"] == month["expansion_mrr_usd"] and r["moved"] == 0, r


@pytest.mark.slow
def test_cancel_and_return_is_one_expansion_at_month_end_and_churn_plus_reactivation_by_event(db):
    january = rows(db, "select * from marts.fct_mrr_monthly where month = '2024-01-01'")[0]
    assert (january["expansion_mrr_usd"], january["churned_mrr_usd"], january["reactivation_mrr_usd"]) == (39, 0, 0)
    events = {
        r["change_date"].isoformat(): r
        for r in rows(db, "select * from marts.fct_mrr_movements_daily where month = '2024-01-01'")
    }
    assert events["2024-01-05"]["churned_mrr_usd"] == -100 and events["2024-01-05"]["churned_customers"] == 1
    assert events["2024-01-25"]["reactivation_mrr_usd"] == 139
    assert sum(r["net_new_mrr_usd"] for r in events.values()) == january["net_new_mrr_usd"] == 39
    start = Decimal(1430)
    month_end_nrr = (start + january["expansion_mrr_usd"]) / start
    event_nrr = (
        start + sum(r["churned_mrr_usd"] + r["expansion_mrr_usd"] + r["contraction_mrr_usd"] for r in events.values())
    ) / start
    assert (round(month_end_nrr, 3), round(event_nrr, 3)) == (Decimal("1.027"), Decimal("0.930"))
    # By plan, r1's 100 moved from growth to scale, and the 39 on top is scale's expansion.
    plan = bridge(db, "2024-01-01", "plan")
    assert plan["growth"] == {"mrr_usd": 480, "moved_out_mrr_usd": -100, "net_new_mrr_usd": -100}
    assert plan["scale"] == {"mrr_usd": 989, "moved_in_mrr_usd": 100, "expansion_mrr_usd": 39, "net_new_mrr_usd": 139}


@pytest.mark.slow
def test_twelve_month_nrr_and_grr_count_the_returned_customer_and_cap_the_expansion(db):
    economics = {
        r["month"].isoformat(): (r["net_revenue_retention_12m"], r["gross_revenue_retention_12m"])
        for r in rows(db, "select * from marts.fct_unit_economics_monthly")
    }
    assert economics["2024-02-01"] == pytest.approx((0.86, 0.56))
    assert economics["2024-01-01"] == pytest.approx((0.86, 0.56))
    assert economics["2023-12-01"] == (None, None)  # no month twelve months before in the history


@pytest.mark.slow
def test_active_users_by_segment_sum_to_the_company_every_day(db):
    by_country = {
        (r["activity_date"].isoformat(), r["segment"]): r["dau"]
        for r in rows(db, "select * from marts.fct_active_users_segment_daily where dimension = 'country'")
    }
    assert {k: v for k, v in by_country.items() if k[0] == "2024-02-28" and v} == {
        ("2024-02-28", "US"): 2,
        ("2024-02-28", "FR"): 1,
        ("2024-02-28", "DE"): 2,
    }
    mismatches = rows(
        db,
        "select company.activity_date, segments.dimension from marts.fct_active_users_daily as company "
        "inner join (select activity_date, dimension, sum(dau) as dau, sum(wau) as wau, sum(mau) as mau "
        "from marts.fct_active_users_segment_daily group by activity_date, dimension) as segments "
        "on segments.activity_date = company.activity_date "
        "where segments.dau <> company.dau or segments.wau <> company.wau or segments.mau <> company.mau",
    )
    assert mismatches == []


def run_cli(*args, env):
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, env=env)


def explain_env(db, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return {**env, "KPIWATCH_DUCKDB_PATH": str(db), "DAGSTER_HOME": str(tmp_path / "home")}


@pytest.mark.slow
def test_explain_mrr_names_the_segment_first_with_its_exact_amount(db, tmp_path):
    env = explain_env(db, tmp_path)
    table = run_cli("explain", "mrr", "--month", "2024-02", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "MRR 2024-02: $969.00, -$500.00 (-34.0%) against 2024-01 ($1,469.00)."
    assert lines[1] == "Concentrated in: country = DE, -$600.00 (120%): churn -$600.00."
    assert "  plan                scale -$600.00 (120%) | growth +$50.00 (-10%) | starter +$50.00 (-10%)" in lines
    done = run_cli("explain", "mrr", "--month", "2024-02", "--format", "csv", env=env)
    table_rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(table_rows[0]) == ["period", "metric", "movement", "dimension", "segment", "value", "share_of_change"]
    movements = {r["movement"]: float(r["value"]) for r in table_rows if r["dimension"] == "all"}
    assert movements == {"new": 50, "expansion": 50, "churn": -600}
    plan = [r for r in table_rows if r["dimension"] == "plan" and r["movement"] == "net"]
    assert (plan[0]["segment"], float(plan[0]["value"]), float(plan[0]["share_of_change"])) == ("scale", -600, 1.2)
    for dimension in ("plan", "billing_interval", "currency", "country", "acquisition_channel", "signup_cohort"):
        total = sum(float(r["value"]) for r in table_rows if r["dimension"] == dimension and r["movement"] == "net")
        assert total == pytest.approx(-500), dimension


@pytest.mark.slow
def test_explain_active_users_splits_gained_and_lost_users_by_segment(db, tmp_path):
    done = run_cli("explain", "active_users", "--date", "2024-03-06", "--format", "csv", env=explain_env(db, tmp_path))
    assert done.returncode == 0, done.stderr
    table_rows = list(csv.DictReader(io.StringIO(done.stdout)))
    company = {r["movement"]: float(r["value"]) for r in table_rows if r["dimension"] == "all"}
    assert company == {"gained": 1, "lost": -3}
    country = [
        (r["segment"], float(r["value"])) for r in table_rows if r["dimension"] == "country" and r["movement"] == "net"
    ]
    assert country == [("DE", -2), ("FR", -1), ("US", 1)]
    table = run_cli("explain", "active_users", "--date", "2024-03-06", env=explain_env(db, tmp_path))
    assert table.stdout.splitlines()[:2] == [
        "Daily active users 2024-03-06: 3 users, -2 users (-40.0%) against 2024-02-28 (5 users).",
        "Concentrated in: country = DE, -2 users (100%): lost -2 users.",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["revenue", "--month", "2024-02"],
            "kpiwatch: unknown metric 'revenue' to explain; use one of: mrr, active_users (a declared metric needs "
            "config.meta.kpiwatch.group_by).",
        ),
        (["mrr", "--month", "2024-13"], "kpiwatch: --month='2024-13' is not a month; use the form YYYY-MM"),
        (["mrr", "--month", "24-02"], "kpiwatch: --month='24-02' is not a month"),
        (["mrr", "--date", "2024-02-01"], "kpiwatch: explain mrr takes --month YYYY-MM"),
        (["active_users", "--month", "2024-02"], "kpiwatch: explain active_users takes --date YYYY-MM-DD"),
        (["active_users", "--date", "2024-02-30"], "kpiwatch: --date='2024-02-30' is not a date"),
        (["mrr", "--month", "2024-02", "--format", "xml"], "kpiwatch: --format 'xml' must be table or csv."),
        (["mrr", "--month", "2024-02"], "kpiwatch: nothing to explain: the warehouse has no marts.fct_mrr_monthly"),
    ],
)
def test_explain_refuses_malformed_arguments_in_one_line(args, message, tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a warehouse no run has built yet
    done = run_cli("explain", *args, env=explain_env(empty, tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


@pytest.mark.slow
def test_segment_gauges_keep_the_top_segments_by_mrr_and_sum_the_rest_as_other(db):
    snapshot = read_snapshot(DuckDBWarehouse(db), d("2024-02-29"), segment_top_n=1)
    plan = {segment: values for (dimension, segment), values in snapshot.mrr_by_segment.items() if dimension == "plan"}
    assert plan == {"growth": (530, 50), "other": (439, -550)}  # scale 389 / -600 and starter 50 / +50
    country = {s: v for (dim, s), v in snapshot.mrr_by_segment.items() if dim == "country"}
    assert country == {"US": (889, 100), "other": (80, -600)}  # FR (80, 0) and DE (0 left, -600)
    samples = {(s.name, s.labels["segment"]) for s in business_samples(snapshot) if s.labels.get("dimension") == "plan"}
    assert samples == {
        (name, segment)
        for name in ("kpiwatch_segment_mrr_usd", "kpiwatch_segment_mrr_change_usd")
        for segment in ("growth", "other")
    }
