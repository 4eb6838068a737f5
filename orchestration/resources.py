"""Resources, built from the settings with explicit fields, keyed by dbt's target names (dev, snowflake).

Secrets never become resource config (which the UI shows): they are `EnvVar`s, Dagster's way of
resolving a value from the run's environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, ConfigurableResource, EnvVar, Failure
from dagster_dbt import DbtCliResource, DbtProject

from kpiwatch.dbt_support.worker import PARENT_VARIABLE, DbtWorker, shim_executable, write_child_environment
from kpiwatch.quality.suite_worker import InProcessSuites
from kpiwatch.run_workers import NOTHING_PRESTARTED, Prestarted
from kpiwatch.settings import (
    DEFAULT_COST_SPIKE_FACTOR,
    DEFAULT_RESTATEMENT_TOLERANCE,
    DEFAULT_SEGMENT_TOP_N,
    DEFAULT_SLOW_MODEL_FACTOR,
    PushTarget,
    Settings,
    SnowflakeSettings,
    today_utc,
)
from kpiwatch.snowflake_warehouse import SnowflakeWarehouse
from kpiwatch.warehouse import DuckDBWarehouse, Warehouse
from orchestration.run_window import RunWindow, window_from_tags


class EvaluationWindow(ConfigurableResource):
    """How a run picks its days: the run's partition (range) if it has one, else `as_of`; no `as_of`
    means today (UTC) when the run starts, so a long-lived code server never runs a stale date."""

    as_of: str | None = None
    lookback_days: int

    def window(self, run_tags: Mapping[str, str]) -> RunWindow:
        default_as_of = dt.date.fromisoformat(self.as_of) if self.as_of else today_utc()
        return window_from_tags(run_tags, default_as_of, self.lookback_days)


class WarehouseResource(ConfigurableResource):
    """Where the raw tables and the marts live: a DuckDB file, or a Snowflake account."""

    target: str
    duckdb_path: str | None = None
    duckdb_memory_limit: str | None = None
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_database: str | None = None
    snowflake_schema: str | None = None
    snowflake_role: str | None = None
    snowflake_warehouse: str | None = None
    snowflake_password: str | None = None
    snowflake_private_key_path: str | None = None
    snowflake_private_key_passphrase: str | None = None
    snowflake_connect_deadline_seconds: float | None = None
    snowflake_warehouse_size: str | None = None  # for the credits estimate; None on DuckDB

    def client(self, writable: bool = False) -> Warehouse:
        """Read-only by default (checks and gauges never change data); writable for the ledger's appends."""
        if self.target == "snowflake":
            return SnowflakeWarehouse(
                SnowflakeSettings(
                    account=str(self.snowflake_account),
                    user=str(self.snowflake_user),
                    database=str(self.snowflake_database),
                    schema=str(self.snowflake_schema),
                    role=self.snowflake_role,
                    warehouse=self.snowflake_warehouse,
                    password=self.snowflake_password,
                    private_key_path=self.snowflake_private_key_path,
                    private_key_passphrase=self.snowflake_private_key_passphrase,
                    connect_deadline_seconds=float(self.snowflake_connect_deadline_seconds or 30),
                )
            )
        return DuckDBWarehouse(
            Path(str(self.duckdb_path)), read_only=not writable, memory_limit=str(self.duckdb_memory_limit)
        )


def warehouse_resource(settings: Settings) -> WarehouseResource:
    if settings.target == "dev":
        return WarehouseResource(
            target="dev", duckdb_path=str(settings.duckdb_path), duckdb_memory_limit=settings.duckdb_memory_limit
        )
    s = settings.snowflake
    assert s is not None, "load_settings sets snowflake for the snowflake target"
    return WarehouseResource(
        target="snowflake",
        snowflake_account=s.account,
        snowflake_user=s.user,
        snowflake_database=s.database,
        snowflake_schema=s.schema,
        snowflake_role=s.role,
        snowflake_warehouse=s.warehouse,
        snowflake_password=EnvVar("KPIWATCH_SNOWFLAKE_PASSWORD") if s.password else None,
        snowflake_private_key_path=s.private_key_path,
        snowflake_private_key_passphrase=(
            EnvVar("KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE") if s.private_key_passphrase else None
        ),
        snowflake_connect_deadline_seconds=s.connect_deadline_seconds,
        snowflake_warehouse_size=s.warehouse_size,
    )


class PushgatewayResource(ConfigurableResource):
    """Where results are pushed (metrics/push.py); url 'off' disables publishing."""

    url: str
    environment: str
    timeout_seconds: float
    attempts: int
    backoff_seconds: float
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    segment_top_n: int  # values of a segment label pushed; the rest are summed as "other"
    restatement_tolerance: float  # relative change of a closed month's value reported as a restatement
    slow_model_factor: float  # KpiwatchSlowModel: a model's duration against its own recent mean
    cost_spike_factor: float  # KpiwatchWarehouseCostSpike: a run's warehouse cost against its recent mean

    def target(self) -> PushTarget:
        return PushTarget(
            url=self.url.rstrip("/"),
            environment=self.environment,
            timeout_seconds=self.timeout_seconds,
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
            username=self.username,
            password=self.password,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
        )


def pushgateway_resource(
    push: PushTarget,
    segment_top_n: int = DEFAULT_SEGMENT_TOP_N,
    restatement_tolerance: float = DEFAULT_RESTATEMENT_TOLERANCE,
    slow_model_factor: float = DEFAULT_SLOW_MODEL_FACTOR,
    cost_spike_factor: float = DEFAULT_COST_SPIKE_FACTOR,
) -> PushgatewayResource:
    return PushgatewayResource(
        segment_top_n=segment_top_n,
        restatement_tolerance=restatement_tolerance,
        slow_model_factor=slow_model_factor,
        cost_spike_factor=cost_spike_factor,
        url=push.url,
        environment=push.environment,
        timeout_seconds=push.timeout_seconds,
        attempts=push.attempts,
        backoff_seconds=push.backoff_seconds,
        username=push.username,
        password=EnvVar("KPIWATCH_PUSHGATEWAY_PASSWORD") if push.password else None,
        ca_file=push.ca_file,
        cert_file=push.cert_file,
        key_file=push.key_file,
    )


class KpiwatchDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource, without two start-up costs kpiwatch does not need, and with the run's
    settings handed to the dbt process itself.

    - The version of dbt beside this Python is the installed dbt-core package's: no `dbt --version`
      subprocess (about 4 s, as it also looks for plugin updates).
    - No in-process dbt adapter: dagster-dbt only uses it to fetch row counts and column metadata,
      which kpiwatch does not ask for; dbt itself still runs in its own process.
    """

    @cached_property
    def _cli_version(self):
        from packaging import version

        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(installed_version("dbt-core"))
        return super()._cli_version

    worker_env: dict[str, str] = {}  # where a pre-started dbt worker listens (kpiwatch/dbt_support/worker.py)

    def _initialize_dbt_core_adapter(self, args):
        return None

    def build(
        self, context: AssetExecutionContext, args: list[str], env: Mapping[str, str], target: Path
    ) -> Iterator[Any]:
        """Stream `dbt <args>` with `env` added to the dbt process's environment; dbt's log lines go to
        `target/dbt_output.log` instead of this process's stdout.

        dagster-dbt builds the child's environment from os.environ and offers no way to add to it; `env`
        reaches the child through a file in the invocation's target directory that `kpiwatch-dbt` reads,
        so this process's environment is never changed (other threads read it). Echoing the child's events
        to stdout is captured only while they stream. `env` rather than `--vars`: changed vars make dbt
        re-parse the whole project on every run."""
        write_child_environment(target, {**env, **self.worker_env, PARENT_VARIABLE: str(os.getpid())})
        invocation = self.cli(args, context=context, target_path=target)
        reported = 0
        log = target / "dbt_output.log"
        with open(log, "w") as output, contextlib.redirect_stdout(output):
            for event in invocation.stream():
                reported += 1
                yield event
        # No node reported and not one line from dbt (a selection that excludes every model still logs why):
        # dbt's output was lost. Never a quiet success that built nothing and leaves the push nothing to follow.
        if not reported and not log.read_text().strip():
            raise Failure(
                description=f"dbt exited without reporting a single model, seed or test to Dagster, so nothing is "
                f"recorded as built: its output did not arrive (see {log}). Run again."
            )


def dbt_resource(settings: Settings, project: DbtProject, worker: DbtWorker | None = None) -> KpiwatchDbtCli:
    """dbt is started as `kpiwatch-dbt`, which dies with the run's process, then runs the command on the
    pre-started worker if there is one, else runs dbt itself."""
    worker_env = worker.env() if worker is not None else {}
    return KpiwatchDbtCli(
        project_dir=project, target=settings.target, dbt_executable=shim_executable(), worker_env=worker_env
    )


def build_resources(
    settings: Settings, project: DbtProject, prestarted: Prestarted = NOTHING_PRESTARTED
) -> dict[str, Any]:
    """The resource map for the configured target."""
    return {
        "suites": prestarted.suites or InProcessSuites(),
        "pushgateway": pushgateway_resource(
            settings.push,
            settings.segment_top_n,
            settings.restatement_tolerance,
            settings.slow_model_factor,
            settings.cost_spike_factor,
        ),
        "dbt": dbt_resource(settings, project, prestarted.dbt),
        "evaluation": EvaluationWindow(lookback_days=settings.lookback_days),
        "warehouse": warehouse_resource(settings),
    }
