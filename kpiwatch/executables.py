"""Command-line tools installed beside this Python (dbt, dagster, dagster-webserver, dagster-daemon).

A venv that is not activated has its tools in its `bin/` but not on PATH; every child process kpiwatch
starts is looked up here, so `.venv/bin/kpiwatch ...` works from any shell.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from kpiwatch.errors import KpiwatchError


def beside_interpreter(name: str) -> str:
    """The tool next to sys.executable, else the one on PATH; a clear error when neither exists."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise KpiwatchError(f"`{name}` is not installed beside {sys.executable} nor on PATH; run `bash scripts/setup.sh`.")


def bin_dir_first(path_variable: str | None) -> str:
    """A PATH value with this interpreter's bin directory first, for child processes that look tools up on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    rest = [p for p in (path_variable or "").split(":") if p and p != bin_dir]
    return ":".join([bin_dir, *rest])
