"""Hostile settings and files through the real CLI: one line naming the cause and the fix, the right exit
code (2 for configuration, 1 for a run that cannot go on), and never a traceback."""

import datetime as dt
import os
import subprocess
import sys
import time

import duckdb
import pytest

from kpiwatch.contract import raw_table_ddl


def kpiwatch(*args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", *args], capture_output=True, text=True, env={**env, **variables}
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def warehouse(tmp_path):
    """An empty warehouse that matches the contract: enough for a command to get past opening it."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    for statement in raw_table_ddl():
        con.execute(statement)
    con.close()
    return path


@pytest.mark.parametrize("command", [["run"], ["generate", "--force"]])
@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("w.duckdb?access_mode=read_write", "'?', which DuckDB reads as the start of options"),
        ("we#ird/w.duckdb", "'#', which dbt-duckdb reads as the start of a URL fragment"),
    ],
)
def test_a_warehouse_path_the_stack_would_misread_is_refused(tmp_path, command, name, reader):
    """DuckDB reads `?` in a path as options, dbt-duckdb `#` as a URL fragment: refused before anything opens it."""
    path = tmp_path / name
    done = kpiwatch(*command, KPIWATCH_DUCKDB_PATH=str(path))
    assert done.returncode == 2
    assert one_line(done) == f"kpiwatch: KPIWATCH_DUCKDB_PATH='{path}' contains {reader}; rename it."
    assert not list(tmp_path.iterdir())


def test_generate_refuses_an_out_path_with_a_question_mark(tmp_path):
    path = tmp_path / "w.duckdb?x"
    done = kpiwatch("generate", "--out", str(path))
    assert done.returncode == 2
    assert one_line(done) == (
        f"kpiwatch: --out='{path}' contains '?', which DuckDB reads as the start of options; rename it."
    )


def test_a_warehouse_path_that_is_a_directory(tmp_path):
    done = kpiwatch("run", KPIWATCH_DUCKDB_PATH=str(tmp_path))
    assert done.returncode == 2
    assert one_line(done) == (
        f"kpiwatch: KPIWATCH_DUCKDB_PATH='{tmp_path}' is a directory; point it at a DuckDB database file."
    )


def test_a_warehouse_path_that_is_not_a_duckdb_file(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are notes, not a database\n" * 200)
    done = kpiwatch("run", KPIWATCH_DUCKDB_PATH=str(path))
    assert done.returncode == 2
    assert one_line(done) == (
        f"kpiwatch: KPIWATCH_DUCKDB_PATH='{path}' is not a DuckDB database file; point it at your warehouse file."
    )


def test_a_warehouse_locked_by_another_process_names_it_and_exits_1(warehouse):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"1"  # the lock is held from here on
        done = kpiwatch("run", KPIWATCH_DUCKDB_PATH=str(warehouse))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith(f"kpiwatch: DuckDB file {warehouse} is in use by another process (")
    assert f"PID {holder.pid}" in line and line.endswith("or stop it, then run again.")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"version: 1\ntables:\n  users: {severity: [\n",
            "is not valid YAML at line 4, column 1: expected the node content",
        ),
        (b"- version\n- 1\n", "expected a mapping with `version: 1` and `tables`, got list"),
        (
            b"version: 1\ntables:\n  users:\n    not_empty: error\n",
            "tables.users.not_empty must be a mapping such as {severity: error}, got 'error'",
        ),
        (
            b"version: 1\ntables:\n  users: [not_empty]\n",
            "tables.users must map check names to settings, got ['not_empty']",
        ),
        ("version: 1\n# caf\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 16); save it as UTF-8"),
        (
            b"version: 1\ntables:\n  events:\n    history_unchanged: {severity: warn, repair_max_days: soon}\n",
            "tables.events.history_unchanged.repair_max_days must be a non-negative number, got 'soon'",
        ),
        (
            b"version: 1\ntables:\n  events:\n    history_unchanged: {severity: warn, full_scan_every_days: -7}\n",
            "tables.events.history_unchanged.full_scan_every_days must be a non-negative number, got -7",
        ),
        (
            b"version: 1\ntables:\n  users:\n    history_unchanged: {severity: warn, hash_recent_days: 2.5}\n",
            "tables.users.history_unchanged.hash_recent_days must be a whole number of days, got 2.5",
        ),
        (
            b"version: 1\ntables:\n  events:\n    periods_do_not_overlap: {severity: error}\n",
            "tables.events.periods_do_not_overlap applies to subscriptions only",
        ),
    ],
)
def test_a_malformed_checks_file_is_one_sentence(tmp_path, warehouse, content, problem):
    config = tmp_path / "checks.yml"
    config.write_bytes(content)
    done = kpiwatch("run", KPIWATCH_DUCKDB_PATH=str(warehouse), KPIWATCH_CHECKS_CONFIG=str(config))
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("kpiwatch: ") and problem in line, line
    assert str(config) in line


def test_a_checks_file_that_is_a_directory(tmp_path, warehouse):
    done = kpiwatch("run", KPIWATCH_DUCKDB_PATH=str(warehouse), KPIWATCH_CHECKS_CONFIG=str(tmp_path))
    assert done.returncode == 2
    assert one_line(done) == (
        f"kpiwatch: Checks configuration {tmp_path} (KPIWATCH_CHECKS_CONFIG) is a directory; point it at a YAML "
        "file like expectations/checks.yml."
    )


def test_an_as_of_in_the_future_explains_utc_days(warehouse):
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    started = time.monotonic()
    done = kpiwatch("run", "--as-of", tomorrow.isoformat(), KPIWATCH_DUCKDB_PATH=str(warehouse))
    assert done.returncode == 2
    assert one_line(done) == (
        f"kpiwatch: --as-of {tomorrow} is in the future: the newest day is today in UTC, "
        f"{tomorrow - dt.timedelta(days=1)} (kpiwatch's days are UTC days)."
    )
    assert time.monotonic() - started < 30  # refused before any run starts


def test_a_backfill_ending_in_the_future_is_refused(warehouse):
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    done = kpiwatch(
        "backfill", "--start", "2024-01-01", "--end", tomorrow.isoformat(), KPIWATCH_DUCKDB_PATH=str(warehouse)
    )
    assert done.returncode == 2
    assert one_line(done).startswith(f"kpiwatch: --end {tomorrow} is in the future")


@pytest.mark.slow
def test_a_warehouse_path_with_url_and_sql_characters_is_used_as_it_is(tmp_path, cli_env):
    """`&`, `=`, `%`, quotes, spaces and SQL in a file path stay a file path: in Great Expectations' connection
    (no query string, no second statement) and in dbt's profile."""
    folder = tmp_path / "we&ird=name%20 ;COPY (SELECT 42) TO 'x.csv'; SELECT 1 --"
    folder.mkdir()
    db = folder / "w&threads=1.duckdb"
    env = cli_env(db, tmp_path / "home")
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpiwatch.cli",
            "generate",
            "--out",
            str(db),
            "--users",
            "200",
            "--days",
            "40",
            "--as-of",
            "2024-03-31",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", "2024-03-31"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "succeeded" in done.stdout
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".duckdb") == [db.name]  # no second database
    assert not list(tmp_path.rglob("x.csv"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["revenue"],
            "kpiwatch: unknown metric 'revenue'; use one of: mrr, unit_economics, cac, active_users, "
            "retention, conversion, feature_adoption.",
        ),
        (["mrr", "--limit", "0"], "kpiwatch: --limit '0' must be a whole number from 1 to 100,000."),
        (["mrr", "--limit", "ten"], "kpiwatch: --limit 'ten' must be a whole number from 1 to 100,000."),
        (["mrr", "--limit", "-5"], "kpiwatch: --limit '-5' must be a whole number from 1 to 100,000."),
    ],
)
def test_a_malformed_ledger_request_is_one_line(warehouse, arguments, message):
    done = kpiwatch("ledger", *arguments, KPIWATCH_DUCKDB_PATH=str(warehouse))
    assert done.returncode == 2
    assert one_line(done) == message


def test_the_ledger_of_a_warehouse_that_never_published_says_so(warehouse):
    done = kpiwatch("ledger", "mrr", KPIWATCH_DUCKDB_PATH=str(warehouse))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "Nothing published for mrr yet: run `kpiwatch run` first.\n"
