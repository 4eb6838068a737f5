"""Every dbt model, seed and test as Dagster assets and asset checks."""


import json
from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, Config, Definitions, Failure
from dagster_dbt import DbtCliResource, dbt_assets

from kpiwatch.errors import KpiwatchError
from kpiwatch.warehouse import ensure_raw_contract
from orchestration.dbt_project_handle import kpiwatch_dbt
from orchestration.resources import EvaluationWindow, WarehouseResource


class DbtBuildConfig(Config):
    full_refresh: bool = False


@dbt_assets(manifest=kpiwatch_dbt.manifest_path, project=kpiwatch_dbt, name="kpiwatch_dbt_models")
def kpiwatch_dbt_models(
    context: AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    evaluation: EvaluationWindow,
) -> Iterator[Any]:
    """`dbt build` for the evaluation date, after checking that the raw tables match the contract."""
    try:
        ensure_raw_contract(warehouse.client())
    except KpiwatchError as error:
        raise Failure(description=str(error)) from None
    args = ["build", "--vars", json.dumps(evaluation.dbt_vars(warehouse))]
    if config.full_refresh:
        args.append("--full-refresh")
    yield from dbt.cli(args, context=context).stream()


defs = Definitions(assets=[kpiwatch_dbt_models])
