"""The dbt project handle, built once; the project is parsed only when its manifest is missing or stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from kpiwatch.errors import KpiwatchError
from kpiwatch.paths import DBT_MANIFEST_PATH, DBT_PROJECT_DIR
from kpiwatch.settings import load_settings

kpiwatch_dbt = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=load_settings().target)
kpiwatch_dbt.prepare_if_dev()

PROJECT_SOURCES = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


def dbt_executable() -> str:
    """The dbt next to this Python, so `venv/bin/python -m ...` works without an activated venv."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def manifest_is_stale() -> bool:
    if not DBT_MANIFEST_PATH.exists():
        return True
    built = DBT_MANIFEST_PATH.stat().st_mtime
    for name in PROJECT_SOURCES:
        path = DBT_PROJECT_DIR / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def parse_environment() -> dict[str, str]:
    """The environment runs will have, so their dbt calls can reuse this parse (same profile hash)."""
    from orchestration.resources import WarehouseResource, warehouse_config

    return {**os.environ, **WarehouseResource(**warehouse_config(load_settings())).dbt_env()}


def ensure_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project files."""
    if manifest_is_stale():
        done = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target", kpiwatch_dbt.target or "dev"],
            capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=parse_environment(),
        )  # fmt: skip
        if done.returncode != 0:
            raise KpiwatchError(f"dbt parse failed for {DBT_PROJECT_DIR}:\n{done.stdout}{done.stderr}")
    return DBT_MANIFEST_PATH
