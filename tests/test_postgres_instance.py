"""The production instance (deploy/dagster.yaml): runs recorded in a real PostgreSQL."""

import datetime as dt
import json
import os
import shutil

import psycopg2
import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.paths import REPO_ROOT
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.monitoring_helpers import free_port
from tests.postgres_helpers import postgres_server

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


def test_the_job_runs_on_the_postgres_instance_and_the_run_is_recorded(
    tmp_path, monkeypatch, job_settings, dbt_target_dir
):
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

        outcome = run_once(job_settings(db, home), AS_OF)

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
            assert cursor.fetchone()[0] >= built_assets(
                dbt_target_dir / "manifest.json"
            )  # every model and seed, and the push
    assert "DAGSTER_HOME" not in os.environ or os.environ["DAGSTER_HOME"] != str(home)  # nothing leaks into ours


def built_assets(manifest_file) -> int:
    manifest = json.loads(manifest_file.read_text())
    relations = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "seed") and n["config"].get("materialized") != "ephemeral"
    ]
    return len(relations) + 1  # + prometheus_push; an ephemeral model is a CTE of others, not an asset
