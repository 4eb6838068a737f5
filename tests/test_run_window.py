"""Which days a run evaluates: the schedule's partition, backfill ranges, the look-back setting."""

import datetime as dt

import pytest
from dagster import build_schedule_context

from kpiwatch.errors import ConfigError
from kpiwatch.settings import load_settings
from orchestration.run_window import RANGE_END_TAG, RANGE_START_TAG, daily_partitions, window_from_tags
from orchestration.schedules import daily_job, daily_schedule


def test_the_schedule_runs_the_partition_of_the_day_before():
    partitions = daily_partitions(dt.date(2020, 1, 1))
    at = dt.datetime(2024, 4, 1, 6, 0, tzinfo=dt.UTC)
    request = daily_schedule(daily_job(partitions))(build_schedule_context(scheduled_execution_time=at))
    assert request.partition_key == "2024-03-31"
    assert "2024-03-31" in partitions.get_partition_keys(current_time=at)


def test_a_partition_is_one_day_and_a_backfill_range_is_its_days():
    single = window_from_tags({"dagster/partition": "2024-03-31"}, dt.date(2000, 1, 1), 3)
    assert (single.start, single.as_of, single.first_processed_day) == (dt.date(2024, 3, 31),) * 2 + (
        dt.date(2024, 3, 28),
    )
    ranged = window_from_tags({RANGE_START_TAG: "2024-02-28", RANGE_END_TAG: "2024-03-02"}, dt.date(2000, 1, 1), 0)
    assert (ranged.start, ranged.as_of, ranged.first_processed_day) == (
        dt.date(2024, 2, 28),
        dt.date(2024, 3, 2),
        dt.date(2024, 2, 28),
    )
    assert ranged.dbt_env() == {
        "KPIWATCH_DBT_AS_OF": "2024-03-02",
        "KPIWATCH_DBT_WINDOW_START": "2024-02-28",
        "KPIWATCH_DBT_LOOKBACK_DAYS": "0",
    }
    untagged = window_from_tags({}, dt.date(2024, 1, 5), 2)
    assert (untagged.start, untagged.as_of) == (dt.date(2024, 1, 5), dt.date(2024, 1, 5))


def test_look_back_and_partition_start_come_from_the_environment():
    settings = load_settings({"KPIWATCH_LOOKBACK_DAYS": "7", "KPIWATCH_PARTITIONS_START": "2023-01-01"})
    assert (settings.lookback_days, settings.partitions_start) == (7, dt.date(2023, 1, 1))
    assert load_settings({}).lookback_days == 3
    for bad in ("-1", "many", "400"):
        with pytest.raises(ConfigError, match="KPIWATCH_LOOKBACK_DAYS"):
            load_settings({"KPIWATCH_LOOKBACK_DAYS": bad})


def test_a_new_evaluation_day_does_not_make_dbt_parse_the_project_again(tmp_path):
    """The run settings reach dbt as KPIWATCH_DBT_* variables read only when dbt executes
    (macros/evaluation_window.sql): read while parsing, every new day re-parsed each file that reads them.
    The second day's parse starts from the first day's state."""
    import os
    import shutil
    import subprocess

    from kpiwatch.dbt_support.parse_state import PARTIAL_PARSE_FILE
    from kpiwatch.dbt_support.profile import dbt_environment, project_arguments, window_environment
    from kpiwatch.executables import beside_interpreter
    from kpiwatch.paths import DBT_PROJECT_DIR

    settings = load_settings({"KPIWATCH_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    previous = None
    for day in (dt.date(2024, 3, 30), dt.date(2024, 3, 31)):
        target = tmp_path / day.isoformat()
        target.mkdir()
        if previous is not None:
            shutil.copy2(previous / PARTIAL_PARSE_FILE, target / PARTIAL_PARSE_FILE)
        env = {**os.environ, **dbt_environment(settings), **window_environment(day, day, 3)}
        command = [beside_interpreter("dbt"), "parse", *project_arguments(settings), "--target-path", str(target)]
        done = subprocess.run(
            [*command, "--log-path", str(target)], capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=env
        )
        assert done.returncode == 0, done.stdout
        previous = target
    assert "0 files deleted, 0 files added, 0 files changed" in (previous / "dbt.log").read_text()
