"""Entry point for Dagster's tools (workspace.yaml, `dagster dev`): the definitions, built when loaded."""

import dagster as dg

from kpiwatch.settings import load_settings
from orchestration.dbt_project import prepare_dbt_manifest
from orchestration.system import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    prepare_dbt_manifest(settings)  # a no-op when the manifest is fresh
    return build_definitions(settings)
