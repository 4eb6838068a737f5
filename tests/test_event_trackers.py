"""Product events from an event tracker (the segment, rudderstack and snowplow source adapters), on hand-worked
tracker tables with the connectors' own column names.

Segment (and RudderStack, the same layout), evaluation date 2024-04-15. tracks (id = messageId):

  m1  u1               dashboard_view  04-13 10:00  received 10:00:05, loaded 04-13 12:00   kept
  m1  u1 (a retry)     dashboard_view  04-13 10:00  received 10:05,    loaded 04-13 18:00   a duplicate: left out
  m2  anonymous a2     report_export   04-14 09:00  received 09:00,    loaded 04-14 12:00   a2 identified as u2 at
                                                                                            08:00: u2
  m3  anonymous a3     api_call        04-14 10:00  received 10:00,    loaded 04-14 12:00   a3 identified only at
                                                                                            11:00: left out
  m4  u3               alert_created   04-15 09:00  received 09:00,    loaded 04-15 12:00   kept
  m5  anonymous a9     api_call        04-15 09:30  never identified                        left out
  m6  u4               api_call        04-14 23:50  received 04-15 00:10 (the device's clock corrected: the event
                                                    time is `timestamp`, so it is 04-14's)  kept
  m8  anonymous a2     dashboard_view  04-15 09:00  received 09:00,    loaded 04-15 12:00   a2 identified again as u4
                                                                                            at 04-15 08:00: u4

raw.events: m1 u1, m2 u2, m4 u3, m6 u4, m8 u4. Daily active users: 04-13 {u1} = 1, 04-14 {u2, u4} = 2,
04-15 {u3, u4} = 2.

Snowplow (atomic.events): the same people, with the tracker's own rules: event time derived_tstamp, the earliest
collected copy of an event_id, a structured event named by its se_action, and a cookie id (domain_userid) tied to
the user an earlier event named with it.
"""

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.source_settings import sources_from_env
from kpiwatch.sources_check import check_sources
from kpiwatch.tracker_landing import LANDED_TABLE, WATERMARK_TABLE, land_events, land_users
from kpiwatch.warehouse import DuckDBWarehouse
from orchestration.source_views import prepare_source_views
from tests.conftest import (
    compiled_for_snowflake,
    copy_run_state,
    execute_sql,
    fakesnow_warehouse,
    rows,
    ts,
    write_raw_warehouse,
)

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 4, 15)
SEGMENT_ENV = {"KPIWATCH_SOURCE_EVENTS": "segment"}
USERS = [(u, ts("2024-04-01 09:00:00"), "US", "organic") for u in ("u1", "u2", "u3", "u4")]
SUBSCRIPTIONS = [("s1", "u1", "basic", "month", "20.00", "USD", ts("2024-04-02 00:00:00"), None)]
# Segment's tracks and identifies: every column the adapter reads and some it does not, as the connector syncs them.
TRACKS_COLUMNS = (
    "id varchar, anonymous_id varchar, user_id varchar, event varchar, event_text varchar, timestamp timestamp, "
    "original_timestamp timestamp, sent_at timestamp, received_at timestamp, uuid_ts timestamp, context_ip varchar"
)
IDENTIFIES_COLUMNS = (
    "id varchar, anonymous_id varchar, user_id varchar, timestamp timestamp, received_at timestamp, uuid_ts timestamp, "
    "context_campaign_source varchar"
)
# (id, anonymous_id, user_id, event, timestamp, received_at, uuid_ts)
TRACKS = [
    ("m1", "a1", "u1", "dashboard_view", "2024-04-13 10:00:00", "2024-04-13 10:00:05", "2024-04-13 12:00:00"),
    ("m1", "a1", "u1", "dashboard_view", "2024-04-13 10:00:00", "2024-04-13 10:05:00", "2024-04-13 18:00:00"),
    ("m2", "a2", None, "report_export", "2024-04-14 09:00:00", "2024-04-14 09:00:00", "2024-04-14 12:00:00"),
    ("m3", "a3", None, "api_call", "2024-04-14 10:00:00", "2024-04-14 10:00:00", "2024-04-14 12:00:00"),
    ("m4", "a4", "u3", "alert_created", "2024-04-15 09:00:00", "2024-04-15 09:00:00", "2024-04-15 12:00:00"),
    ("m5", "a9", None, "api_call", "2024-04-15 09:30:00", "2024-04-15 09:30:00", "2024-04-15 12:00:00"),
    ("m6", "a6", "u4", "api_call", "2024-04-14 23:50:00", "2024-04-15 00:10:00", "2024-04-15 12:00:00"),
    ("m8", "a2", None, "dashboard_view", "2024-04-15 09:00:00", "2024-04-15 09:00:00", "2024-04-15 12:00:00"),
]
# (anonymous_id, user_id, received_at, context_campaign_source)
IDENTIFIES = [
    ("a1", "u1", "2024-04-13 09:00:00", "google"),
    ("a2", "u2", "2024-04-14 08:00:00", "newsletter"),
    ("a3", "u3", "2024-04-14 11:00:00", None),
    ("a2", "u4", "2024-04-15 08:00:00", "google"),
    ("a5", "u2", "2024-04-15 07:00:00", "twitter"),  # u2 again, on another device: still signed up on 04-14
]
EXPECTED_EVENTS = {
    ("m1", "u1", "dashboard_view", ts("2024-04-13 10:00:00")),
    ("m2", "u2", "report_export", ts("2024-04-14 09:00:00")),
    ("m4", "u3", "alert_created", ts("2024-04-15 09:00:00")),
    ("m6", "u4", "api_call", ts("2024-04-14 23:50:00")),
    ("m8", "u4", "dashboard_view", ts("2024-04-15 09:00:00")),
}


def typed(columns: str, timestamp: str) -> str:
    """Column definitions with the warehouse's timestamp type (a column may be named timestamp too)."""
    return re.sub(r"(\w) timestamp\b", rf"\1 {timestamp}", columns)


def write_tracks(execute, schema: str, tracks=TRACKS, identifies=IDENTIFIES, timestamp: str = "timestamp") -> None:
    """Segment's (or RudderStack's) tables in `schema`, through `execute(sql)` (DuckDB, or fakesnow)."""
    execute(f"create schema if not exists {schema}")
    execute(f"create table {schema}.tracks ({typed(TRACKS_COLUMNS, timestamp)})")
    execute(f"create table {schema}.identifies ({typed(IDENTIFIES_COLUMNS, timestamp)})")
    for i, a, u, e, t, r, loaded in tracks:
        user = f"'{u}'" if u else "null"
        execute(
            f"insert into {schema}.tracks values ('{i}', '{a}', {user}, '{e}', '{e.replace('_', ' ')}', '{t}', '{t}', "
            f"'{r}', '{r}', '{loaded}', '127.0.0.1')"
        )
    for n, (a, u, r, campaign) in enumerate(identifies):
        source = f"'{campaign}'" if campaign else "null"
        execute(f"insert into {schema}.identifies values ('i{n}', '{a}', '{u}', '{r}', '{r}', '{r}', {source})")


def landed_events(db) -> set[tuple]:
    return {tuple(r.values()) for r in rows(db, "select event_id, user_id, event_name, occurred_at from raw.events")}


@pytest.fixture(scope="module")
def segment_run(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("segment")
    db = work / "company.duckdb"
    write_raw_warehouse(db, {"users": USERS, "subscriptions": SUBSCRIPTIONS, "events": []})
    execute_sql(db, "drop table raw.events")
    execute = lambda sql: execute_sql(db, sql)  # noqa: E731
    write_tracks(execute, "segment")
    settings = job_settings(db, work / "home", env=SEGMENT_ENV)
    return settings, run_once(settings, AS_OF)


def test_segment_events_are_deduplicated_and_attributed_giving_the_hand_worked_active_users(segment_run):
    settings, outcome = segment_run
    assert outcome.success, (outcome.failures, outcome.failed_checks)
    assert not [c for c in outcome.failed_checks if c.startswith("raw/events") and "(error)" in c]
    db = settings.duckdb_path
    assert landed_events(db) == EXPECTED_EVENTS
    dau = {
        str(r["activity_date"]): r["dau"]
        for r in rows(
            db, "select activity_date, dau from marts.fct_active_users_daily where activity_date >= ?", ["2024-04-13"]
        )
    }
    assert dau == {"2024-04-13": 1, "2024-04-14": 2, "2024-04-15": 2}


def test_landing_load_by_load_keeps_what_landing_in_one_go_keeps(segment_run, tmp_path):
    """The tracker's loads arrive one at a time, one of them committed late (loaded at 04-15 08:00, after rows
    loaded at 12:00 were landed): each landing adds only the new rows, a late duplicate of m1 is left out, and the
    result equals the first run's single landing. Landing again adds nothing."""
    settings = copy_run_state(segment_run[0], tmp_path / "copy")
    db = settings.duckdb_path
    one_go = rows(db, f"select * from {LANDED_TABLE} order by event_id")
    late = ("m7", "a7", "u1", "api_call", "2024-04-15 07:00:00", "2024-04-15 07:00:00", "2024-04-15 08:00:00")
    execute_sql(db, f"delete from {LANDED_TABLE}", f"delete from {WATERMARK_TABLE}", "drop view raw.events")
    warehouse = DuckDBWarehouse(db, read_only=False)
    loads = ["2024-04-13 12:00:00", "2024-04-13 18:00:00", "2024-04-14 12:00:00", "2024-04-15 12:00:00"]
    landed = []
    for load in loads:  # the tracker's tables as they are after each load
        execute_sql(db, "drop table segment.tracks", "drop table segment.identifies")
        tracks, identifies = [t for t in TRACKS if t[6] <= load], [i for i in IDENTIFIES if i[2] <= load]
        write_tracks(lambda sql: execute_sql(db, sql), "segment", tracks, identifies)
        landed.append(land_events(warehouse, "segment"))
    assert landed == [1, 0, 1, 3]  # m1; its retry; m2 (m3 anonymous); m4, m6, m8 (m5 anonymous)
    assert rows(db, f"select * from {LANDED_TABLE} order by event_id") == one_go
    execute_sql(db, f"insert into segment.tracks values {sql_row(late)}")
    assert land_events(warehouse, "segment") == 1  # loaded 4 h before the newest landed row: read again
    assert land_events(warehouse, "segment") == 0
    assert ("m7", "u1", "api_call", ts("2024-04-15 07:00:00")) in landed_events(db)
    watermark = rows(db, f"select newest_loaded_at from {WATERMARK_TABLE}")
    assert watermark == [{"newest_loaded_at": ts("2024-04-15 12:00:00")}]
    # A table landed before the ledger kept watermarks: read once for its newest load, nothing lands twice.
    execute_sql(db, f"drop table {WATERMARK_TABLE}")
    assert land_events(warehouse, "segment") == 0
    assert rows(db, f"select newest_loaded_at from {WATERMARK_TABLE}") == watermark


def sql_row(track) -> str:
    i, a, u, e, t, r, loaded = track
    return f"('{i}', '{a}', '{u}', '{e}', '{e}', '{t}', '{t}', '{r}', '{r}', '{loaded}', null)"


def test_users_are_landed_from_their_first_identify(segment_run, tmp_path):
    """users: segment. A user's signup is the first identify naming them, with its campaign (context_campaign_source)
    as the acquisition channel; the country is null (this source records no context_location_country). A later
    identify of a known user changes nothing; a new user's first identify lands them."""
    settings = copy_run_state(segment_run[0], tmp_path / "copy")
    db = settings.duckdb_path
    execute_sql(db, "alter table raw.users rename to users_loaded_by_hand")
    both = replace(settings, sources=sources_from_env({**SEGMENT_ENV, "KPIWATCH_SOURCE_USERS": "segment"}))
    prepare_source_views(both)
    signups = {
        (r["user_id"], str(r["created_at"]), r["country"], r["acquisition_channel"])
        for r in rows(db, "select * from raw.users")
    }
    assert signups == {
        ("u1", "2024-04-13 09:00:00", None, "google"),
        ("u2", "2024-04-14 08:00:00", None, "newsletter"),
        ("u3", "2024-04-14 11:00:00", None, None),
        ("u4", "2024-04-15 08:00:00", None, "google"),
    }
    reports = {r.table: r for r in check_sources(both)}
    assert (reports["users"].adapter, reports["users"].rows, reports["users"].first) == ("segment", 4, "2024-04-13")
    execute_sql(
        db,
        "insert into segment.identifies values ('i9', 'a9', 'u9', '2024-04-16 10:00:00', '2024-04-16 10:00:00', "
        "'2024-04-16 11:00:00', 'bing'), ('i10', 'a1', 'u1', '2024-04-16 10:00:00', '2024-04-16 10:00:00', "
        "'2024-04-16 11:00:00', 'bing')",
    )
    assert land_users(DuckDBWarehouse(db, read_only=False), "segment") == 1
    assert rows(db, "select user_id, acquisition_channel from raw.users where user_id in ('u1', 'u9') order by 1") == [
        {"user_id": "u1", "acquisition_channel": "google"},
        {"user_id": "u9", "acquisition_channel": "bing"},
    ]


def test_rudderstack_has_segments_layout_and_gives_the_same_events(segment_run, tmp_path):
    settings = copy_run_state(segment_run[0], tmp_path / "copy")
    write_tracks(lambda sql: execute_sql(settings.duckdb_path, sql), "rudderstack")
    rudderstack = replace(settings, sources=sources_from_env({"KPIWATCH_SOURCE_EVENTS": "rudderstack"}))
    prepare_source_views(rudderstack)  # another adapter: its views are built and the events landed again
    assert landed_events(settings.duckdb_path) == EXPECTED_EVENTS


# Snowplow's atomic.events (a subset of its 130 columns: every one the adapter reads, and some it does not).
SNOWPLOW_COLUMNS = (
    "app_id varchar, platform varchar, event varchar, event_id varchar, user_id varchar, domain_userid varchar, "
    "se_category varchar, se_action varchar, event_vendor varchar, event_name varchar, dvce_created_tstamp timestamp, "
    "dvce_sent_tstamp timestamp, collector_tstamp timestamp, derived_tstamp timestamp, etl_tstamp timestamp, "
    "load_tstamp timestamp"
)
# (event_id, user_id, domain_userid, event, event_name, se_action, derived_tstamp, collector_tstamp, load_tstamp)
SNOWPLOW = [
    ("e0", "u2", "d2", "page_view", "page_view", None, "04-14 08:00", "04-14 08:00", "04-14 12:00"),
    ("e1", "u1", "d1", "page_view", "page_view", None, "04-13 10:00", "04-13 10:00", "04-13 12:00"),
    # a second copy of e1, collected later: the earliest collected is kept
    ("e1", "u1", "d1", "page_view", "page_view", None, "04-13 10:00", "04-13 10:10", "04-13 18:00"),
    # a structured event is named by its action; d2 was named with u2 at 08:00
    ("e2", None, "d2", "struct", "event", "report_export", "04-14 09:00", "04-14 09:00", "04-14 12:00"),
    # d3 is named with u3 only at 11:00, after e3 was collected: e3 is left out, e3b is u3's
    ("e3", None, "d3", "unstruct", "api_call", None, "04-14 10:00", "04-14 10:00", "04-14 12:00"),
    ("e3b", "u3", "d3", "page_view", "page_view", None, "04-14 11:00", "04-14 11:00", "04-14 12:00"),
    # the device's clock corrected: the event time is derived_tstamp (04-14), not when it was collected (04-15)
    ("e4", "u4", "d4", "unstruct", "api_call", None, "04-14 23:50", "04-15 00:10", "04-15 12:00"),
    # no derived_tstamp (an old tracker): the collector's time
    ("e5", "u1", "d1", "unstruct", "dashboard_view", None, None, "04-15 09:00", "04-15 12:00"),
    # no load_tstamp (an old loader): landed by the collector's time
    ("e6", "u3", "d3", "unstruct", "alert_created", None, "04-15 10:00", "04-15 10:00", None),
]
SNOWPLOW_EVENTS = {
    ("e0", "u2", "page_view", ts("2024-04-14 08:00:00")),
    ("e1", "u1", "page_view", ts("2024-04-13 10:00:00")),
    ("e2", "u2", "report_export", ts("2024-04-14 09:00:00")),
    ("e3b", "u3", "page_view", ts("2024-04-14 11:00:00")),
    ("e4", "u4", "api_call", ts("2024-04-14 23:50:00")),
    ("e5", "u1", "dashboard_view", ts("2024-04-15 09:00:00")),
    ("e6", "u3", "alert_created", ts("2024-04-15 10:00:00")),
}


def write_snowplow(execute, schema: str = "atomic", timestamp: str = "timestamp") -> None:
    execute(f"create schema if not exists {schema}")
    execute(f"create table {schema}.events ({typed(SNOWPLOW_COLUMNS, timestamp)})")

    def value(text):
        return f"'{text}'" if text else "null"

    for i, u, d, event, name, action, derived, collected, loaded in SNOWPLOW:
        at = [value(f"2024-{t}:00") if t else "null" for t in (derived, collected, loaded)]
        execute(
            f"insert into {schema}.events values ('web', 'web', '{event}', '{i}', {value(u)}, '{d}', "
            f"{value(action and 'reports')}, {value(action)}, 'com.acme', '{name}', {at[1]}, {at[1]}, {at[1]}, "
            f"{at[0]}, {at[1]}, {at[2]})"
        )


def test_snowplow_events_follow_snowplows_own_rules(segment_run, tmp_path):
    settings = copy_run_state(segment_run[0], tmp_path / "copy")
    write_snowplow(lambda sql: execute_sql(settings.duckdb_path, sql))
    snowplow = replace(settings, sources=sources_from_env({"KPIWATCH_SOURCE_EVENTS": "snowplow"}))
    prepare_source_views(snowplow)
    assert landed_events(settings.duckdb_path) == SNOWPLOW_EVENTS


@pytest.mark.parametrize(
    ("tracker", "write", "expected"),
    [
        ("segment", lambda execute: write_tracks(execute, "segment", timestamp="timestamp_tz"), EXPECTED_EVENTS),
        ("snowplow", lambda execute: write_snowplow(execute, timestamp="timestamp_ntz"), SNOWPLOW_EVENTS),
    ],
)
def test_the_snowflake_sql_of_the_views_and_the_landing_runs_on_fakesnow(tracker, write, expected, tmp_path):
    """The views compiled for Snowflake, over the tracker's tables as the loaders type them there (Segment:
    TIMESTAMP_TZ; Snowplow: UTC without zone), and the landing run through the Snowflake connector, keep the same
    events as DuckDB; Segment's users too (their signup times: offline, dbt cannot see which context columns
    exist, so the channel reads as null)."""
    models = [f"{tracker}__events", f"{tracker}__identities"]
    env = {"KPIWATCH_SOURCE_EVENTS": tracker}
    if tracker == "segment":
        models, env = [*models, "segment__signups"], {**env, "KPIWATCH_SOURCE_USERS": tracker}
    views = compiled_for_snowflake(env, models, tmp_path)
    with fakesnow_warehouse() as snowflake:
        snowflake.query("create schema if not exists kpiwatch.raw")
        write(snowflake.query)
        snowflake.query("create schema if not exists sources")
        for model, sql in views.items():
            snowflake.query(f"create view sources.{model} as {sql}")
        assert land_events(snowflake, tracker) == len(expected)
        assert land_events(snowflake, tracker) == 0
        on_snowflake = snowflake.query("select event_id, user_id, event_name, occurred_at from raw.events")
        if tracker == "segment":
            assert land_users(snowflake, tracker) == 4
            signups = {tuple(r.values()) for r in snowflake.query("select user_id, created_at from raw.users")}
            assert signups == {(u, ts(t)) for _, u, t, _ in IDENTIFIES if (u, t) != ("u2", "2024-04-15 07:00:00")}
    assert {tuple(r.values()) for r in on_snowflake} == expected


def test_sources_check_counts_what_landing_leaves_out_and_names_a_missing_column(tmp_path, cli_env):
    db = tmp_path / "company.duckdb"
    write_raw_warehouse(db, {"users": USERS, "subscriptions": SUBSCRIPTIONS, "events": []})
    execute_sql(db, "drop table raw.events")
    write_tracks(lambda sql: execute_sql(db, sql), "segment")

    def sources_check(*arguments):
        env = cli_env(db, tmp_path / "home", **SEGMENT_ENV)
        command = [sys.executable, "-m", "kpiwatch.cli", "sources", "check", *arguments]
        return subprocess.run(command, capture_output=True, text=True, env=env)

    done = sources_check()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[2:5] == [
        "raw.events           segment from segment: 8 rows, 2024-04-13 .. 2024-04-15",
        "  skipped: 1 extra cop(ies) of a message id (the first received is kept).",
        "  skipped: 2 anonymous event(s) whose anonymous id nobody had been identified as when received (no user "
        "to count).",
    ]
    execute_sql(db, "alter table segment.tracks drop column uuid_ts")
    done = sources_check("--format", "json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (events,) = [r for r in json.loads(done.stdout) if r["table"] == "events"]
    assert events["problems"] == [
        {
            "severity": "error",
            "text": "segment.tracks has no column uuid_ts: the segment adapter reads it for raw.events "
            "(KPIWATCH_SOURCE_EVENTS=segment, KPIWATCH_SOURCE_SEGMENT_SCHEMA=segment).",
        }
    ]
