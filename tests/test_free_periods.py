"""$0 periods (trials, free plans) on a hand-worked company: subscriptions, but not revenue (docs/metrics.md).

Evaluation date 2024-04-15.
  u_trial     $0 trial 01-05..02-05, then USD 30 -> Jan: no MRR, no row; Feb new +30; not converted within
              30 days of its 01-01 signup (first paid start 02-05, 35 days later)
  u_free      free plan from 01-10, never paid   -> no MRR, no row, never a paying customer
  u_to_free   USD 40 from 01-01, free from 03-10 -> Jan new +40; Mar churn -40 (paid to free is churn)
  u_free_back USD 20 01-01..02-10, free 02-10..03-20, USD 25 from 03-20
              -> Jan new +20; Feb churn -20; Mar reactivation +25

Monthly: MRR Jan 60, Feb 70, Mar 55, Apr 55; paying customers 2, 2, 2, 2.
"""

import pytest

from tests.conftest import build_world, money, rows, ts

pytestmark = pytest.mark.slow
AS_OF = "2024-04-15"
USERS = [
    ("u_trial", ts("2024-01-01 09:00:00"), "US", "organic"),
    ("u_free", ts("2024-01-10 09:00:00"), "US", "organic"),
    ("u_to_free", ts("2024-01-01 09:00:00"), "US", "organic"),
    ("u_free_back", ts("2024-01-01 09:00:00"), "US", "organic"),
]
SUBSCRIPTIONS = [
    ("s_trial", "u_trial", "trial", "month", "0.00", "USD", ts("2024-01-05 00:00:00"), ts("2024-02-05 00:00:00")),
    ("s_trial", "u_trial", "basic", "month", "30.00", "USD", ts("2024-02-05 00:00:00"), None),
    ("s_free", "u_free", "free", "month", "0.00", "USD", ts("2024-01-10 00:00:00"), None),
    ("s_to_free", "u_to_free", "basic", "month", "40.00", "USD", ts("2024-01-01 00:00:00"), ts("2024-03-10 00:00:00")),
    ("s_to_free", "u_to_free", "free", "month", "0.00", "USD", ts("2024-03-10 00:00:00"), None),
    ("s_back", "u_free_back", "basic", "month", "20.00", "USD", ts("2024-01-01 00:00:00"), ts("2024-02-10 00:00:00")),
    ("s_back", "u_free_back", "free", "month", "0.00", "USD", ts("2024-02-10 00:00:00"), ts("2024-03-20 00:00:00")),
    ("s_back", "u_free_back", "basic", "month", "25.00", "USD", ts("2024-03-20 00:00:00"), None),
]
TABLES = {"users": USERS, "subscriptions": SUBSCRIPTIONS, "events": [], "marketing_spend": []}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_world(tmp_path_factory, "free_periods", TABLES, AS_OF)


def test_free_periods_add_no_mrr_and_moving_between_free_and_paid_is_new_churn_or_reactivation(db):
    got = {
        (str(r["month"]), r["user_id"]): (money(r["mrr_usd"]), r["movement"])
        for r in rows(db, "select * from marts.fct_customer_mrr_monthly")
    }
    expected = {
        ("2024-02-01", "u_trial"): ("30", "new"),
        ("2024-03-01", "u_trial"): ("30", None),
        ("2024-04-01", "u_trial"): ("30", None),
        ("2024-01-01", "u_to_free"): ("40", "new"),
        ("2024-02-01", "u_to_free"): ("40", None),
        ("2024-03-01", "u_to_free"): ("0", "churn"),
        ("2024-01-01", "u_free_back"): ("20", "new"),
        ("2024-02-01", "u_free_back"): ("0", "churn"),
        ("2024-03-01", "u_free_back"): ("25", "reactivation"),
        ("2024-04-01", "u_free_back"): ("25", None),
    }
    assert got == {k: (money(m), mv) for k, (m, mv) in expected.items()}


def test_free_customers_are_not_paying_customers(db):
    got = {
        str(r["month"]): (money(r["mrr_usd"]), r["paying_customers"], r["new_customers"], r["churned_customers"])
        for r in rows(db, "select * from marts.fct_mrr_monthly")
    }
    assert got == {
        "2024-01-01": (money("60"), 2, 2, 0),
        "2024-02-01": (money("70"), 2, 1, 1),
        "2024-03-01": (money("55"), 2, 0, 1),
        "2024-04-01": (money("55"), 2, 0, 0),
    }


def test_starting_a_trial_is_not_converting(db):
    got = rows(
        db,
        "select signups, converted_30d from marts.fct_conversion_monthly "
        "where signup_month = date '2024-01-01' and acquisition_channel = 'all'",
    )
    # Four January signups; u_to_free and u_free_back paid on 01-01 (day 0); u_trial paid 35 days later.
    assert [(r["signups"], r["converted_30d"]) for r in got] == [(4, 2)]
