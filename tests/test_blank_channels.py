"""A blank acquisition or spend channel is 'unknown', like a missing one: Prometheus reads channel="" as no
label at all, so a blank channel would silently merge into the blended series."""

import pytest

from tests.conftest import build_world, d, rows
from tests.fixtures import mrr_world as world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    # u_react's channel is null in the hand-worked world: here it is blank, and one spend row is blank too.
    users = [(u[0], u[1], u[2], "" if u[0] == "u_react" else u[3]) for u in world.USERS]
    spend = [*world.SPEND, (d("2024-02-15"), "   ", "10.00", "USD")]
    return build_world(
        tmp_path_factory, "blank_channels", {**world.TABLES, "users": users, "marketing_spend": spend}, world.AS_OF
    )


def test_blank_channels_are_reported_as_unknown(db):
    channels = {r["channel"] for r in rows(db, "select distinct channel from marts.fct_cac_monthly")}
    assert "unknown" in channels
    assert not [c for c in channels if not c.strip()]
    signups = rows(db, "select distinct acquisition_channel from staging.stg_users where user_id = 'u_react'")
    assert signups == [{"acquisition_channel": "unknown"}]
    spend = rows(
        db, "select sum(spend_usd) as usd from marts.fct_cac_monthly where channel = 'unknown' and month = '2024-02-01'"
    )
    assert float(spend[0]["usd"]) == 10.0
