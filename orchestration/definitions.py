"""The whole kpiwatch system: each area module contributes its own definitions."""

from dagster import Definitions

from kpiwatch.settings import load_settings
from orchestration import dbt_models, publish, raw_checks, raw_sources, schedules
from orchestration.resources import build_resources

defs = Definitions.merge(
    raw_sources.defs,
    raw_checks.defs,
    dbt_models.defs,
    publish.defs,
    schedules.defs,
    Definitions(resources=build_resources(load_settings())),
)
