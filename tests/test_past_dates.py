"""A run of a past date, after runs of later dates, gives that date's numbers: every mart equals a full
rebuild as of the same date (docs/metrics.md promises that a past date reproduces that day's run)."""

import datetime as dt
import shutil

import duckdb
import pytest

from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.hosting.launch import run_once

pytestmark = pytest.mark.slow
LATER, PAST = dt.date(2024, 3, 5), dt.date(2024, 2, 10)


def mart_differences(rerun, rebuilt, as_of: dt.date) -> dict[str, int]:
    """Rows of each mart in one warehouse and not the other. Daily marts keep the days after `as_of` that
    runs of later dates built; only their days up to `as_of` belong to the past date's numbers."""
    con = duckdb.connect(str(rerun), read_only=True)
    try:
        con.execute(f"attach '{rebuilt}' as rebuilt (read_only)")
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = current_database() "
                "and table_schema = 'marts' and table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            columns = {c for (c,) in con.execute(f"select column_name from (describe marts.{table})").fetchall()}
            where = f"where activity_date <= date '{as_of}'" if "activity_date" in columns else ""
            one = f"select * from marts.{table} {where} except all select * from rebuilt.marts.{table}"
            two = f"select * from rebuilt.marts.{table} except all select * from marts.{table} {where}"
            counts[table] = con.execute(
                f"select (select count(*) from ({one})) + (select count(*) from ({two}))"
            ).fetchone()[0]
        return counts
    finally:
        con.close()


def test_a_past_date_after_a_later_run_equals_its_full_rebuild(tmp_path, job_settings):
    rerun, rebuilt = tmp_path / "rerun.duckdb", tmp_path / "rebuilt.duckdb"
    generate(GenerateOptions(out=rerun, as_of=LATER, users=500, days=100, seed=5), progress=False, log=lambda _: None)
    shutil.copy(rerun, rebuilt)
    rerun_settings = job_settings(rerun, tmp_path / "home_rerun")
    for as_of in (LATER, PAST):
        outcome = run_once(rerun_settings, as_of)
        assert outcome.success, (outcome.failures, outcome.failed_checks)
    outcome = run_once(job_settings(rebuilt, tmp_path / "home_rebuilt"), PAST, full_refresh=True)
    assert outcome.success, (outcome.failures, outcome.failed_checks)

    differences = mart_differences(rerun, rebuilt, PAST)

    assert len(differences) >= 9 and set(differences.values()) == {0}, differences
