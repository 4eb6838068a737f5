"""Shared test helpers: build a raw warehouse from hand-written rows and run the real dbt project on it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpiwatch.contract import RAW_TABLES_BY_NAME, raw_table_ddl
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import Settings, SnowflakeSettings, load_settings
from kpiwatch.snowflake_warehouse import SnowflakeWarehouse
from kpiwatch.stack import Stack
from orchestration.dbt_project import prepare_dbt_manifest
from tests.monitoring_helpers import stack_settings

# The files that keep one worker busy a minute or more (per-file sums of `--durations=0`, 2026-12-06), longest
# first. scripts/test.sh hands files to the workers in collection order (--no-loadscope-reorder), and this order
# keeps a long file from starting last while the other workers are idle; the rest follow alphabetically.
LONGEST_FILES = (
    "test_alerting_e2e.py",
    "test_history_fingerprints.py",
    "test_data_quality.py",
    "test_dagster_ui.py",
    "test_incremental.py",
    "test_stripe_fivetran.py",
    "test_anomaly_e2e.py",
    "test_event_trackers.py",
    "test_anomaly_bands.py",
    "test_killed_runs.py",
    "test_generated_shapes.py",
    "test_changed_months.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FILES)))  # stable: a file's tests keep their order


@pytest.fixture(scope="session")
def session_pushgateway(tmp_path_factory):
    """A real Pushgateway for the tests that run the job; tests of alerting start their own full stack."""
    stack = Stack(stack_settings(tmp_path_factory.mktemp("session_stack")))
    stack.up(("pushgateway",))
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def dbt_target_dir(tmp_path_factory) -> Path:
    """The session's dbt target directory (manifest, parse state, run artifacts), outside the checkout."""
    target = tmp_path_factory.mktemp("dbt_target")
    prepare_dbt_manifest(replace(load_settings({}), dbt_target_dir=target))
    return target


@pytest.fixture(scope="session")
def job_env(session_pushgateway, dbt_target_dir) -> dict[str, str]:
    """KPIWATCH_* settings every job run of the tests shares: the session's gateway and dbt target."""
    return {
        "KPIWATCH_PUSHGATEWAY_URL": session_pushgateway.settings.url("pushgateway"),
        "KPIWATCH_PUSHGATEWAY_BACKOFF_SECONDS": "0.2",
        "KPIWATCH_DBT_TARGET_DIR": str(dbt_target_dir),
    }


@pytest.fixture(scope="session")
def job_settings(job_env) -> Callable[..., Settings]:
    """settings_for(db, dagster_home, **fields): settings of an in-process run on one warehouse file."""

    def settings_for(db: Path, dagster_home: Path, env: Mapping[str, str] | None = None, **fields: Any) -> Settings:
        settings = load_settings({**job_env, **(env or {})})
        return replace(settings, duckdb_path=db, dagster_home=dagster_home, **fields)

    return settings_for


@pytest.fixture(scope="session")
def cli_env(job_env) -> Callable[..., dict[str, str]]:
    """cli_env(db, dagster_home, **variables): the environment of a `kpiwatch` subprocess."""

    def env_for(db: Path, dagster_home: Path, **variables: str) -> dict[str, str]:
        return {
            **os.environ,
            **job_env,
            "KPIWATCH_DUCKDB_PATH": str(db),
            "DAGSTER_HOME": str(dagster_home),
            **variables,
        }

    return env_for


# A Snowflake target's settings for `dbt compile --no-introspect`, which needs no account.
OFFLINE_SNOWFLAKE = {
    "KPIWATCH_SNOWFLAKE_ACCOUNT": "acme",
    "KPIWATCH_SNOWFLAKE_USER": "kpiwatch",
    "KPIWATCH_SNOWFLAKE_PASSWORD": "x",
    "KPIWATCH_SNOWFLAKE_DATABASE": "KPIWATCH",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}


def compiled_for_snowflake(env: Mapping[str, str], models: Sequence[str], work: Path) -> dict[str, str]:
    """dbt's SQL of `models` for the Snowflake target, compiled offline with `env`'s settings: {model: SQL}."""
    command = [beside_interpreter("dbt"), "compile", "--target", "snowflake", "--no-introspect", "--no-populate-cache"]
    command += ["--select", *models, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    command += ["--target-path", str(work), "--log-path", str(work)]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **OFFLINE_SNOWFLAKE, **env}, cwd=DBT_PROJECT_DIR
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return {model: next(work.rglob(f"{model}.sql")).read_text() for model in models}


@contextmanager
def fakesnow_warehouse() -> Iterator[SnowflakeWarehouse]:
    """kpiwatch's Snowflake warehouse (the real connector code) on fakesnow, its database KPIWATCH created."""
    import fakesnow

    with fakesnow.patch():
        warehouse = SnowflakeWarehouse(
            SnowflakeSettings(account="acme", user="kpiwatch", database="KPIWATCH", schema="RAW", password="x")
        )
        warehouse.query("create database if not exists kpiwatch")
        yield warehouse


def copy_run_state(settings: Settings, directory: Path) -> Settings:
    """The settings of a copy, under `directory`, of a warehouse file and its Dagster home: a test that
    changes a shared, already-run world works on its own copy, so tests stay independent of their order."""
    directory.mkdir()
    db = directory / settings.duckdb_path.name
    shutil.copy(settings.duckdb_path, db)
    home = directory / "home"
    if settings.dagster_home.exists():
        shutil.copytree(settings.dagster_home, home)
        (home / "dagster.yaml").unlink()  # it names the original home; the next run writes this one's
    return replace(settings, duckdb_path=db, dagster_home=home)


def parsed_in_full(dbt_target_dir: Path, run_id: str) -> bool:
    """Whether the run's dbt call parsed the whole project (dbt's UnableToPartialParse, I024) instead of
    starting from a saved state; its dbt.log must show that dbt loaded the project (W006)."""
    codes = [json.loads(line)["info"]["code"] for line in (dbt_target_dir / f"run-{run_id}" / "dbt.log").open()]
    assert "W006" in codes, "dbt.log does not show the project being loaded"
    return "I024" in codes


def write_raw_warehouse(path: Path, tables: Mapping[str, Iterable[Sequence[Any]]]) -> Path:
    """A DuckDB file with every contract table, filled with the given rows (in contract column order)."""
    con = duckdb.connect(str(path))
    try:
        for statement in raw_table_ddl():
            con.execute(statement)
        for name, rows in tables.items():
            columns = RAW_TABLES_BY_NAME[name].columns
            placeholders = ", ".join("?" for _ in columns)
            for row in rows:
                con.execute(f"insert into raw.{name} values ({placeholders})", list(row))
    finally:
        con.close()
    return path


def dbt_build(db_path: Path, as_of: str, work_dir: Path, extra_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run the real `dbt build` of the project against one DuckDB file; fail the test with dbt's output."""
    vars_ = json.dumps({"as_of": as_of})
    command = [
        beside_interpreter("dbt"),
        "build",
        "--vars",
        vars_,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        *extra_args,
    ]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "KPIWATCH_DUCKDB_PATH": str(db_path)}
    return subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=env)


def build_world(tmp_path_factory: pytest.TempPathFactory, name: str, tables: Mapping, as_of: str) -> Path:
    work = tmp_path_factory.mktemp(name)
    db = write_raw_warehouse(work / f"{name}.duckdb", tables)
    done = dbt_build(db, as_of, work)
    assert done.returncode == 0, f"dbt build failed for fixture {name}:\n{done.stdout[-6000:]}"
    return db


@pytest.fixture(scope="session")
def mrr_world_db(tmp_path_factory) -> Path:
    """The hand-worked MRR company (tests/fixtures/mrr_world.py), built once; tests only read it."""
    from tests.fixtures import mrr_world

    return build_world(tmp_path_factory, "mrr_world", mrr_world.TABLES, mrr_world.AS_OF)


@pytest.fixture(scope="session")
def activity_world_db(tmp_path_factory) -> Path:
    """The hand-worked activity company (tests/fixtures/activity_world.py), built once; tests only read it."""
    from tests.fixtures import activity_world

    return build_world(tmp_path_factory, "activity_world", activity_world.TABLES, activity_world.AS_OF)


@pytest.fixture(scope="session")
def segment_world_db(tmp_path_factory) -> Path:
    """The hand-worked segment company (tests/fixtures/segment_world.py), built once; tests only read it."""
    from tests.fixtures import segment_world

    return build_world(tmp_path_factory, "segment_world", segment_world.TABLES, segment_world.AS_OF)


def rows(db: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=False)) for r in cursor.fetchall()]
    finally:
        con.close()


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def money(value: Any) -> Decimal | None:
    """Compare money exactly at 6 decimal places, as stored."""
    return None if value is None else Decimal(value).quantize(Decimal("0.000001"))


COMPARED_SCHEMAS = ("intermediate", "marts")


def differing_rows(
    left, right, schemas: tuple[str, ...] = COMPARED_SCHEMAS, where: Callable[[set[str]], str] | None = None
) -> dict[str, int]:
    """Rows of each table present in one warehouse and not the other (0 everywhere when equal). `where` gives,
    from a table's column names, a filter both sides are compared under ("" for none)."""
    con = duckdb.connect(str(left), read_only=True)
    try:
        con.execute(f"attach '{right}' as other (read_only)")
        names = ", ".join(f"'{schema}'" for schema in schemas)
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_catalog = current_database() and table_schema in ({names}) and table_type = 'BASE TABLE'"
        ).fetchall()
        counts = {}
        for (table,) in tables:
            columns = {c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()}
            condition = where(columns) if where else ""
            filtered = f"where {condition}" if condition else ""
            one = f"select * from {table} {filtered} except all select * from other.{table} {filtered}"
            two = f"select * from other.{table} {filtered} except all select * from {table} {filtered}"
            counts[table] = con.execute(
                f"select (select count(*) from ({one})) + (select count(*) from ({two}))"
            ).fetchone()[0]
        return counts
    finally:
        con.close()


def execute_sql(db: Path, *statements: str) -> None:
    """Run statements on a warehouse file (planting changes to raw data), one connection."""
    con = duckdb.connect(str(db))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def query_one(db: Path, sql: str) -> tuple:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()
