"""Prices billed every N weeks, months or years (Stripe's interval and interval_count) on a hand-worked company.

Evaluation date 2024-04-15; MRR is the end-of-month value (the current month: as of the evaluation date).
  u_quarter   "3 month"  USD 300   from 01-01            -> 300 / 3        = 100.00 a month
  u_biennial  "2 year"   USD 2,400 from 01-10            -> 2,400 / 24     = 100.00
  u_weekly    "week"     USD 12    from 02-01            -> 12 × 52 / 12   =  52.00
  u_fortnight "2 week"   USD 30    from 03-01            -> 30 × 52 / 24   =  65.00
  u_switch    "1 month"  USD 40    01-01..03-05, then
              "3 month"  USD 90    from 03-05            -> 40.00, then 90 / 3 = 30.00 (contraction -10)

Monthly MRR: Jan 240 (100 + 100 + 40), Feb 292 (+52 new), Mar 347 (+65 new, -10 contraction), Apr 347.
Paying customers: 3, 4, 5, 5. By billing interval in March: "3 month" 130 (100 + 30), "2 year" 100, "week" 52,
"2 week" 65; in January u_switch's "1 month" is the segment "month" (40).
"""

import pytest

from kpiwatch.contract import billing_intervals
from tests.conftest import build_world, money, rows, ts

pytestmark = pytest.mark.slow
AS_OF = "2024-04-15"
USERS = [
    (user, ts("2024-01-01 09:00:00"), "US", "organic")
    for user in ("u_quarter", "u_biennial", "u_weekly", "u_fortnight", "u_switch")
]
SUBSCRIPTIONS = [
    ("s_q", "u_quarter", "pro", "3 month", "300.00", "USD", ts("2024-01-01 00:00:00"), None),
    ("s_b", "u_biennial", "pro", "2 year", "2400.00", "USD", ts("2024-01-10 00:00:00"), None),
    ("s_w", "u_weekly", "lite", "week", "12.00", "USD", ts("2024-02-01 00:00:00"), None),
    ("s_f", "u_fortnight", "lite", "2 week", "30.00", "USD", ts("2024-03-01 00:00:00"), None),
    ("s_s", "u_switch", "basic", "1 month", "40.00", "USD", ts("2024-01-01 00:00:00"), ts("2024-03-05 00:00:00")),
    ("s_s", "u_switch", "basic", "3 month", "90.00", "USD", ts("2024-03-05 00:00:00"), None),
]
TABLES = {"users": USERS, "subscriptions": SUBSCRIPTIONS, "events": [], "marketing_spend": []}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_world(tmp_path_factory, "billing_intervals", TABLES, AS_OF)


def test_intervals_of_n_weeks_months_and_years_are_normalised_to_a_month(db):
    monthly = {
        str(r["month"]): (money(r["mrr_usd"]), money(r["arr_usd"]), r["paying_customers"])
        for r in rows(db, "select * from marts.fct_mrr_monthly")
    }
    expected = {
        "2024-01-01": ("240", "2880", 3),
        "2024-02-01": ("292", "3504", 4),
        "2024-03-01": ("347", "4164", 5),
        "2024-04-01": ("347", "4164", 5),
    }
    assert monthly == {month: (money(mrr), money(arr), n) for month, (mrr, arr, n) in expected.items()}
    customers = {
        (str(r["month"]), r["user_id"]): (money(r["mrr_usd"]), r["movement"])
        for r in rows(db, "select * from marts.fct_customer_mrr_monthly where month in ('2024-02-01', '2024-03-01')")
    }
    expected = {
        ("2024-02-01", "u_quarter"): ("100", None),
        ("2024-02-01", "u_biennial"): ("100", None),
        ("2024-02-01", "u_weekly"): ("52", "new"),
        ("2024-02-01", "u_switch"): ("40", None),
        ("2024-03-01", "u_quarter"): ("100", None),
        ("2024-03-01", "u_biennial"): ("100", None),
        ("2024-03-01", "u_weekly"): ("52", None),
        ("2024-03-01", "u_fortnight"): ("65", "new"),
        ("2024-03-01", "u_switch"): ("30", "contraction"),
    }
    assert customers == {key: (money(mrr), movement) for key, (mrr, movement) in expected.items()}


def test_each_interval_is_one_segment_whatever_its_spelling(db):
    segments = {
        (str(r["month"]), r["segment"]): money(r["mrr_usd"])
        for r in rows(
            db,
            "select month, segment, mrr_usd from marts.fct_mrr_by_segment_monthly "
            "where dimension = 'billing_interval' and month in ('2024-01-01', '2024-03-01')",
        )
    }
    expected = {
        ("2024-01-01", "3 month"): "100",
        ("2024-01-01", "2 year"): "100",
        ("2024-01-01", "month"): "40",
        ("2024-03-01", "3 month"): "130",
        ("2024-03-01", "2 year"): "100",
        ("2024-03-01", "week"): "52",
        ("2024-03-01", "2 week"): "65",
        ("2024-03-01", "month"): "0",
    }
    assert segments == {key: money(mrr) for key, mrr in expected.items()}


def test_the_contract_allows_stripes_intervals_up_to_three_years_and_no_days():
    allowed = set(billing_intervals())
    assert {"month", "year", "week", "1 month", "3 month", "36 month", "3 year", "156 week"} <= allowed
    assert not {"day", "1 day", "0 month", "37 month", "4 year", "157 week", "3 months", "Month"} & allowed
