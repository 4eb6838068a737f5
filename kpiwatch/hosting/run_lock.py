"""One kpiwatch run per warehouse at a time, and no run left "started" forever by a killed process.

The lock is an advisory `flock` on a file beside the DuckDB file (for Snowflake, in DAGSTER_HOME): the
kernel releases it when its holder dies, even by `kill -9`, so a stale lock cannot block the next run.
The holder writes who it is into the file, which the refused run names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from kpiwatch.errors import RunError
from kpiwatch.processes import alive
from kpiwatch.settings import Settings

PID_TAG = "kpiwatch/pid"  # set on runs `kpiwatch run` and `kpiwatch backfill` execute in their own process
# The statuses Dagster's run queue counts as in progress.
ACTIVE_RUN_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def lock_path(settings: Settings) -> Path:
    if settings.target == "dev":
        return settings.duckdb_path.with_name(settings.duckdb_path.name + ".kpiwatch-run.lock")
    return settings.dagster_home / "kpiwatch-run.lock"


@contextlib.contextmanager
def exclusive_run(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold the warehouse's run lock for the block; wait up to settings.run_lock_wait_seconds for it."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + settings.run_lock_wait_seconds
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text().strip() or "a process that has not written its name yet"
                    raise RunError(
                        f"another kpiwatch run is in progress on this warehouse: {holder}. Waited "
                        f"{settings.run_lock_wait_seconds:g} s (KPIWATCH_RUN_LOCK_WAIT_SECONDS); run again once it "
                        "has finished."
                    ) from None
                time.sleep(0.2)
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"run {run_id} (pid {os.getpid()}, started {started})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def wait_for_queued_runs(instance: DagsterInstance, settings: Settings) -> None:
    """Runs Dagster's queue launched (the UI, the schedule, a backfill) do not hold the lock file: the queue
    starts them one at a time and not while a `kpiwatch run` is recorded in progress. This waits, as long
    as for the lock, until none of them is in progress, so such a run and this one take turns too."""
    deadline = time.monotonic() + settings.run_lock_wait_seconds
    while active := instance.get_runs(RunsFilter(statuses=ACTIVE_RUN_STATUSES), limit=1):
        if time.monotonic() >= deadline:
            raise RunError(
                f"run {active[0].run_id} of {active[0].job_name} (launched in Dagster) is in progress on this "
                f"warehouse. Waited {settings.run_lock_wait_seconds:g} s (KPIWATCH_RUN_LOCK_WAIT_SECONDS); run "
                "again once it has finished, or mark it failed in the UI if its process is gone."
            )
        time.sleep(0.5)


def fail_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Runs a `kpiwatch` process started and never finished because it was killed: marked failed, so the
    UI and the run history stop showing them as running. Only runs whose process is gone are touched."""
    abandoned = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
        pid = run.tags.get(PID_TAG)
        if pid and pid.isdigit() and not alive(int(pid)):
            instance.report_run_failed(run, f"The kpiwatch process (pid {pid}) that ran it ended without finishing.")
            abandoned.append(run.run_id)
    return abandoned
