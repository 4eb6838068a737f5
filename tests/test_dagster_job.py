"""The whole job, run in-process through Dagster on generated data, agrees with plain SQL on raw tables."""

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest
from orchestration.launch import run_once

from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import load_settings

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    work = tmp_path_factory.mktemp("job")
    db = work / "warehouse.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=800, days=150, seed=3), progress=False, log=lambda _: None)
    settings = replace(load_settings({}), duckdb_path=db, dagster_home=work / "dagster_home")
    return settings


@pytest.fixture(scope="module")
def outcome(generated):
    return run_once(generated, AS_OF)


def test_job_succeeds_and_records_the_run(generated, outcome):
    from dagster import DagsterInstance

    assert outcome.success, outcome.failures
    instance = DagsterInstance.get()
    assert instance.get_run_by_id(outcome.run_id).is_success
    assert str(instance.root_directory) == str(generated.dagster_home)


def test_marts_mrr_matches_an_independent_sql_reading_of_the_raw_tables(generated, outcome):
    """Every month's MRR, recomputed straight from raw.subscriptions with the documented definition."""
    with open(DBT_PROJECT_DIR / "seeds" / "fx_rates.csv") as f:
        rates = {r["currency"]: float(r["usd_per_unit"]) for r in csv.DictReader(f)}
    con = duckdb.connect(str(generated.duckdb_path), read_only=True)
    try:
        con.execute("create temp table fx (currency varchar, rate double)")
        con.executemany("insert into fx values (?, ?)", list(rates.items()))
        independent = dict(
            con.execute("""
            with snapshots as (
                select month, least(month + interval 1 month, timestamp '2024-04-01') as snapshot_at
                from marts.fct_mrr_monthly
            )
            select month, coalesce(sum(amount * rate / case billing_interval when 'year' then 12 else 1 end), 0)
            from snapshots
            left join raw.subscriptions s on s.started_at < snapshot_at and (s.ended_at is null or
                s.ended_at >= snapshot_at)
            left join fx using (currency)
            group by month
        """).fetchall()
        )
        marts = dict(con.execute("select month, mrr_usd from marts.fct_mrr_monthly").fetchall())
        dau, mau = con.execute(
            "select dau, mau from marts.fct_active_users_daily where activity_date = '2024-03-31'"
        ).fetchone()
        raw_dau, raw_mau = con.execute("""
            select count(distinct user_id) filter (where cast(occurred_at as date) = date '2024-03-31'),
                   count(distinct user_id) filter (where cast(occurred_at as date) > date '2024-03-01')
            from raw.events
        """).fetchone()
    finally:
        con.close()
    assert marts.keys() == independent.keys() and len(marts) >= 5
    for month, value in independent.items():
        assert float(marts[month]) == pytest.approx(value, abs=1e-4), month
    assert marts[max(marts)] > 0
    assert (dau, mau) == (raw_dau, raw_mau)


def test_missing_raw_table_fails_the_run_with_the_contract_message(tmp_path, generated):
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(generated.duckdb_path.read_bytes())
    con = duckdb.connect(str(broken))
    con.execute("drop table raw.marketing_spend")
    con.close()
    env = {**os.environ, "KPIWATCH_DUCKDB_PATH": str(broken), "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", "2024-03-31"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "table raw.marketing_spend is missing. See docs/data-contract.md." in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_first_run_of_a_fresh_clone_builds_the_dbt_manifest(tmp_path, generated):
    """A clean checkout has no dbt_project/target/: `kpiwatch run` must parse the project, not crash on import."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    aside = tmp_path / "manifest.json"
    shutil.move(manifest, aside)
    try:
        env = {**os.environ, "KPIWATCH_DUCKDB_PATH": str(generated.duckdb_path), "DAGSTER_HOME": str(tmp_path / "home")}
        done = subprocess.run(
            [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", "2024-03-31"],
            capture_output=True,
            text=True,
            env=env,
        )
    finally:
        if not manifest.exists():
            shutil.move(aside, manifest)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "succeeded" in done.stdout
    assert manifest.exists()


def test_cli_names_a_missing_warehouse_file(tmp_path):
    env = {**os.environ, "KPIWATCH_DUCKDB_PATH": str(tmp_path / "none.duckdb")}
    done = subprocess.run([sys.executable, "-m", "kpiwatch.cli", "run"], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "none.duckdb does not exist. Create sample data with `kpiwatch generate --out" in done.stderr
    assert "Traceback" not in done.stderr
