"""The production instance (deploy/dagster.yaml): runs recorded in a real PostgreSQL."""

import datetime as dt
import json
import os
import shutil
from dataclasses import replace

import psycopg2
import pytest
from orchestration.launch import run_once

from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.paths import DBT_MANIFEST_PATH, REPO_ROOT
from kpiwatch.settings import load_settings
from tests.monitoring_helpers import free_port
from tests.postgres_helpers import postgres_server

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


def test_the_job_runs_on_the_postgres_instance_and_the_run_is_recorded(tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=800, days=60, seed=4), progress=False, log=lambda _: None)
    with postgres_server(free_port(), password="pw-for-this-test-only") as pg:
        for key, value in {
            "HOST": pg["host"],
            "PORT": str(pg["port"]),
            "DB": pg["db"],
            "USER": pg["user"],
            "PASSWORD": pg["password"],
        }.items():
            monkeypatch.setenv(f"KPIWATCH_DAGSTER_PG_{key}", value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")

        outcome = run_once(replace(load_settings({}), duckdb_path=db, dagster_home=home), AS_OF)

        assert outcome.success, outcome.failures
        with (
            psycopg2.connect(
                host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], dbname=pg["db"]
            ) as con,
            con.cursor() as cursor,
        ):
            cursor.execute("select status from runs where run_id = %s", (outcome.run_id,))
            assert cursor.fetchone() == ("SUCCESS",)
            cursor.execute(
                "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_CHECK_EVALUATION'",
                (outcome.run_id,),
            )
            assert cursor.fetchone()[0] > 50  # raw-table checks and dbt tests
            cursor.execute(
                "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
                (outcome.run_id,),
            )
            assert cursor.fetchone()[0] >= built_assets()  # every model and seed, and the push
    assert os.environ.get("DAGSTER_HOME") == str(home)


def built_assets() -> int:
    manifest = json.loads(DBT_MANIFEST_PATH.read_text())
    return sum(n["resource_type"] in ("model", "seed") for n in manifest["nodes"].values()) + 1  # + prometheus_push
