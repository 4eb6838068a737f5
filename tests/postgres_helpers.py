"""A throw-away PostgreSQL server (Debian's binaries) on a free loopback port, run as the postgres user."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL is not installed; scripts/setup.sh installs Debian's postgresql")
    return found[-1]


def _as_postgres(*command: str) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: use the postgres user that Debian's package creates."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *command], capture_output=True, text=True)
    if done.returncode:
        raise AssertionError(f"{Path(command[0]).name} failed: {done.stdout}{done.stderr}")
    return done


@contextlib.contextmanager
def postgres_server(port: int, password: str):
    """Yields connection settings; the cluster lives in its own temp dir, stopped and removed afterwards."""
    # pytest's tmp_path is private to root; the postgres user needs a directory it owns.
    directory = Path(tempfile.mkdtemp(prefix="kpiwatch-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    data = directory / "pgdata"
    pwfile = directory / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    _as_postgres(_bin("initdb"), "-D", str(data), "-U", "kpiwatch", "--pwfile", str(pwfile), "-A", "scram-sha-256")
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    _as_postgres(_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "postgres.log"), "-w", "start")
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise AssertionError("PostgreSQL did not become ready")
            time.sleep(0.2)
        yield {"host": "127.0.0.1", "port": port, "user": "kpiwatch", "password": password, "db": "postgres"}
    finally:
        _as_postgres(_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)
