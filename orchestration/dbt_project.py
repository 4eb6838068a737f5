"""The dbt project as Dagster sees it, the environment every dbt call gets, and the step that prepares
the manifest.

Nothing here runs on import. `prepare_dbt_manifest` is called explicitly: by `kpiwatch run`, `ui` and
`backfill`, by the definitions loader (so `dagster dev` from any shell finds a manifest), by the scripts
and by a test fixture. It parses only when the manifest is missing or older than the project's files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from kpiwatch.dbt_support.profile import dbt_environment, project_arguments
from kpiwatch.errors import KpiwatchError
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import Settings

if TYPE_CHECKING:
    from dagster_dbt import DbtProject

PROJECT_SOURCES = ("models", "metrics", "macros", "seeds", "tests", "analyses", "dbt_project.yml", "profiles.yml")


def dbt_project(settings: Settings) -> DbtProject:
    from dagster_dbt import DbtProject  # here, not on import: `kpiwatch metrics` refuses a bad file without Dagster

    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=settings.dbt_profiles_dir,
        target=settings.target,
        target_path=settings.dbt_target_dir,
    )


def manifest_path(settings: Settings) -> Path:
    return settings.dbt_target_dir / "manifest.json"


# Which folders the manifest was parsed from: another seeds, metrics or profile folder needs a new parse even when
# its files are older than the manifest.
PARSE_INPUTS_FILE = "kpiwatch_parse_inputs.json"


def parse_inputs(settings: Settings) -> str:
    import json

    folders = {"seeds": settings.seeds_dir, "metrics": settings.metrics_dir, "profiles": settings.dbt_profiles_dir}
    inputs = {name: str(path.resolve()) for name, path in folders.items()}
    # The source adapters chosen: they decide which adapter models the manifest holds (enabled).
    return json.dumps({**inputs, "sources": settings.sources.environment()}, sort_keys=True)


def manifest_is_stale(settings: Settings) -> bool:
    manifest = manifest_path(settings)
    if not manifest.exists():
        return True
    stamp = settings.dbt_target_dir / PARSE_INPUTS_FILE
    if not stamp.is_file() or stamp.read_text() != parse_inputs(settings):
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / name for name in PROJECT_SOURCES]
    for path in [*sources, settings.seeds_dir, settings.metrics_dir, settings.dbt_profiles_dir / "profiles.yml"]:
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def parse_error(output: str) -> str:
    """dbt's parse error on one line: what follows "Encountered an error:", else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.endswith("Encountered an error:"):
            return " ".join(lines[index + 1 : index + 6])[:600]
    return lines[-1][:600] if lines else "no output"


def prepare_dbt_manifest(settings: Settings) -> Path:
    """Run `dbt parse` (the dbt beside this Python) when the manifest is missing or stale; return its path."""
    if manifest_is_stale(settings):
        from kpiwatch.declarations import check_declarations
        from metrics.anomaly_config import SERIES

        check_declarations(settings.metrics_dir, SERIES)
        command = [
            beside_interpreter("dbt"),
            "parse",
            "--quiet",
            *project_arguments(settings),
            "--target-path",
            str(settings.dbt_target_dir),
            "--log-path",
            str(settings.dbt_target_dir),
        ]
        env = {**os.environ, **dbt_environment(settings)}  # the child inherits ours, plus the profile's values
        done = subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=env)
        if done.returncode != 0:
            raise KpiwatchError(f"dbt could not parse the project: {parse_error(done.stdout + done.stderr)}")
        (settings.dbt_target_dir / PARSE_INPUTS_FILE).write_text(parse_inputs(settings))
    return manifest_path(settings)
