"""Resources, keyed by the same target names as dbt's profiles.yml (dev, snowflake)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from kpiwatch.settings import Settings, load_settings, parse_date
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

    def client(self) -> Warehouse:
        if self.target == "snowflake":
            from kpiwatch.snowflake_warehouse import SnowflakeWarehouse, snowflake_settings_from_env

            return SnowflakeWarehouse(snowflake_settings_from_env())
        return DuckDBWarehouse(self.duckdb_path)

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml reads for this target."""
        return {"KPIWATCH_DUCKDB_PATH": self.duckdb_path} if self.target == "dev" else {}


def warehouse_config(settings: Settings) -> dict[str, str]:
    """WarehouseResource fields for a target; also used as run config to point one run elsewhere."""
    by_target = {
        "dev": {"target": "dev", "duckdb_path": str(settings.duckdb_path)},
        "snowflake": {"target": "snowflake", "duckdb_path": ""},
    }
    return by_target[settings.target]


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resource map for the configured target."""
    from orchestration.publish import PushgatewayResource

    return {
        "pushgateway": PushgatewayResource(),
        "dbt": DbtCliResource(project_dir=kpiwatch_dbt, target=settings.target, dbt_executable=dbt_executable()),
        "evaluation": EvaluationWindow(),
        "warehouse": WarehouseResource(**warehouse_config(settings)),
    }
