"""Daily partitions through the real Dagster job: incremental runs and backfills equal a full rebuild.

Two copies of the same generated warehouse. One is rebuilt from all history (`--full-refresh`); the other
lives the way production does: a first run, a backfill, daily runs, then late and corrected data handled
by the look-back and by a backfill of a past day. Every intermediate and mart table must match row for row.
"""

import datetime as dt
import shutil

import duckdb
import pytest

from kpiwatch.hosting.launch import run_backfill, run_once
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import copy_run_state, differing_rows, query_one

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)
DAY = dt.timedelta(days=1)


def windows_unlike_a_distinct_count(db) -> list:
    """Days whose WAU, MAU or 30-day adopters differ from a plain COUNT(DISTINCT) over raw events.

    The marts use one sorted pass ("islands"); this join of every day with its whole window is the
    definition itself, too slow for real data but exact on a small warehouse.
    """
    activity = f"""select distinct user_id, event_name, cast(occurred_at as date) as day
                   from raw.events where occurred_at < timestamp '{AS_OF + DAY}'"""
    users = f"""
        select marts.activity_date, marts.wau, marts.mau,
               count(distinct activity.user_id) filter (where activity.day > marts.activity_date - 7) as distinct_wau,
               count(distinct activity.user_id) as distinct_mau
        from marts.fct_active_users_daily as marts
        left join ({activity}) as activity on activity.day between marts.activity_date - 29 and marts.activity_date
        group by all
        having marts.wau <> distinct_wau or marts.mau <> distinct_mau"""
    adopters = f"""
        select marts.activity_date, marts.feature, marts.adopters_30d, count(distinct activity.user_id) as
            distinct_adopters
        from marts.fct_feature_adoption_daily as marts
        left join (select activity.user_id, activity.day, feature_map.feature
                   from ({activity}) as activity
                   join reference.feature_map as feature_map using (event_name)) as activity
            on activity.feature = marts.feature and activity.day between marts.activity_date - 29 and
                marts.activity_date
        group by all
        having marts.adopters_30d <> distinct_adopters"""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(users).fetchall() + con.execute(adopters).fetchall()
    finally:
        con.close()


def late_and_corrected_data(db) -> None:
    """Events for AS_OF-2 arrive late (within the look-back); half of AS_OF-30's events are withdrawn."""
    con = duckdb.connect(str(db))
    try:
        con.execute(f"""
            insert into raw.events
            select event_id || '-late', user_id, event_name, occurred_at - interval 2 day
            from raw.events where cast(occurred_at as date) = date '{AS_OF}' and hash(user_id) % 3 = 0
        """)
        con.execute(
            f"delete from raw.events where cast(occurred_at as date) = date '{AS_OF - 30 * DAY}' and "
            f"hash(event_id) % 2 = 0"
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("incremental")
    full, daily = work / "full.duckdb", work / "daily.duckdb"
    generate(GenerateOptions(out=full, as_of=AS_OF, users=700, days=90, seed=9), progress=False, log=lambda _: None)
    shutil.copy(full, daily)
    return (
        job_settings(full, work / "home_full", lookback_days=3),
        job_settings(daily, work / "home_daily", lookback_days=3),
    )


def assert_succeeded(outcome):
    assert outcome.success, (outcome.failures, outcome.failed_checks)


@pytest.fixture(scope="module")
def lived_warehouses(warehouses):
    """The full rebuild, and the daily copy after a first run, a backfill and two daily runs; built once
    and never changed by a test (a test that mutates works on its own copy, see `copy_run_state`)."""
    full, daily = warehouses
    outcomes = [
        run_once(full, AS_OF, full_refresh=True),
        run_once(daily, AS_OF - 20 * DAY),  # first run: builds the history up to then
        run_backfill(daily, AS_OF - 19 * DAY, AS_OF - 2 * DAY),
        run_once(daily, AS_OF - DAY),
        run_once(daily, AS_OF),
    ]
    return full, daily, outcomes


def test_first_run_backfill_and_daily_runs_equal_a_full_rebuild(lived_warehouses):
    full, daily, outcomes = lived_warehouses
    for outcome in outcomes:
        assert_succeeded(outcome)
    differences = differing_rows(full.duckdb_path, daily.duckdb_path)
    assert differences and set(differences.values()) == {0}, {k: v for k, v in differences.items() if v}
    assert query_one(full.duckdb_path, "select count(*) from marts.fct_active_users_daily")[0] == 90
    assert windows_unlike_a_distinct_count(full.duckdb_path) == []


def test_late_data_and_withdrawn_old_events_equal_a_full_rebuild_after_the_next_daily_run(lived_warehouses, tmp_path):
    """AS_OF-2 is within the look-back; AS_OF-30 is not, but its change is caught by the history fingerprints
    (history_unchanged) and re-processed in the same run. A backfill of that day changes nothing more."""
    lived_full, lived_daily, outcomes = lived_warehouses
    for outcome in outcomes:
        assert_succeeded(outcome)
    full, daily = copy_run_state(lived_full, tmp_path / "full"), copy_run_state(lived_daily, tmp_path / "daily")
    for settings in (full, daily):
        late_and_corrected_data(settings.duckdb_path)
    assert_succeeded(run_once(full, AS_OF, full_refresh=True))
    outcome = run_once(daily, AS_OF)
    assert_succeeded(outcome)
    repaired = [c for c in outcome.failed_checks if c.startswith("raw/events history_unchanged (warn): ")]
    assert repaired and f"{AS_OF - 30 * DAY} (removed, -" in repaired[0], outcome.failed_checks
    differences = differing_rows(full.duckdb_path, daily.duckdb_path)
    assert set(differences.values()) == {0}, differences
    assert_succeeded(run_backfill(daily, AS_OF - 30 * DAY, AS_OF - 30 * DAY))
    assert_succeeded(run_once(daily, AS_OF))
    differences = differing_rows(full.duckdb_path, daily.duckdb_path)
    assert set(differences.values()) == {0}, differences


def test_a_backfill_outside_the_partitions_is_refused_with_a_message(warehouses):
    from kpiwatch.errors import KpiwatchError

    _, daily = warehouses
    with pytest.raises(KpiwatchError, match="before the first daily partition"):
        run_backfill(daily, dt.date(2019, 12, 1), dt.date(2019, 12, 31))
    with pytest.raises(KpiwatchError, match="is before --start"):
        run_backfill(daily, AS_OF, AS_OF - DAY)
