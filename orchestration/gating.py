"""Which metrics a run may publish: a raw table that failed an error check withholds exactly the marts
built from it (dbt's lineage, through dagster-dbt's asset graph) and the metrics read from those marts;
everything else is built and published fresh."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dagster import AssetKey, AssetsDefinition, DagsterEventType, DagsterInstance
from dagster_dbt import get_asset_key_for_model

from kpiwatch.contract import RAW_SCHEMA
from metrics.anomaly_config import DECLARED_MART, DECLARED_METRIC
from metrics.catalog import METRICS
from metrics.samples import CheckRecord

# The summary check each raw table gets (orchestration/raw_checks.py): not a check of the data itself, so
# not among the records published as kpiwatch_check_success (kpiwatch_metric_valid says the same per metric).
FEEDS_METRICS = "feeds_metrics"


def check_records(instance: DagsterInstance, run_id: str) -> list[CheckRecord]:
    """Every asset check evaluated in the run (but the FEEDS_METRICS summaries), latest result per check."""
    records: dict[tuple[str, str], CheckRecord] = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.check_name == FEEDS_METRICS:
            continue
        asset = "/".join(evaluation.asset_key.path)
        metadata = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
        severity = "error" if evaluation.severity.value == "ERROR" else "warn"
        records[(asset, evaluation.check_name)] = CheckRecord(
            asset, evaluation.check_name, severity, evaluation.passed, metadata
        )
    return list(records.values())


def failed_raw_tables(records: Iterable[CheckRecord]) -> dict[str, list[str]]:
    """Raw tables with a failed error-severity check, and those checks' names."""
    failed: dict[str, list[str]] = {}
    for record in records:
        if record.asset.startswith(f"{RAW_SCHEMA}/") and record.severity == "error" and not record.passed:
            failed.setdefault(record.asset.split("/", 1)[1], []).append(record.check)
    return failed


def _raw_ancestors(dbt_models: AssetsDefinition, keys: Iterable[AssetKey]) -> frozenset[str]:
    """The raw tables upstream of `keys`, walked up dagster-dbt's asset graph (dbt's lineage)."""
    parents = dbt_models.asset_deps
    seen: set[AssetKey] = set()
    pending = list(keys)
    while pending:
        for parent in parents.get(pending.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return frozenset(k.path[1] for k in seen if len(k.path) == 2 and k.path[0] == RAW_SCHEMA)


def raw_inputs_of_metrics(dbt_models: AssetsDefinition, watches_declared: bool = False) -> dict[str, frozenset[str]]:
    """For each metric, the raw tables its marts are built from; with `watches_declared`, also for the declared
    metrics the project watches (a project watching none has no such metric to withhold)."""
    inputs = {
        metric.name: _raw_ancestors(dbt_models, [get_asset_key_for_model([dbt_models], m) for m in metric.marts])
        for metric in METRICS
    }
    if watches_declared:  # their series mart comes after every model
        inputs[DECLARED_METRIC] = _raw_ancestors(dbt_models, [get_asset_key_for_model([dbt_models], DECLARED_MART)])
    return inputs


def always_built(dbt_models: AssetsDefinition) -> list[AssetKey]:
    """The dbt assets no raw table feeds (seeds): built by every dbt step, whatever is withheld."""
    keys = sorted(k for k in dbt_models.keys if not _raw_ancestors(dbt_models, [k]))
    if not keys:
        raise RuntimeError("the dbt project has no model or seed independent of the raw tables to order after")
    return keys


def withheld_metrics(raw_inputs: Mapping[str, frozenset[str]], failed: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Each withheld metric and the reasons, e.g. {"active_users": ["raw.events unique_event_id"]}."""
    withheld: dict[str, list[str]] = {}
    for metric, tables in raw_inputs.items():
        reasons = [f"{RAW_SCHEMA}.{t} {check}" for t in sorted(tables & failed.keys()) for check in failed[t]]
        if reasons:
            withheld[metric] = reasons
    return withheld
