"""Changes to history beyond a daily run's window are caught by the next daily run (history_unchanged) and
repaired in the same run, so the marts equal a full rebuild; past the repair bound the run names the
backfill to run; duplicate events far back are caught without a uniqueness scan of all history. A daily run
counts old parts and hashes recent ones; an edit in place further back waits for the weekly full hash."""

import datetime as dt
import shutil
from dataclasses import replace

import pytest
from dagster import DagsterInstance

from kpiwatch.hosting.launch import run_backfill, run_once
from kpiwatch.quality.config import load_checks_config
from kpiwatch.sample.generate import GenerateOptions, generate
from orchestration.gating import check_records
from tests.conftest import copy_run_state, differing_rows, execute_sql

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)
DAY = dt.timedelta(days=1)
FIRST_SCAN = AS_OF - 3 * DAY


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "generated.duckdb"
    generate(GenerateOptions(out=path, as_of=AS_OF, users=400, days=200, seed=4), progress=False, log=lambda _: None)
    return path


@pytest.fixture(scope="module")
def first_run(history, tmp_path_factory, job_settings):
    """The settings and outcome of a first daily run on the history, three days before its end (it builds
    everything and records the fingerprints: the first full hash); tests change copies of it (copy_run_state),
    never it."""
    work = tmp_path_factory.mktemp("first_run")
    shutil.copy(history, work / "daily.duckdb")
    settings = job_settings(work / "daily.duckdb", work / "home")
    return settings, run_once(settings, FIRST_SCAN)


def first_run_copy(first_run, directory, **fields):
    """A copy of the first run's warehouse and Dagster home, after checking that run succeeded quietly."""
    settings, outcome = first_run
    assert outcome.success and not history_failures(outcome), (outcome.failures, outcome.failed_checks)
    return replace(copy_run_state(settings, directory), **fields)


def day_sql(day: dt.date) -> str:
    return f"cast(occurred_at as date) = date '{day}'"


def history_failures(outcome) -> dict[str, str]:
    return {c.split(" ", 1)[0]: c for c in outcome.failed_checks if c.split(" ")[1] == "history_unchanged"}


def test_old_days_that_changed_are_named_and_repaired_to_equal_a_full_rebuild(first_run, tmp_path, job_settings):
    settings = first_run_copy(first_run, tmp_path / "daily")
    daily, full = settings.duckdb_path, tmp_path / "full.duckdb"

    reloaded, deleted, late = AS_OF - 150 * DAY, AS_OF - 100 * DAY, AS_OF - 20 * DAY
    changes = (
        # A re-loaded file adds 50 events five months back (new ids: events the first load missed).
        f"insert into raw.events select 'reload-' || event_id, user_id, event_name, occurred_at from raw.events "
        f"where {day_sql(reloaded)} order by event_id limit 50",
        f"delete from raw.events where {day_sql(deleted)}",
        # One late event 20 days back, beyond the 3-day look-back.
        f"insert into raw.events select 'late-1', user_id, event_name, occurred_at from raw.events "
        f"where {day_sql(late)} order by event_id limit 1",
    )
    execute_sql(daily, *changes)
    shutil.copy(daily, full)

    outcome = run_once(settings, AS_OF)

    assert outcome.success, outcome.failures
    found = history_failures(outcome)
    assert set(found) == {"raw/events"}, outcome.failed_checks
    events = found["raw/events"]
    assert events.startswith("raw/events history_unchanged (warn): 3 day(s) of raw.events changed after they were ")
    assert f"{reloaded} (added, +50 rows)" in events and f"{late} (added, +1 rows)" in events
    assert f"{deleted} (removed, -" in events
    assert f"This run re-processes {reloaded} to {AS_OF} (151 days) so the marts include it." in events
    assert outcome.withheld == ()

    rebuilt = run_once(job_settings(full, tmp_path / "home_full"), AS_OF, full_refresh=True)
    assert rebuilt.success, rebuilt.failures
    differences = differing_rows(full, daily)
    assert differences and set(differences.values()) == {0}, differences

    again = run_once(settings, AS_OF)  # the repaired days were recorded: nothing to report any more
    assert again.success and not history_failures(again), again.failed_checks


def test_past_the_repair_bound_the_run_names_the_exact_backfill(first_run, tmp_path):
    checks = tmp_path / "checks.yml"
    shipped = load_checks_config().path.read_text()
    checks.write_text(shipped.replace("repair_max_days: 190", "repair_max_days: 30"))
    settings = first_run_copy(first_run, tmp_path / "bounded", checks_config=checks)
    db = settings.duckdb_path
    changed = AS_OF - 60 * DAY
    execute_sql(
        db,
        f"insert into raw.events select 'reload-' || event_id, user_id, event_name, occurred_at from raw.events "
        f"where {day_sql(changed)} order by event_id limit 5",
    )

    outcome = run_once(settings, AS_OF)

    events = history_failures(outcome)["raw/events"]
    assert events.startswith("raw/events history_unchanged (error): 1 day(s) of raw.events changed")
    assert events.endswith(
        f"Re-processing 61 days is beyond repair_max_days (30): run `kpiwatch backfill --start {changed} --end "
        f"{AS_OF}`, then `kpiwatch run --as-of {AS_OF}`."
    )
    assert {w.split(" (")[0] for w in outcome.withheld} == {"active_users", "retention", "feature_adoption"}

    backfill = run_backfill(settings, changed, AS_OF)  # the command the message names
    assert backfill.success, backfill.failures
    after = run_once(settings, AS_OF)
    assert after.success and not after.withheld and not history_failures(after), after.failed_checks


def test_duplicate_event_ids_far_back_are_caught_in_the_repaired_days(first_run, tmp_path):
    settings = first_run_copy(first_run, tmp_path / "dupes")
    db = settings.duckdb_path
    old = AS_OF - 150 * DAY
    execute_sql(db, f"insert into raw.events select * from raw.events where {day_sql(old)} order by event_id limit 50")

    outcome = run_once(settings, AS_OF)

    assert f"{old} (added, +50 rows)" in history_failures(outcome)["raw/events"]
    duplicates = [c for c in outcome.failed_checks if c.startswith("raw/events unique_event_id (error): ")]
    assert duplicates and duplicates[0].split(": ", 1)[1].startswith("100 of "), outcome.failed_checks
    assert {w.split(" (")[0] for w in outcome.withheld} == {"active_users", "retention", "feature_adoption"}


def test_a_daily_run_counts_old_parts_and_the_periodic_full_hash_finds_edits_in_place(first_run, tmp_path):
    checks = tmp_path / "checks.yml"
    shipped = load_checks_config().path.read_text()
    every_two_days = "history_unchanged: {severity: warn, full_scan_every_days: 2"  # on every table
    checks.write_text(shipped.replace("history_unchanged: {severity: warn", every_two_days))
    # The first run hashed everything on FIRST_SCAN; the schedule is read from the checks of each run.
    settings = first_run_copy(first_run, tmp_path / "periodic", checks_config=checks)
    db, first_scan = settings.duckdb_path, FIRST_SCAN
    # Edited in place: the same rows, one value changed. 8 days before the daily run is within its hash (3-day
    # look-back and 7 days before it); 60 days back, and a subscription period 90 days back, are not.
    recent, old = first_scan - 7 * DAY, first_scan - 60 * DAY
    execute_sql(
        db,
        f"update raw.events set event_name = 'edited' where event_id = (select min(event_id) from raw.events "
        f"where {day_sql(recent)})",
        f"update raw.events set event_name = 'edited' where event_id = (select min(event_id) from raw.events "
        f"where {day_sql(old)})",
        "update raw.subscriptions set amount = amount + 7 where subscription_id = (select min(subscription_id) "
        f"from raw.subscriptions where started_at < date '{AS_OF - 90 * DAY}')",
    )

    daily = run_once(settings, first_scan + DAY)

    found = history_failures(daily)
    assert set(found) == {"raw/events"}, daily.failed_checks
    assert f"{recent} (edited, +0 rows)" in found["raw/events"] and str(old) not in found["raw/events"]
    assert events_history_check(settings, daily) == {"hashed_from": str(first_scan - 9 * DAY), "full_scan": None}

    full = run_once(settings, first_scan + 2 * DAY)  # full_scan_every_days after the last full hash

    found = history_failures(full)
    assert set(found) == {"raw/events", "raw/subscriptions"}, full.failed_checks
    assert f"{old} (edited, +0 rows)" in found["raw/events"] and str(recent) not in found["raw/events"]
    assert "(edited, +0 rows)" in found["raw/subscriptions"]
    assert events_history_check(settings, full) == {
        "hashed_from": "all history",
        "full_scan": str(first_scan + 2 * DAY),
    }
    again = run_once(settings, AS_OF)
    assert again.success and not history_failures(again), again.failed_checks


def events_history_check(settings, outcome) -> dict:
    """What the events history check of a run hashed: its first hashed part, and the date of a full hash."""
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    (record,) = [
        r for r in check_records(instance, outcome.run_id) if (r.asset, r.check) == ("raw/events", "history_unchanged")
    ]
    return {"hashed_from": record.metadata["hashed_from"], "full_scan": record.metadata.get("full_scan")}
