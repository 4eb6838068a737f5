"""Guards of kpiwatch's reaches into libraries' private code (listed in docs/operations.md, "Private seams").

Each reach replaces or reads something a library does not promise to keep. An upgrade that renames or stops
calling it would make kpiwatch's override dead code without an error: slower, or wrong numbers about itself.
Each test here fails loudly then, naming the seam to re-check.
"""

import inspect

import dbt_common.events.logger as dbt_logger
from dagster_dbt import DbtCliResource
from dagster_dbt.core import resource as dagster_dbt_resource
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.adapters.duckdb.environments import local
from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

from kpiwatch.executables import beside_interpreter
from kpiwatch.hosting.event_log import PooledSqliteEventLogStorage
from kpiwatch.settings import load_settings
from orchestration.dbt_project import dbt_project
from orchestration.resources import KpiwatchDbtCli


def source(thing) -> str:
    return inspect.getsource(thing)


def test_dagster_dbt_still_asks_the_two_methods_kpiwatch_overrides():
    """orchestration/resources.py KpiwatchDbtCli: `_cli_version` (no `dbt --version` subprocess, 4 s) and
    `_initialize_dbt_core_adapter` (no in-process adapter, 1 s). Renamed upstream, they would silently cost
    both again."""
    assert isinstance(vars(DbtCliResource)["_cli_version"], type(vars(KpiwatchDbtCli)["_cli_version"]))
    assert callable(vars(DbtCliResource)["_initialize_dbt_core_adapter"])
    cli = source(DbtCliResource.cli)
    assert "self._cli_version" in cli and "self._initialize_dbt_core_adapter(" in cli
    resource = KpiwatchDbtCli(
        project_dir=dbt_project(load_settings({})), target="dev", dbt_executable=beside_interpreter("dbt")
    )
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_dagster_dbt_still_gives_its_child_the_target_path_the_shim_reads():
    """kpiwatch/dbt_support/worker.py: the run's additions to the dbt child's environment are read from DBT_TARGET_PATH,
    which dagster-dbt sets to the invocation's target directory (a documented dbt variable, set by dagster-dbt)."""
    assert '"DBT_TARGET_PATH": os.fspath(target_path)' in source(dagster_dbt_resource.DbtCliResource.cli)


def test_dbt_duckdb_cursor_wrapper_still_runs_statements_through_execute():
    """kpiwatch/dbt_support/duckdb_usage.py wraps DuckDBCursorWrapper.execute and reads the wrapped `_cursor` after each
    statement: DuckDB's bytes read and peak memory in every run's cost gauges."""
    wrapper = source(local.DuckDBCursorWrapper)
    assert "def execute(self, sql, bindings=None)" in wrapper
    assert "self._cursor" in wrapper


def test_dbt_duckdb_still_keeps_one_database_handle_for_the_process():
    """kpiwatch/dbt_support/worker.py `_close_warehouse` closes (and checkpoints) dbt-duckdb's shared environment
    after a command, under its lock, so the warehouse file is released before the run goes on."""
    assert hasattr(DuckDBConnectionManager, "_LOCK") and hasattr(DuckDBConnectionManager, "_ENV")
    assert "cls._ENV" in source(DuckDBConnectionManager)


def test_dbt_loggers_still_filter_with_the_level_map_kpiwatch_tests_first():
    """kpiwatch/dbt_support/log_levels.py puts the level test in front of each logger's `filter`, with dbt-common's
    `_log_level_map` and `_is_print_event`; `write_line` must still format before it filters, through
    `self.filter`, or the callback guards nothing."""
    assert callable(dbt_logger._is_print_event) and dbt_logger._log_level_map
    assert "self.filter" in source(dbt_logger._Logger)


def test_dagster_sqlite_event_log_still_connects_through_the_methods_kpiwatch_pools():
    """kpiwatch/hosting/event_log.py overrides `_connect` (one engine per run file) and keeps `has_table`'s
    answers: 2.4 s of a small run's process."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    stock = source(SqliteEventLogStorage)
    assert "def _connect(self, shard" in stock and "self._connect(" in stock
    assert "_initialized_dbs" in stock and "def _initdb(self" in stock
    assert PooledSqliteEventLogStorage._connect is not SqliteEventLogStorage._connect


def test_gx_unexpected_rows_expectation_still_validates_through_validate():
    """kpiwatch/quality/gx_row_queries.py overrides `_validate` of the unexpected-rows expectation: one query
    that counts first and samples at most 200 rows (the events suite of 100M events: 48 s -> 17 s)."""
    assert "_validate" in vars(UnexpectedRowsExpectation)
    assert list(inspect.signature(UnexpectedRowsExpectation._validate).parameters)[:2] == ["self", "metrics"]
