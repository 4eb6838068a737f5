"""The dbt step's housekeeping: the dbt version without a subprocess, a bounded target directory, the dbt worker's
output reaching the run, and a dbt step that reports nothing failing."""

import datetime as dt
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

from kpiwatch.dbt_support.profile import project_arguments
from kpiwatch.dbt_support.worker import (
    CHILD_ENVIRONMENT_FILE,
    EXIT_MARKER,
    SOCKET_VARIABLE,
    DbtWorker,
    shim_executable,
    write_child_environment,
)
from kpiwatch.executables import beside_interpreter
from kpiwatch.hosting.launch import run_once
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.run_workers import Prestarted
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.settings import load_settings
from orchestration.dbt_models import prune_run_targets
from orchestration.dbt_project import dbt_project
from orchestration.resources import KpiwatchDbtCli

AS_OF = dt.date(2024, 3, 31)


def test_dbt_version_from_the_installed_package_is_what_the_executable_reports():
    dbt = beside_interpreter("dbt")
    resource = KpiwatchDbtCli(project_dir=dbt_project(load_settings({})), target="dev", dbt_executable=dbt)
    reported = subprocess.run([dbt, "--version"], capture_output=True, text=True, check=True).stdout
    assert str(resource._cli_version) == re.search(r"(\d+\.\d+\.\d+)", reported).group(1)


def test_a_dbt_elsewhere_is_asked_for_its_version(tmp_path):
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:\n  - installed: 9.8.7'\n")
    fake.chmod(0o755)
    resource = KpiwatchDbtCli(project_dir=dbt_project(load_settings({})), target="dev", dbt_executable=str(fake))
    assert str(resource._cli_version) == "9.8.7"


def test_prune_keeps_the_newest_run_directories_and_nothing_else_is_touched(tmp_path):
    for age, name in enumerate(["run-a", "run-b", "run-c", "run-d", "run-e", "run-f"]):
        run = tmp_path / name
        run.mkdir()
        (run / "manifest.json").write_text("{}")
        os.utime(run, (1_000_000 - age * 60, 1_000_000 - age * 60))  # run-a is the newest
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")
    (tmp_path / "compiled").mkdir()

    prune_run_targets(tmp_path, keep=3)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "compiled",
        "partial_parse.msgpack",
        "run-a",
        "run-b",
        "run-c",
    ]


def test_prune_with_fewer_runs_than_kept_removes_nothing(tmp_path):
    (tmp_path / "run-only").mkdir()
    prune_run_targets(tmp_path, keep=4)
    assert (tmp_path / "run-only").is_dir()


def test_loggers_skip_events_below_their_level_before_formatting_them():
    """kpiwatch/dbt_support/log_levels.py: the same lines as dbt writes, without formatting what is dropped; a print
    event still reaches a quiet (error-level) logger, as dbt sends it at error level."""
    import io

    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.event_manager import EventManager
    from dbt_common.events.logger import LineFormat, LoggerConfig
    from dbt_common.events.types import Note, PrintEvent, SystemExecutingCmd

    from kpiwatch.dbt_support.log_levels import level_first

    def counting(create_line, formatted):
        return lambda msg: formatted.append(msg.info.name) or create_line(msg)

    def events(manager):
        manager.fire_event(SystemExecutingCmd(cmd=["dbt", "build"]))  # debug
        manager.fire_event(Note(msg="a node finished"))  # info
        manager.fire_event(PrintEvent(msg="printed"))

    written = {}
    for patched in (False, True):
        for level in (EventLevel.INFO, EventLevel.ERROR):
            manager, stream = EventManager(), io.StringIO()
            manager.add_logger(
                LoggerConfig(name="test", line_format=LineFormat.Json, level=level, output_stream=stream)
            )
            (logger,) = manager.loggers
            formatted: list[str] = []
            logger.create_line = counting(logger.create_line, formatted)
            if patched:
                level_first(logger)
                level_first(logger)  # once per logger
            events(manager)
            names = [line.split('"name": "')[1].split('"')[0] for line in stream.getvalue().splitlines()]
            written[patched, level] = names
            if patched:
                assert formatted == names  # nothing formatted that is not written
    assert written[True, EventLevel.INFO] == written[False, EventLevel.INFO] == ["Note", "PrintEvent"]
    assert written[True, EventLevel.ERROR] == written[False, EventLevel.ERROR] == ["PrintEvent"]


def test_the_run_hands_its_dbt_variables_to_the_shim_through_the_target_directory_not_its_environment(tmp_path):
    """dagster-dbt gives its child a copy of os.environ and no way to add to it; the run writes what it adds into
    the invocation's target directory (DBT_TARGET_PATH), inherited values (a password) stay out of the file, and
    `kpiwatch-dbt` lays the rest over its environment: dbt connects to the run's warehouse."""
    before = dict(os.environ)
    inherited = {**os.environ, "KPIWATCH_SNOWFLAKE_PASSWORD": "s3cret"}
    warehouse = tmp_path / "handed over.duckdb"
    with mock.patch.dict(os.environ, {"KPIWATCH_SNOWFLAKE_PASSWORD": "s3cret"}):
        write_child_environment(
            tmp_path, {"KPIWATCH_DUCKDB_PATH": str(warehouse), "KPIWATCH_SNOWFLAKE_PASSWORD": "s3cret"}
        )
    assert dict(os.environ) == before
    written = tmp_path / CHILD_ENVIRONMENT_FILE
    assert json.loads(written.read_text()) == {"KPIWATCH_DUCKDB_PATH": str(warehouse)}
    assert written.stat().st_mode & 0o777 == 0o600

    env = {k: v for k, v in inherited.items() if k != "KPIWATCH_DUCKDB_PATH"}
    env.update(DBT_TARGET_PATH=str(tmp_path), DBT_LOG_PATH=str(tmp_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    done = subprocess.run(
        [beside_interpreter("kpiwatch-dbt"), "debug", *project_arguments(load_settings({}))],
        env=env,
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT_DIR,
    )
    assert f"path: {warehouse}" in done.stdout, done.stdout[-3000:]
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_dbt_worker_relays_dbts_log_lines_whatever_stream_its_parent_had_as_stdout(tmp_path, monkeypatch):
    """The worker is a fork of the run's process. A process whose sys.stdout is not descriptor 1 (pytest's
    capture, a notebook) must not take dbt's log lines away from the shim: dagster-dbt reads the step's
    results from them, and without them the dbt step reported nothing and the push was skipped."""
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    warehouse = tmp_path / "relayed.duckdb"
    env = {
        **os.environ,
        "KPIWATCH_DUCKDB_PATH": str(warehouse),
        "DBT_TARGET_PATH": str(tmp_path),
        "DBT_LOG_PATH": str(tmp_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with DbtWorker("dev") as worker:
        done = subprocess.run(
            [shim_executable(), "debug", *project_arguments(load_settings({}))],
            env={**env, **worker.env()},
            capture_output=True,
            text=True,
            cwd=DBT_PROJECT_DIR,
        )
    assert f"path: {warehouse}" in done.stdout, done.stdout[-3000:]
    assert done.returncode == 0, done.stdout[-3000:]
    assert sys.stdout.getvalue() == ""


class SilentWorker:
    """A dbt worker whose output is lost: it answers the shim's request with dbt's success code alone."""

    def __init__(self, directory: Path):
        self.address = str(directory / "silent.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(1)
        threading.Thread(target=self._answer, daemon=True).start()

    def _answer(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            connection.makefile("rb").readline()
            connection.sendall(b"\n" + EXIT_MARKER + b"0\n")

    def env(self) -> dict[str, str]:
        return {SOCKET_VARIABLE: f"{os.getpid()}:{self.address}"}


def test_a_dbt_step_whose_output_never_arrives_fails_the_run_and_publishes_nothing(tmp_path, job_settings):
    """dbt exiting 0 with no log line would be a quiet success that built nothing: the step fails instead,
    saying so, and nothing is published or recorded as processed."""
    db = tmp_path / "company.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=30, days=10, seed=5), progress=False, log=lambda _: None)
    settings = job_settings(db, tmp_path / "home")
    outcome = run_once(settings, AS_OF, prestarted=Prestarted(dbt=SilentWorker(tmp_path)))
    assert not outcome.success
    (failure,) = [f for f in outcome.failures if "dbt exited without reporting" in f]
    assert "nothing is recorded as built: its output did not arrive" in failure
    assert outcome.skipped_steps == ["prometheus_push"]
