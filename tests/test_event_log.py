"""The pooled SQLite event log: same files as Dagster's own storage, bounded open files, wipe works."""

import json
import os
from pathlib import Path

import pytest
from dagster import AssetCheckResult, asset, asset_check, materialize
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from kpiwatch.hosting.event_log import OPEN_FILES, PooledSqliteEventLogStorage
from kpiwatch.hosting.instance import PREVIOUS_INSTANCE_YAML, UNQUEUED_INSTANCE_YAML, prepare_instance


@asset
def numbers():
    return [1, 2, 3]


@asset_check(asset=numbers)
def numbers_not_empty():
    return AssetCheckResult(passed=True)


@pytest.fixture
def instance(tmp_path):
    with prepare_instance(tmp_path / "home") as instance:
        yield instance


def open_run_files(base_dir: Path) -> set[str]:
    """Run databases this process holds open (from /proc/self/fd), deleted ones included."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)")
        except OSError:
            continue
        if target.startswith(str(base_dir)) and target.endswith(".db") and not target.endswith("index.db"):
            names.add(target)
    return names


def test_the_instance_kpiwatch_writes_uses_the_pooled_storage(instance):
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)


def test_runs_it_records_read_the_same_through_dagsters_own_storage(instance):
    result = materialize([numbers, numbers_not_empty], instance=instance)
    assert result.success
    pooled = instance.all_logs(result.run_id)
    stock = SqliteEventLogStorage(str(instance.root_directory) + "/history/runs/")
    try:
        stock_events = stock.get_logs_for_run(result.run_id)
        assert [e.dagster_event_type for e in stock_events] == [e.dagster_event_type for e in pooled]
        assert any(
            e.dagster_event_type and e.dagster_event_type.value == "ASSET_CHECK_EVALUATION" for e in stock_events
        )
        assert stock.get_latest_materialization_events([numbers.key])[numbers.key] is not None
    finally:
        stock.dispose()


def test_open_run_files_are_bounded(instance):
    storage = instance.event_log_storage
    base_dir = Path(storage._base_dir)
    for i in range(OPEN_FILES + 5):
        with storage.run_connection(f"run{i}") as conn:
            conn.exec_driver_sql("select 1")
    held = open_run_files(base_dir)
    assert 0 < len(held) <= OPEN_FILES, held
    assert str(base_dir / f"run{OPEN_FILES + 4}.db") in held  # the newest stays open


def test_commits_do_not_wait_for_the_disk_in_wal_mode(instance):
    """synchronous=NORMAL (1) on every pooled connection, in Dagster's WAL mode: consistent after any crash."""
    run = materialize([numbers], instance=instance)
    storage = instance.event_log_storage
    for connection in (storage.run_connection(run.run_id), storage.index_connection()):
        with connection as conn:
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"


def test_a_table_found_once_is_not_looked_up_again_until_a_wipe(instance, monkeypatch):
    storage = instance.event_log_storage
    lookups = []
    stock = SqliteEventLogStorage.has_table

    def has_table(self, name):
        lookups.append(name)
        return stock(self, name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", has_table)
    assert materialize([numbers, numbers_not_empty], instance=instance).success
    assert materialize([numbers, numbers_not_empty], instance=instance).success
    assert lookups.count("asset_check_executions") == 1
    assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
    assert lookups.count("no_such_table") == 2  # a missing table is asked again: a migration may add it
    storage.wipe()
    assert storage.has_table("asset_check_executions")
    assert lookups.count("asset_check_executions") == 2


def test_wipe_deletes_the_run_files_and_the_storage_keeps_working(instance):
    assert materialize([numbers], instance=instance).success
    base_dir = Path(instance.event_log_storage._base_dir)
    instance.event_log_storage.wipe()
    assert not [p for p in base_dir.glob("*.db") if p.name != "index.db"]
    assert not open_run_files(base_dir)
    again = materialize([numbers], instance=instance)
    assert again.success and instance.all_logs(again.run_id)


@pytest.mark.parametrize("earlier", ["event log in orchestration/", "runs not queued"])
def test_an_instance_written_by_an_earlier_kpiwatch_is_upgraded_and_keeps_its_runs(tmp_path, earlier):
    """The event log moved from orchestration/ to kpiwatch/hosting/, then runs were queued one at a time:
    a home with either older dagster.yaml still opens, upgraded."""
    home = tmp_path / "home"
    home.mkdir()
    runs_dir = json.dumps(str(home / "history" / "runs") + "/")
    old = PREVIOUS_INSTANCE_YAML if earlier.startswith("event") else UNQUEUED_INSTANCE_YAML.format(runs_dir=runs_dir)
    (home / "dagster.yaml").write_text(old)
    with prepare_instance(home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds == 21600
        assert materialize([numbers], instance=instance).success
    assert "kpiwatch.hosting.event_log" in (home / "dagster.yaml").read_text()


def test_a_dagster_yaml_of_the_users_own_is_left_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    own = "telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(own)
    with prepare_instance(home):
        pass
    assert (home / "dagster.yaml").read_text() == own
