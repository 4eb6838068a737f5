"""Resources, keyed by the same target names as dbt's profiles.yml (dev, snowflake)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from kpiwatch.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings, load_settings, parse_date
from kpiwatch.warehouse import DuckDBWarehouse, Warehouse
from orchestration.dbt_project_handle import dbt_executable, kpiwatch_dbt
from orchestration.run_window import RunWindow, window_from_tags


class EvaluationWindow(ConfigurableResource):
    """How a run picks its days: the run's partition (range) if it has one, else as_of; an empty as_of
    means KPIWATCH_AS_OF, else today (UTC). lookback_days < 0 means KPIWATCH_LOOKBACK_DAYS."""

    as_of: str = ""
    lookback_days: int = -1

    def window(self, run_tags: Mapping[str, str]) -> RunWindow:
        settings = load_settings()
        default_as_of = parse_date(self.as_of, "as_of") if self.as_of else settings.as_of
        lookback = self.lookback_days if self.lookback_days >= 0 else settings.lookback_days
        return window_from_tags(run_tags, default_as_of, lookback)


class WarehouseResource(ConfigurableResource):
    """Where the raw tables and the marts live."""

    target: str = "dev"
    duckdb_path: str = ""
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    def client(self) -> Warehouse:
        if self.target == "snowflake":
            from kpiwatch.snowflake_warehouse import SnowflakeWarehouse, snowflake_settings_from_env

            return SnowflakeWarehouse(snowflake_settings_from_env())
        return DuckDBWarehouse(self.duckdb_path, memory_limit=self.duckdb_memory_limit)

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml reads for this target."""
        if self.target != "dev":
            return {}
        return {"KPIWATCH_DUCKDB_PATH": self.duckdb_path, "KPIWATCH_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit}


class KpiwatchDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs of every run that kpiwatch does not need.

    - The version of dbt beside this Python is the installed dbt-core package's: no `dbt --version`
      subprocess (about 4 s, as it also looks for plugin updates).
    - No in-process dbt adapter: dagster-dbt only uses it to fetch row counts and column metadata,
      which kpiwatch does not ask for; dbt itself still runs in its own process.
    """

    @cached_property
    def _cli_version(self):
        from packaging import version

        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None


def warehouse_config(settings: Settings) -> dict[str, str]:
    """WarehouseResource fields for a target; also used as run config to point one run elsewhere."""
    by_target = {
        "dev": {"target": "dev", "duckdb_path": str(settings.duckdb_path),
                "duckdb_memory_limit": settings.duckdb_memory_limit},
        "snowflake": {"target": "snowflake", "duckdb_path": ""},
    }
    return by_target[settings.target]


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resource map for the configured target."""
    from orchestration.publish import PushgatewayResource

    return {
        "pushgateway": PushgatewayResource(),
        "dbt": KpiwatchDbtCli(project_dir=kpiwatch_dbt, target=settings.target, dbt_executable=dbt_executable()),
        "evaluation": EvaluationWindow(),
        "warehouse": WarehouseResource(**warehouse_config(settings)),
    }
