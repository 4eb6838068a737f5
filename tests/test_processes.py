"""kpiwatch.processes.alive: the run lock, the dbt shim and the UI's stop all rely on it."""

import os
import subprocess
import time

from kpiwatch.processes import alive


def test_a_running_process_is_alive_and_a_zombie_or_reaped_one_is_not():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert alive(child.pid) and alive(os.getpid())
        child.kill()
        deadline = time.monotonic() + 10
        # Killed but not yet waited for: a zombie, which must not count as running.
        while alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not alive(child.pid)
        assert child.poll() is not None  # reaped only now
        assert not alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_pid_that_never_existed_is_not_alive():
    assert not alive(2**22 + 1)  # above Linux's pid_max ceiling
