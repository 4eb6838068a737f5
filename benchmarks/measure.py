"""Run one command and measure it: wall seconds, CPU seconds (user + system, with the processes it
waited for) and the peak resident memory of the largest process in its tree."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def measure(
    command: list[str],
    env: dict[str, str],
    memory_limit_gib: float | None = None,
    timeout_s: float | None = None,
    cwd: Path | None = None,
) -> Measurement:
    """memory_limit_gib caps the address space, so a runaway process fails with MemoryError instead of
    taking the machine down; timeout_s kills it; cwd is the command's directory (default: this one)."""

    def limit():
        if memory_limit_gib:
            cap = int(memory_limit_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, preexec_fn=limit, cwd=cwd)
        timer = threading.Timer(timeout_s, process.kill) if timeout_s else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if timer:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measurement(
            wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read()
        )
