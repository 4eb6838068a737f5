"""Whether a process runs, for the run lock, the dbt worker and the UI: standard library only, so the
`kpiwatch-dbt` shim that imports it still starts in milliseconds."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether the process runs. A zombie (dead, not yet reaped by its parent) does not: a killed worker or
    webserver stays one until its parent waits for it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return _signal_reaches(pid)  # no /proc (not Linux): existence is all that can be asked


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user
    return True
