"""Resources, keyed by the same target names as dbt's profiles.yml (dev, snowflake)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from kpiwatch.settings import Settings, load_settings, parse_date
from kpiwatch.warehouse import DuckDBWarehouse, Warehouse
from orchestration.dbt_project_handle import dbt_executable, kpiwatch_dbt


class EvaluationWindow(ConfigurableResource):
    """The evaluation date of a run; empty means KPIWATCH_AS_OF, else today (UTC) at run time."""

    as_of: str = ""

    def date(self) -> dt.date:
        return parse_date(self.as_of, "as_of") if self.as_of else load_settings().as_of

    def dbt_vars(self, warehouse: "WarehouseResource") -> dict[str, Any]:
        return {"as_of": self.date().isoformat(), **warehouse.dbt_vars()}


class WarehouseResource(ConfigurableResource):
    """Where the raw tables and the marts live."""

    target: str = "dev"
    duckdb_path: str = ""

    def client(self) -> Warehouse:
        if self.target == "snowflake":
            from kpiwatch.snowflake_warehouse import SnowflakeWarehouse, snowflake_settings_from_env

            return SnowflakeWarehouse(snowflake_settings_from_env())
        return DuckDBWarehouse(self.duckdb_path)

    def dbt_vars(self) -> dict[str, Any]:
        return {"duckdb_path": self.duckdb_path} if self.target == "dev" else {}


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
