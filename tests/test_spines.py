"""A stray timestamp decades back (a 1900-01-01 default) never removes the evaluation month or day from the
marts: the month and day spines are counted back from the evaluation date (the rows themselves are a named
check failure, timestamps_after_earliest, when they go through the job)."""

import pytest

from tests.conftest import build_world, rows, ts
from tests.fixtures import activity_world as world

pytestmark = pytest.mark.slow

ANCIENT_USER = ("u0", ts("1900-01-01 00:00:00"), "US", "organic")
ANCIENT_EVENT = ("e0", "u0", "login", ts("1900-01-01 12:00:00"))
SUBSCRIPTIONS = [
    # u1 pays 100 USD a month from 2024-01-01; u0's period in 1900 ended long ago.
    ("s1", "u1", "pro", "month", 100, "USD", ts("2024-01-01 00:00:00"), None),
    ("s0", "u0", "pro", "month", 30, "USD", ts("1900-01-01 00:00:00"), ts("1900-06-01 00:00:00")),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tables = {
        **world.TABLES,
        "users": [ANCIENT_USER, *world.USERS],
        "events": [ANCIENT_EVENT, *world.EVENTS],
        "subscriptions": SUBSCRIPTIONS,
    }
    return build_world(tmp_path_factory, "ancient_world", tables, world.AS_OF)


def test_the_evaluation_month_keeps_its_mrr(db):
    got = rows(db, "select mrr_usd, paying_customers from marts.fct_mrr_monthly where month = '2024-02-01'")
    assert [(float(r["mrr_usd"]), r["paying_customers"]) for r in got] == [(100.0, 1)]


def test_the_evaluation_day_keeps_its_active_users(db):
    got = rows(db, "select dau, wau, mau from marts.fct_active_users_daily where activity_date = '2024-02-10'")
    assert [(r["dau"], r["wau"], r["mau"]) for r in got] == [world.ACTIVE_USERS["2024-02-10"]]
