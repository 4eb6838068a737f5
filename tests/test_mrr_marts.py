"""MRR, movements, CAC, unit economics, revenue cohorts and conversion on a hand-worked company."""

import datetime as dt
import math

import pytest

from kpiwatch.warehouse import DuckDBWarehouse
from metrics.samples import business_samples
from metrics.snapshot import read_snapshot
from tests.conftest import money, rows
from tests.fixtures import mrr_world as world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(mrr_world_db):
    return mrr_world_db


def test_customer_movements_follow_the_standard_definitions(db):
    """Plan changes, a cancelled second subscription, churn at renewal and reactivation, customer by customer."""
    got = {
        (str(r["month"]), r["user_id"]): (money(r["mrr_usd"]), money(r["previous_mrr_usd"]), r["movement"])
        for r in rows(db, "select * from marts.fct_customer_mrr_monthly")
    }
    expected = {k: (money(m), money(p), mv) for k, (m, p, mv) in world.CUSTOMER_MONTHS.items()}
    assert got == expected


def test_a_period_ending_exactly_at_the_month_boundary_counts_in_that_month(db):
    """u_boundary ran [02-01 00:00, 03-01 00:00): it pays at February's last instant, churns in March."""
    got = rows(db, "select month, movement from marts.fct_customer_mrr_monthly where user_id = 'u_boundary' order by 1")
    assert [(str(r["month"]), r["movement"]) for r in got] == [("2024-02-01", "new"), ("2024-03-01", "churn")]


def test_monthly_mrr_and_movements_match_the_hand_worked_table(db):
    got = rows(db, "select * from marts.fct_mrr_monthly order by month")
    assert [str(r["month"]) for r in got] == list(world.MONTHS)
    for r in got:
        mrr, new, exp, con, churn, react, net, paying, new_c, churned_c, arpa = world.MONTHS[str(r["month"])]
        assert money(r["mrr_usd"]) == money(mrr)
        assert money(r["arr_usd"]) == money(mrr) * 12
        assert (money(r["new_mrr_usd"]), money(r["expansion_mrr_usd"])) == (money(new), money(exp))
        assert (money(r["contraction_mrr_usd"]), money(r["churned_mrr_usd"])) == (money(con), money(churn))
        assert (money(r["reactivation_mrr_usd"]), money(r["net_new_mrr_usd"])) == (money(react), money(net))
        assert (r["paying_customers"], r["new_customers"], r["churned_customers"]) == (paying, new_c, churned_c)
        assert money(r["arpa_usd"]) == money(arpa)


def test_empty_months_are_rows_of_zeros_not_gaps(db):
    got = rows(db, "select * from marts.fct_mrr_monthly where month < '2024-01-01' order by month")
    assert [(str(r["month"]), r["mrr_usd"], r["paying_customers"], r["arpa_usd"]) for r in got] == [
        ("2023-11-01", 0, 0, None),
        ("2023-12-01", 0, 0, None),
    ]


def test_running_month_is_flagged_incomplete(db):
    flags = {
        str(r["month"]): r["is_complete"] for r in rows(db, "select month, is_complete from marts.fct_mrr_monthly")
    }
    assert flags["2024-03-01"] is True and flags["2024-04-01"] is False


def test_cac_is_spend_over_new_customers_per_channel_and_blended(db):
    got = {(str(r["month"]), r["channel"]): r for r in rows(db, "select * from marts.fct_cac_monthly")}
    for key, (spend, new_customers, cac) in world.CAC.items():
        row = got[key]
        assert (money(row["spend_usd"]), row["new_customers"], money(row["cac_usd"])) == (
            money(spend),
            new_customers,
            money(cac),
        ), key
    assert {c for _, c in got} == {"paid_search", "content", "organic", "unknown", "all"}


def test_unit_economics_match_hand_worked_rates(db):
    got = {str(r["month"]): r for r in rows(db, "select * from marts.fct_unit_economics_monthly")}
    names = [
        "logo_churn_rate",
        "revenue_churn_rate",
        "net_revenue_retention",
        "gross_revenue_retention",
        "quick_ratio",
        "expected_lifetime_months",
        "ltv_usd",
        "cac_usd",
        "ltv_to_cac",
        "cac_payback_months",
    ]
    for month, expected in world.UNIT_ECONOMICS.items():
        for name, value in zip(names, expected, strict=False):
            actual = got[month][name]
            if value is None:
                assert actual is None, (month, name, actual)
            else:
                assert float(actual) == pytest.approx(value, rel=1e-9), (month, name)


def test_revenue_retention_cohorts_group_customers_by_first_paid_month(db):
    got = {
        (str(r["cohort_month"]), r["months_since_first_payment"]): (
            r["cohort_customers"],
            r["retained_customers"],
            money(r["starting_mrr_usd"]),
            money(r["mrr_usd"]),
        )
        for r in rows(db, "select * from marts.fct_revenue_retention_cohorts")
    }
    expected = {k: (c, r, money(s), money(m)) for k, (c, r, s, m) in world.REVENUE_COHORTS.items()}
    assert got == expected
    april = rows(
        db,
        "select revenue_retention_rate from marts.fct_revenue_retention_cohorts "
        "where cohort_month = '2024-01-01' and months_since_first_payment = 3",
    )
    assert april[0]["revenue_retention_rate"] == pytest.approx(327.5 / 435)


def test_conversion_counts_paid_starts_within_thirty_days_of_signup(db):
    got = {
        (str(r["signup_month"]), r["acquisition_channel"]): r
        for r in rows(db, "select * from marts.fct_conversion_monthly")
    }
    for key, (signups, converted, complete) in world.CONVERSION.items():
        row = got[key]
        assert (row["signups"], row["converted_30d"], row["is_complete"]) == (signups, converted, complete), key
        assert row["conversion_rate_30d"] == pytest.approx(converted / signups)


def test_an_unknown_currency_stops_the_revenue_marts_instead_of_undercounting(tmp_path_factory):
    """A subscription in a currency missing from fx_rates fails a named dbt test; MRR is not built from it."""
    from tests.conftest import dbt_build, write_raw_warehouse

    tables = dict(world.TABLES)
    tables["subscriptions"] = [
        *world.SUBSCRIPTIONS,
        ("s_xyz", "u_lead", "basic", "month", "10.00", "XYZ", world.SUBSCRIPTIONS[0][6], None),
    ]
    work = tmp_path_factory.mktemp("unknown_currency")
    db = write_raw_warehouse(work / "w.duckdb", tables)
    done = dbt_build(db, world.AS_OF, work)
    assert done.returncode != 0
    assert "FAIL 1 relationships_stg_subscriptions_currency__currency__ref_fx_rates_" in done.stdout
    assert "SKIP relation marts.fct_mrr_monthly" in done.stdout


@pytest.mark.parametrize(
    "table", ["fct_mrr_monthly", "fct_unit_economics_monthly", "fct_cac_monthly", "fct_customer_mrr_monthly"]
)
def test_month_to_date_rows_are_flagged_as_incomplete(db, table):
    """As of 2024-04-15, April is month-to-date: is_complete is false for it and true for every earlier month."""
    flags = {
        str(r["month"]): r["is_complete"] for r in rows(db, f"select distinct month, is_complete from marts.{table}")
    }
    assert flags["2024-04-01"] is False and flags["2024-03-01"] is True
    assert all(flag == (month < "2024-04-01") for month, flag in flags.items())


def test_a_month_without_revenue_churn_shows_zero_not_minus_zero(db):
    zero = rows(
        db, "select month, revenue_churn_rate from marts.fct_unit_economics_monthly where revenue_churn_rate = 0"
    )
    assert zero, "the hand-worked company has a month without churn or contraction"
    assert all(math.copysign(1.0, r["revenue_churn_rate"]) == 1.0 for r in zero)


def test_revenue_cohort_months_still_running_are_flagged(db):
    found = rows(
        db, "select cohort_month, months_since_first_payment, is_complete from marts.fct_revenue_retention_cohorts"
    )
    assert found
    for r in found:
        observed = r["cohort_month"].month + r["months_since_first_payment"]  # all within 2024
        assert r["is_complete"] == (observed < 4), r


def test_conversion_gauges_read_the_newest_complete_cohort_and_its_baseline(db):
    """As of 2024-04-15 the newest signup month whose windows have closed is January (no February signups;
    March's windows are open): 2 of 3 converted (u_annual, u_react), paid_search 1 of 2, unknown 1 of 1. The
    baseline pools the three months before: November 0 of 1 and December 2 of 3 give 2 of 4."""
    snapshot = read_snapshot(DuckDBWarehouse(db), dt.date.fromisoformat(world.AS_OF))
    assert snapshot.conversion_cohort == dt.date(2024, 1, 1)
    assert snapshot.conversion == pytest.approx({"all": 2 / 3, "paid_search": 1 / 2, "unknown": 1.0})
    assert snapshot.conversion_baseline["all"] == pytest.approx(2 / 4)
    samples = {(s.name, s.labels.get("channel")): s.value for s in business_samples(snapshot)}
    assert samples[("kpiwatch_conversion_rate", "all")] == pytest.approx(2 / 3)
    assert samples[("kpiwatch_conversion_baseline_rate", "all")] == pytest.approx(0.5)


def test_conversion_channels_beyond_the_top_n_are_one_blended_other(db):
    snapshot = read_snapshot(DuckDBWarehouse(db), dt.date.fromisoformat(world.AS_OF), segment_top_n=1)
    # paid_search has the most January signups (2); unknown's 1 of 1 becomes other's rate.
    assert snapshot.conversion == pytest.approx({"all": 2 / 3, "paid_search": 1 / 2, "other": 1.0})
