"""The whole job, run in-process through Dagster on generated data, agrees with plain SQL on raw tables."""

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import differing_rows

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("job")
    db = work / "warehouse.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=800, days=150, seed=3), progress=False, log=lambda _: None)
    return job_settings(db, work / "dagster_home")


@pytest.fixture(scope="module")
def outcome(generated):
    before = dict(os.environ)
    result = run_once(generated, AS_OF)
    assert dict(os.environ) == before, "a run must leave this process's environment as it was"
    return result


def test_job_succeeds_and_records_the_run(generated, outcome):
    from dagster import DagsterInstance

    assert outcome.success, outcome.failures
    instance = DagsterInstance.from_config(str(generated.dagster_home))
    assert instance.get_run_by_id(outcome.run_id).is_success


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


def test_missing_raw_table_fails_the_run_with_the_contract_message(tmp_path, generated, cli_env):
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(generated.duckdb_path.read_bytes())
    con = duckdb.connect(str(broken))
    con.execute("drop table raw.marketing_spend")
    con.close()
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", "2024-03-31"],
        capture_output=True,
        text=True,
        env=cli_env(broken, tmp_path / "home"),
    )
    assert done.returncode == 1
    assert "table raw.marketing_spend is missing. See docs/data-contract.md." in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_fresh_clone_run_from_a_shell_without_the_venv_builds_the_manifest_and_exits_quietly(
    tmp_path, generated, outcome, cli_env
):
    """A clean checkout has no dbt target yet, and `.venv/bin/kpiwatch run` may be typed in a shell whose PATH
    lacks the venv: the run parses the project with the dbt beside it, succeeds, and writes nothing to stderr
    (no library noise such as duckdb's `nanobind: leaked` lines)."""
    target = tmp_path / "fresh_target"
    copy = tmp_path / "copy.duckdb"
    shutil.copy(generated.duckdb_path, copy)
    env = cli_env(copy, tmp_path / "home", KPIWATCH_DBT_TARGET_DIR=str(target))
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("kpiwatch")), "run", "--as-of", "2024-03-31"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "succeeded" in done.stdout
    assert (target / "manifest.json").exists()
    assert done.stderr == ""
    # The CLI validates in its pre-started GX and dbt workers (dbt reusing the parse it made ahead):
    # the same marts as the in-process run of the same day.
    assert set(differing_rows(copy, generated.duckdb_path).values()) == {0}


def test_cli_names_a_missing_warehouse_file(tmp_path):
    env = {**os.environ, "KPIWATCH_DUCKDB_PATH": str(tmp_path / "none.duckdb")}
    done = subprocess.run([sys.executable, "-m", "kpiwatch.cli", "run"], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "none.duckdb does not exist. Create sample data with `kpiwatch generate --out" in done.stderr
    assert "Traceback" not in done.stderr
