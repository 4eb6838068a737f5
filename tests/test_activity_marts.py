"""DAU/WAU/MAU, feature adoption and retention cohorts on hand-worked activity, plus an empty company."""

import pytest

from tests.conftest import build_world, rows, ts
from tests.fixtures import activity_world as world

pytestmark = pytest.mark.slow


@pytest.fixture
def db(activity_world_db):
    return activity_world_db


def test_active_users_count_distinct_users_in_trailing_windows(db):
    got = {
        str(r["activity_date"]): (r["dau"], r["wau"], r["mau"])
        for r in rows(db, "select * from marts.fct_active_users_daily")
    }
    for day, expected in world.ACTIVE_USERS.items():
        assert got[day] == expected, day


def test_active_users_cover_every_day_from_first_activity_to_the_evaluation_date(db):
    got = rows(
        db, "select min(activity_date) as lo, max(activity_date) as hi, count(*) as n from marts.fct_active_users_daily"
    )
    assert (str(got[0]["lo"]), str(got[0]["hi"]), got[0]["n"]) == ("2024-01-01", "2024-02-10", 41)


def test_dau_mau_ratio(db):
    got = rows(db, "select dau_mau_ratio from marts.fct_active_users_daily where activity_date = '2024-02-10'")
    assert got[0]["dau_mau_ratio"] == pytest.approx(1 / 3)


def test_feature_adoption_is_thirty_day_adopters_over_thirty_day_actives(db):
    got = {
        (str(r["activity_date"]), r["feature"]): r for r in rows(db, "select * from marts.fct_feature_adoption_daily")
    }
    for key, (adopters, actives) in world.ADOPTION.items():
        assert (got[key]["adopters_30d"], got[key]["active_users_30d"]) == (adopters, actives), key
        assert got[key]["adoption_rate"] == pytest.approx(adopters / actives)
    assert len(got) == 41 * 6  # every day x every feature in the feature_map seed, zeros included


def test_retention_cohorts_by_signup_month(db):
    got = {
        (str(r["cohort_month"]), r["months_since_signup"]): (r["cohort_size"], r["retained_users"])
        for r in rows(db, "select * from marts.fct_retention_cohorts")
    }
    assert got == world.RETENTION
    rate = rows(
        db,
        "select retention_rate from marts.fct_retention_cohorts where cohort_month = '2024-01-01' and "
        "months_since_signup = 1",
    )
    assert rate[0]["retention_rate"] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    tables = {
        "users": [("u1", ts("2024-01-15 10:00:00"), "US", "organic")],
        "subscriptions": [],
        "events": [],
        "marketing_spend": [],
    }
    return build_world(tmp_path_factory, "empty_world", tables, "2024-03-10")


def test_a_company_with_no_revenue_or_activity_gets_zero_rows_not_errors(empty_db):
    mrr = rows(empty_db, "select month, mrr_usd, paying_customers from marts.fct_mrr_monthly order by month")
    assert [(str(r["month"]), r["mrr_usd"], r["paying_customers"]) for r in mrr] == [
        ("2024-01-01", 0, 0),
        ("2024-02-01", 0, 0),
        ("2024-03-01", 0, 0),
    ]
    active = rows(empty_db, "select * from marts.fct_active_users_daily")
    assert [(str(r["activity_date"]), r["dau"], r["wau"], r["mau"], r["dau_mau_ratio"]) for r in active] == [
        ("2024-03-10", 0, 0, 0, None)
    ]
    economics = rows(empty_db, "select logo_churn_rate, ltv_usd, quick_ratio from marts.fct_unit_economics_monthly")
    assert all(r == {"logo_churn_rate": None, "ltv_usd": None, "quick_ratio": None} for r in economics)
    conversion = rows(empty_db, "select * from marts.fct_conversion_monthly where acquisition_channel = 'all'")
    assert [(r["signups"], r["converted_30d"]) for r in conversion] == [(1, 0)]


def test_retention_cohort_months_still_running_are_flagged(db):
    """As of 2024-02-10, February is month-to-date: the January cohort's month 1 is not complete yet."""
    found = rows(db, "select cohort_month, months_since_signup, is_complete from marts.fct_retention_cohorts")
    flags = {(str(r["cohort_month"]), r["months_since_signup"]): r["is_complete"] for r in found}
    assert flags[("2024-01-01", 0)] is True
    assert flags[("2024-01-01", 1)] is False and flags[("2024-02-01", 0)] is False
