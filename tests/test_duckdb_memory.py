"""KPIWATCH_DUCKDB_MEMORY_LIMIT caps DuckDB in every process that runs warehouse work: checks, dbt, summaries."""

import json
import os
import subprocess

import duckdb
import pytest
import sqlalchemy as sa

from kpiwatch.dbt_support.profile import dbt_environment
from kpiwatch.errors import ConfigError
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import load_settings
from kpiwatch.warehouse import DuckDBWarehouse

SETTING = "select current_setting('memory_limit') as memory_limit"


@pytest.fixture()
def warehouse_file(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_the_limit_is_read_and_checked_from_the_environment():
    assert load_settings({}).duckdb_memory_limit == "3GB"
    assert load_settings({"KPIWATCH_DUCKDB_MEMORY_LIMIT": " 512 MiB"}).duckdb_memory_limit == "512MiB"
    for bad in ("lots", "3", "3 parsecs", "-1GB"):
        with pytest.raises(ConfigError, match="KPIWATCH_DUCKDB_MEMORY_LIMIT"):
            load_settings({"KPIWATCH_DUCKDB_MEMORY_LIMIT": bad})


def test_kpiwatch_and_great_expectations_connections_get_the_limit(warehouse_file):
    warehouse = DuckDBWarehouse(warehouse_file, memory_limit="1GiB")
    assert warehouse.query(SETTING)[0]["memory_limit"] == "1.0 GiB"
    url, arguments = warehouse.sqlalchemy_engine()
    engine = sa.create_engine(url, **arguments)
    with engine.connect() as connection:
        assert connection.execute(sa.text(SETTING)).scalar() == "1.0 GiB"
    engine.dispose()


def test_dbt_gets_the_limit_through_the_profile(warehouse_file):
    settings = load_settings({"KPIWATCH_DUCKDB_PATH": str(warehouse_file), "KPIWATCH_DUCKDB_MEMORY_LIMIT": "768MiB"})
    env = {**os.environ, **dbt_environment(settings)}
    shown = subprocess.run(
        [
            beside_interpreter("dbt"),
            "show",
            "--inline",
            SETTING,
            "--output",
            "json",
            "--log-format",
            "json",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            "dev",
            "--target-path",
            str(warehouse_file.parent / "target"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    preview = json.loads(json.loads(shown.stdout.strip().splitlines()[-1])["data"]["preview"])
    assert preview == [{"memory_limit": "768.0 MiB"}]
