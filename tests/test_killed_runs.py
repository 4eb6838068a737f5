"""`kill -9` of a run, and two runs at once: no dbt left writing, no run left "started", a clear refusal."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from kpiwatch.dbt_support.worker import PARENT_VARIABLE, WORKER_NAME
from kpiwatch.hosting.instance import prepare_instance
from kpiwatch.hosting.run_lock import exclusive_run, lock_path
from kpiwatch.hosting.webserver import descendants
from kpiwatch.processes import alive
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.settings import load_settings
from tests.monitoring_helpers import wait_until

AS_OF = dt.date(2024, 3, 31)
KPIWATCH = str(Path(sys.executable).with_name("kpiwatch"))
# dbt gets SIGKILL from the kernel when the run dies (parent-death signal): gone at once, whatever the load.
DBT_DIES_WITHIN_SECONDS = 3


def command_line(pid: int) -> str:
    """The command line, then the process name (a forked worker keeps its parent's command line)."""
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return f"{line} [{Path(f'/proc/{pid}/comm').read_text().strip()}]"
    except OSError:
        return ""


def described(pid: int) -> str:
    """A process that should be gone, as /proc shows it: what it is, its state and where the kernel holds it."""
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except (OSError, StopIteration):
        return f"{pid} (gone)"
    return f"{pid} {command_line(pid)} {state} wchan={wchan}"


@pytest.mark.slow
@pytest.mark.parametrize("prestart", ["on", "off"])
def test_a_killed_run_leaves_no_process_behind_and_the_next_run_fails_it_and_succeeds(tmp_path, cli_env, prestart):
    """With or without the pre-started workers, dbt dies with the run at once (it would otherwise go on
    writing to the warehouse), the next run is not blocked, and it marks the killed run failed."""
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=300, days=60, seed=8), progress=False, log=lambda _: None)
    env = cli_env(db, tmp_path / "home", KPIWATCH_PRESTART=prestart)
    with open(tmp_path / "killed.log", "wb") as log:
        victim = subprocess.Popen([KPIWATCH, "run", "--as-of", str(AS_OF)], env=env, stdout=log, stderr=log)
    try:
        # Kill it while dbt builds: the program dagster-dbt starts is running (`kpiwatch-dbt build ...`, which
        # without a worker becomes `dbt build ...` at once).
        wait_until(
            lambda: any(" build --indirect-selection" in command_line(pid) for pid in descendants(victim.pid)),
            timeout=180,
            every=0.05,
            what="the run to reach its dbt step",
        )
        tree = descendants(victim.pid)
        dbt_names = (f"[{WORKER_NAME}]", "kpiwatch-dbt", "/dbt ")
        dbt = [pid for pid in tree if any(name in command_line(pid) for name in dbt_names)]
        assert (prestart == "on") == any(f"[{WORKER_NAME}]" in command_line(pid) for pid in dbt), dbt
        holder = lock_path(load_settings(env)).read_text()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        deadline = time.monotonic() + DBT_DIES_WITHIN_SECONDS
        while (lingering := [p for p in dbt if alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        after_kill = f"{DBT_DIES_WITHIN_SECONDS} s after kill -9 of the run: "
        assert not lingering, after_kill + "; ".join(map(described, lingering))
        wait_until(lambda: not [p for p in tree if alive(p)], timeout=30, what="every child of the run to end")
    finally:
        if victim.poll() is None:
            victim.kill()
    killed_run_id = holder.split()[1]

    done = subprocess.run([KPIWATCH, "run", "--as-of", str(AS_OF)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    instance = DagsterInstance.from_config(str(tmp_path / "home"))
    assert instance.get_run_by_id(killed_run_id).status == DagsterRunStatus.FAILURE


def test_a_second_run_on_the_same_warehouse_is_refused_with_who_holds_it(tmp_path):
    db = tmp_path / "w.duckdb"
    db.write_bytes(b"")  # never opened: the refusal comes first
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(KPIWATCH_DUCKDB_PATH=str(db), KPIWATCH_RUN_LOCK_WAIT_SECONDS="0.5", DAGSTER_HOME=str(tmp_path / "h"))
    with exclusive_run(load_settings(env), "first-run-id"):
        done = subprocess.run(
            [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", str(AS_OF)],
            env=env,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "kpiwatch: another kpiwatch run is in progress on this warehouse: "
        f"run first-run-id (pid {os.getpid()}, started "
    )
    assert done.stderr.splitlines()[-1].endswith(
        "Waited 0.5 s (KPIWATCH_RUN_LOCK_WAIT_SECONDS); run again once it has finished."
    )


def test_a_run_waits_for_a_run_launched_in_dagster_and_names_it(tmp_path):
    """Runs from the UI, the schedule or a backfill hold Dagster's queue, not the lock file: `kpiwatch run`
    waits for them too and, past the wait, names the run."""
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=40, days=10, seed=3), progress=False, log=lambda _: None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(KPIWATCH_DUCKDB_PATH=str(db), KPIWATCH_RUN_LOCK_WAIT_SECONDS="0.5", DAGSTER_HOME=str(tmp_path / "h"))
    with prepare_instance(tmp_path / "h") as instance:
        instance.add_run(DagsterRun(job_name="kpiwatch_daily", run_id="ui-run-id", status=DagsterRunStatus.STARTED))
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", str(AS_OF)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "kpiwatch: run ui-run-id of kpiwatch_daily (launched in Dagster) is in progress on this warehouse. Waited "
        "0.5 s (KPIWATCH_RUN_LOCK_WAIT_SECONDS); run again once it has finished, or mark it failed in the UI if "
        "its process is gone."
    ), done.stderr[-3000:]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "kpiwatch: KPIWATCH_RUN_LOCK_WAIT_SECONDS='soon' is not a number.\n"),
        ("-1", "kpiwatch: KPIWATCH_RUN_LOCK_WAIT_SECONDS='-1' must be between 0 and 21600.\n"),
        ("86400", "kpiwatch: KPIWATCH_RUN_LOCK_WAIT_SECONDS='86400' must be between 0 and 21600.\n"),
    ],
)
def test_a_malformed_lock_wait_is_refused(value, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run"],
        env={**env, "KPIWATCH_RUN_LOCK_WAIT_SECONDS": value},
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stderr) == (2, message)


def test_a_dbt_shim_whose_run_is_already_gone_exits_instead_of_running_dbt(tmp_path):
    """The run can die while the shim's interpreter is still starting: the shim, adopted by init by then, must
    not become an orphaned dbt writing to the warehouse. It is told its run's pid, and that is not its parent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env[PARENT_VARIABLE] = str(os.getpid() + 1_000_000)  # not this shim's parent: its run is gone
    done = subprocess.run(
        [str(Path(sys.executable).with_name("kpiwatch-dbt")), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "dbt" not in done.stdout.lower(), done.stdout
