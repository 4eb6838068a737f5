"""The project's date macros give the same, hand-worked answers on DuckDB and on Snowflake.

dbt compiles analyses/date_edge_cases.sql once per target; the DuckDB SQL runs on DuckDB and the
Snowflake SQL on fakesnow (which emulates Snowflake's functions on DuckDB). A live-account run of the
same analysis is described in docs/deploy.md.
"""

import json
import os
import subprocess

import duckdb
import fakesnow
import pytest
import snowflake.connector

from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow
RUN_VARS = {"as_of": "2024-02-29", "window_start": "2024-03-02", "lookback_days": 3}

# Worked out by hand from the macro definitions in macros/date_math.sql and macros/evaluation_window.sql.
EXPECTED = {
    "days leap february": "2",  # Feb 28 -> Feb 29 -> Mar 1
    "days across midnight new year": "1",  # one second apart, but two UTC days
    "weeks six days": "0",
    "weeks seven days": "1",
    "weeks across year end": "2",  # Dec 25 -> Jan 8 is 14 days
    "weeks backwards": "-1",
    "months one day apart": "1",  # a month boundary is crossed
    "months same month": "0",
    "months across year end": "1",
    "months one year": "12",
    "add month to january 31": "2024-02-29",  # clamped to the month's last day (leap year)
    "subtract month from march 31": "2024-02-29",
    "month start of leap day": "2024-02-01",
    "month start of last instant": "2024-03-01",
    "week start of a sunday night": "2024-03-25",  # Monday to Sunday, in UTC days
    "week start of a monday": "2024-04-01",
    "week start before 2001": "1999-12-27",  # counted from Monday 2001-01-01, backwards too
    "day of last instant": "2024-03-31",
    "evaluation cutoff": "2024-03-01",  # the day after as_of = Feb 29
    "first processed day": "2024-02-28",  # window_start Mar 2 minus 3 days, through Feb 29
}


def compiled_analysis(target: str, tmp_path) -> str:
    env = {
        **os.environ,
        "KPIWATCH_DUCKDB_PATH": str(tmp_path / "unused.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "KPIWATCH_SNOWFLAKE_ACCOUNT": "dummy-account",
        "KPIWATCH_SNOWFLAKE_USER": "dummy",
    }
    done = subprocess.run(
        [
            beside_interpreter("dbt"),
            "compile",
            "--target",
            target,
            "--select",
            "date_edge_cases",
            "--no-introspect",
            "--no-populate-cache",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / target),
            "--log-path",
            str(tmp_path / "logs"),
            "--vars",
            json.dumps(RUN_VARS),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return (tmp_path / target / "compiled" / "kpiwatch" / "analyses" / "date_edge_cases.sql").read_text()


def test_date_macros_on_duckdb(tmp_path):
    rows = duckdb.connect().execute(compiled_analysis("dev", tmp_path)).fetchall()
    assert dict(rows) == EXPECTED


def test_date_macros_on_snowflake(tmp_path):
    sql = compiled_analysis("snowflake", tmp_path)
    assert "datediff(" in sql.lower() and "dateadd(" in sql.lower()  # Snowflake's own functions were compiled
    with fakesnow.patch():
        connection = snowflake.connector.connect(account="acme", user="kpiwatch", password="x", database="kpiwatch")
        try:
            cursor = connection.cursor()
            cursor.execute("create database if not exists kpiwatch")
            rows = cursor.execute(sql).fetchall()
        finally:
            connection.close()
    assert dict(rows) == EXPECTED
