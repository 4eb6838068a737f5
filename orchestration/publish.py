"""Publishing: the asset that pushes every result of a run, and the path that records failed runs.

A successful run pushes the business gauges of every metric it did not withhold (orchestration/gating.py),
every check result, per-metric validity and run health from the `prometheus_push` asset, its last step. A
run that fails before it (a dbt error, an unreadable warehouse, a failed push) never reaches that asset, so
`publish_failed_run` pushes the check results and run_success=0 instead: from the run-failure sensor for
daemon-launched runs, and from `kpiwatch run` for in-process runs.
"""

import datetime as dt

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DagsterInstance,
    DefaultSensorStatus,
    Failure,
    MaterializeResult,
    RunFailureSensorContext,
    SensorDefinition,
    asset,
    run_failure_sensor,
)

from kpiwatch.settings import PushTarget, parse_date, today_utc
from metrics import push as pushing
from metrics.anomaly_config import SERIES, AnomalyConfig
from metrics.attribution import latest_changes
from metrics.bands import top_segments, verdicts_of_day
from metrics.catalog import METRICS
from metrics.ledger import (
    append_to_ledger,
    ledger_entries,
    previously_published,
    restatement_samples,
    restatements,
)
from metrics.samples import (
    attribution_samples,
    band_samples,
    business_samples,
    fresh_samples,
    last_success_samples,
    missing_bands,
    missing_required,
    pipeline_samples,
    quality_samples,
    run_samples,
    validity_samples,
    warehouse_samples,
)
from metrics.snapshot import read_snapshot
from orchestration.gating import (
    always_built,
    check_records,
    failed_raw_tables,
    raw_inputs_of_metrics,
    withheld_metrics,
)
from orchestration.resources import EvaluationWindow, PushgatewayResource, WarehouseResource
from orchestration.run_timings import dbt_node_timings, dbt_usage, phase_seconds
from orchestration.run_window import AS_OF_TAG, window_from_tags

PUSH_STEP = "prometheus_push"  # the push asset, and its step in a run


def run_seconds(instance: DagsterInstance, run_id: str) -> float:
    stats = instance.get_run_stats(run_id)
    start = stats.start_time or dt.datetime.now().timestamp()
    end = stats.end_time or dt.datetime.now().timestamp()
    return max(0.0, end - start)


def withheld_metadata(withheld: dict[str, list[str]]) -> dict[str, object]:
    """The push asset's record of the metrics it withheld; `kpiwatch run` reads it for its exit code."""
    return {"metrics_valid": not withheld, "withheld": "; ".join(f"{m} ({', '.join(r)})" for m, r in withheld.items())}


def publish_failed_run(instance: DagsterInstance, run_id: str, target: PushTarget, as_of: dt.date) -> int:
    """Replace the run's group with its check results and run_success=0; no business gauges (every metric
    is marked not valid), no last success."""
    if not target.enabled:
        return 0
    samples = (
        quality_samples(check_records(instance, run_id))
        + run_samples(success=False, duration_seconds=run_seconds(instance, run_id), as_of=as_of)
        + validity_samples([m.name for m in METRICS])
    )
    pushing.push(target, pushing.JOB, samples)
    return len(samples)


def build_publishing(
    dbt_models: AssetsDefinition, monitored_job, anomalies: AnomalyConfig
) -> tuple[AssetsDefinition, SensorDefinition]:
    """The push asset (after every dbt model) and the sensor that records failed runs of `monitored_job`;
    `anomalies` judges the watched series against their bands."""
    raw_inputs = raw_inputs_of_metrics(dbt_models, watches_declared=any(n not in SERIES for n in anomalies.rules))

    @asset(
        name=PUSH_STEP,
        # After the dbt step, but not skipped when it leaves out the models of a withheld raw table (Dagster
        # skips an asset when an upstream asset of its run was not materialized): so the dependency is on
        # the dbt assets no raw table feeds (the seeds), always built, and the step order does the rest.
        deps=always_built(dbt_models),
        group_name="publishing",
        description="Pushes every business metric, check result and run-health gauge to the Prometheus Pushgateway; "
        f"the metrics are read from {', '.join(sorted({m for metric in METRICS for m in metric.marts}))}.",
    )
    def prometheus_push(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        evaluation: EvaluationWindow,
        pushgateway: PushgatewayResource,
    ) -> MaterializeResult:
        publishing_started = dt.datetime.now(dt.UTC).timestamp()
        target = pushgateway.target()
        checks = check_records(context.instance, context.run_id)
        # A raw table that failed an error check withheld the marts built from it (the dbt step excluded
        # them); the metrics read from those marts are not published, every other one is, fresh. With publishing
        # off nothing is pushed, but the run still names them and exits 1.
        withheld = withheld_metrics(raw_inputs, failed_raw_tables(checks))
        for metric, reasons in withheld.items():
            context.log.warning(f"Withheld {metric}: built from {', '.join(reasons)} (failed).")
        if not target.enabled:
            context.log.warning("Publishing is off (KPIWATCH_PUSHGATEWAY_URL=off): nothing was pushed.")
            return MaterializeResult(metadata={"published": False, **withheld_metadata(withheld)})
        window = evaluation.window(context.run.tags)
        as_of = window.as_of
        if window.start != window.as_of:
            context.log.info(
                f"Backfill of {window.start}..{as_of}: the gauges describe one day and are published "
                "by daily runs, so this run publishes nothing."
            )
            return MaterializeResult(metadata={"published": False})
        notices: list[str] = []
        samples = (
            quality_samples(checks)
            + run_samples(True, run_seconds(context.instance, context.run_id), as_of)
            + validity_samples(withheld)
        )
        client = warehouse.client()
        with client.session():
            snapshot = read_snapshot(client, as_of, pushgateway.segment_top_n, withheld)
            verdicts, unpushed = top_segments(
                verdicts_of_day(client, anomalies, as_of, withheld), pushgateway.segment_top_n
            )
            explanations = latest_changes(client, as_of, withheld)
        business = fresh_samples(business_samples(snapshot), withheld)
        for v in verdicts + unpushed:
            if v.fired:
                notice = (
                    f"anomaly: {v.series}{'' if v.segment == 'all' else f' ({v.segment})'} is {v.value:,.4g}, "
                    f"outside its band {v.lower:,.4g} .. {v.upper:,.4g} (expected {v.expected:,.4g}): {v.fired}."
                )
                context.log.warning(notice)
                notices.append(notice)
        if snapshot.channels_in_other:
            notice = (
                f"kpiwatch_cac_usd: {snapshot.channels_in_other:,} channels beyond the top "
                f'{pushgateway.segment_top_n} by spend were pushed together as channel="other" '
                "(KPIWATCH_SEGMENT_TOP_N)."
            )
            context.log.warning(notice)
            notices.append(notice)
        if unpushed:
            notice = (
                f"bands: {len(unpushed):,} channel or group-by series beyond the top {pushgateway.segment_top_n} of "
                "their series were judged but not pushed (KPIWATCH_SEGMENT_TOP_N); their anomalies are listed above."
            )
            context.log.warning(notice)
            notices.append(notice)
        missing = missing_required(business, withheld) + missing_bands(verdicts, withheld, anomalies.rules)
        if missing:
            # A success that publishes no MRR or DAU is the worst failure: say so, and let the
            # failure path record run_success=0 so KpiwatchRunFailed reaches a person.
            raise Failure(
                description=f"The marts hold no value for {', '.join(missing)} as of {as_of}: nothing was "
                "published. No error check failed on the raw tables they are built from, so the models miss "
                "the evaluation day or month; run `kpiwatch run --full-refresh` and report the case if it persists."
            )
        samples += business + band_samples(verdicts) + attribution_samples(explanations)
        node_facts, duckdb = dbt_usage(context.instance, context.run_id)
        nodes = dbt_node_timings(context.instance, context.run_id, node_facts)
        phases = phase_seconds(context.instance, context.run_id, context.run.tags, publishing_started)
        samples += pipeline_samples(nodes, phases, pushgateway.slow_model_factor)
        samples += warehouse_samples(
            nodes,
            phases,
            duckdb,
            warehouse.snowflake_warehouse_size if warehouse.target == "snowflake" else None,
            pushgateway.cost_spike_factor,
        )
        # The ledger: what this push publishes, and the closed months whose value changed since published.
        ledger = warehouse.client(writable=True)
        closed_month = snapshot.last_complete_month["month"] if snapshot.last_complete_month else None
        entries = ledger_entries(business, as_of, closed_month)
        restated = restatements(entries, previously_published(ledger, entries), pushgateway.restatement_tolerance)
        for r in restated:
            notice = (
                f"restated: {r.entry.gauge}{{{r.entry.labels}}} for {r.entry.period} was published as "
                f"{r.previous:,.2f} and is now {r.entry.value:,.2f}."
            )
            context.log.warning(notice)
            notices.append(notice)
        samples += restatement_samples(restated)
        pushing.push(target, pushing.JOB, samples)
        published_at = dt.datetime.now(dt.UTC)
        with ledger.session():
            append_to_ledger(ledger, context.run_id, as_of, published_at.replace(tzinfo=None), entries)
        pushing.push(target, pushing.LAST_SUCCESS_JOB, last_success_samples(published_at))
        return MaterializeResult(
            metadata={
                "published": True,
                "series": len(samples),
                "gateway": target.url,
                "environment": target.environment,
                **withheld_metadata(withheld),
                "notice": " ".join(notices),
                "restated": len(restated),
                "anomalies": sum(1 for v in verdicts if v.fired),
            }
        )

    @run_failure_sensor(
        monitored_jobs=[monitored_job], default_status=DefaultSensorStatus.RUNNING, name="kpiwatch_failure_publisher"
    )
    def kpiwatch_failure_publisher(context: RunFailureSensorContext, pushgateway: PushgatewayResource) -> None:
        """Records failed runs in Prometheus, so an alert fires even when a run dies before its own push."""
        run = context.dagster_run
        default = parse_date(run.tags[AS_OF_TAG], AS_OF_TAG) if AS_OF_TAG in run.tags else today_utc()
        as_of = window_from_tags(run.tags, default, lookback_days=0).as_of
        count = publish_failed_run(context.instance, run.run_id, pushgateway.target(), as_of)
        context.log.info(f"Recorded failed run {run.run_id} with {count} series.")

    return prometheus_push, kpiwatch_failure_publisher
