"""The local Dagster instance kpiwatch runs and the UI reads: its dagster.yaml, written once per home."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DagsterInstance

# What kpiwatch wrote before the event log moved to kpiwatch.hosting: such a file is upgraded in place.
PREVIOUS_INSTANCE_YAML = """\
# Local runs stay local: no usage statistics leave the machine, and no sign-up dialog in the UI.
telemetry:
  enabled: false
nux:
  enabled: false
# Dagster's default SQLite storage, with one engine per event-log file (orchestration/event_log.py).
event_log_storage:
  module: orchestration.event_log
  class: PooledSqliteEventLogStorage
"""

# What kpiwatch wrote before Dagster's queue ran one run at a time: upgraded in place too.
UNQUEUED_INSTANCE_YAML = """\
# Local runs stay local: no usage statistics leave the machine, and no sign-up dialog in the UI.
telemetry:
  enabled: false
nux:
  enabled: false
# Dagster's default SQLite storage, with one engine per event-log file (kpiwatch/hosting/event_log.py).
event_log_storage:
  module: kpiwatch.hosting.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {runs_dir}
"""

INSTANCE_YAML = (
    UNQUEUED_INSTANCE_YAML
    + """\
# One run at a time on the warehouse (DuckDB lets one process write): runs from the UI, the schedule and
# backfills wait in Dagster's queue while another run is in progress, a `kpiwatch run` too (it is recorded here).
concurrency:
  runs:
    max_concurrent_runs: 1
# A run still in progress after 6 hours (its worker killed, the machine restarted) is cancelled by the daemon
# (`kpiwatch ui`), so that it cannot hold the queue, and the daily schedule's runs behind it, for ever.
run_monitoring:
  enabled: true
  max_runtime_seconds: 21600
"""
)


def instance_yaml(home: Path) -> str:
    """The dagster.yaml for `home`; the run directory is Dagster's default one, <home>/history/runs/."""
    return INSTANCE_YAML.format(runs_dir=_runs_dir(home))


def _runs_dir(home: Path) -> str:
    return json.dumps(str(home / "history" / "runs") + "/")


def write_instance_config(home: Path) -> Path:
    """Create `home` and its dagster.yaml unless the user has their own (an older kpiwatch one is upgraded)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    earlier = (PREVIOUS_INSTANCE_YAML, UNQUEUED_INSTANCE_YAML.format(runs_dir=_runs_dir(home)))
    if not config.exists() or config.read_text() in earlier:
        config.write_text(instance_yaml(home))
    return config


def initialize_instance(home: Path) -> None:
    """Create the instance's storage before several processes open it at once: a webserver, a daemon
    and a code server starting together on an empty SQLite home race to create the schema (seen here:
    "alembic_version has more than one head")."""
    with prepare_instance(home):
        pass


def prepare_instance(home: Path) -> DagsterInstance:
    """The instance under `home` (settings.dagster_home), shared with `kpiwatch ui`; the process
    environment is left as it is (no DAGSTER_HOME written)."""
    write_instance_config(home)
    return DagsterInstance.from_config(str(home))
