"""Pure functions: mart snapshot, check results and run facts in, gauge samples out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kpiwatch.quality.outcome import CHECK_SECONDS, SUITE_SECONDS
from metrics.anomaly_config import CADENCE_DAYS, SERIES, series_metric
from metrics.attribution import Explanation, top_contributions
from metrics.bands import Verdict
from metrics.catalog import ACTIVE_USER_WINDOWS, GAUGES_BY_NAME, METRIC_OF_GAUGE, METRICS, MOVEMENTS, REQUIRED_SERIES
from metrics.snapshot import BusinessSnapshot
from metrics.warehouse_cost import DuckDBUsage, busy_seconds, snowflake_credits


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class CheckRecord:
    """One check result of a run, whatever produced it (raw-table check or dbt test)."""

    asset: str  # "raw/events", "marts/fct_mrr_monthly"
    check: str
    severity: str  # "error" | "warn"
    passed: bool
    metadata: Mapping[str, Any]

    @property
    def failed_rows(self) -> float:
        for key in ("unexpected_count", "dagster_dbt/failed_row_count"):
            if self.metadata.get(key) is not None:
                return float(self.metadata[key])
        return 0.0


def _sample(name: str, value: Any, **labels: str) -> Sample | None:
    """None (undefined, e.g. a rate with a zero denominator) is not published: the series is absent."""
    spec = GAUGES_BY_NAME[name]
    assert set(labels) == set(spec.labels), f"{name} takes labels {spec.labels}, got {sorted(labels)}"
    return None if value is None else Sample(name, dict(labels), float(value))


def missing_required(samples: Iterable[Sample], withheld: Collection[str] = ()) -> list[str]:
    """The REQUIRED_SERIES that `samples` lack, as `name{label="value"}`; those of withheld metrics are not due."""
    present = {(s.name, tuple(sorted(s.labels.items()))) for s in samples}
    return [
        name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")
        for name, labels in REQUIRED_SERIES
        if (name, tuple(sorted(labels))) not in present and METRIC_OF_GAUGE[name] not in withheld
    ]


def fresh_samples(samples: Iterable[Sample], withheld: Collection[str]) -> list[Sample]:
    """The business samples of the metrics that are published: a withheld metric's marts were not rebuilt
    from the run's data, so its values are left out (absent), never pushed stale."""
    return [s for s in samples if METRIC_OF_GAUGE.get(s.name) not in withheld]


def band_samples(verdicts: Iterable[Verdict]) -> list[Sample]:
    """The evaluation date's verdict of each series: value, band (once ready), score, readiness, firing."""
    samples: list[Sample | None] = []
    for v in verdicts:
        labels = {"metric": v.metric, "series": v.series, "segment": v.segment}
        samples += [
            _sample("kpiwatch_metric_observed", v.value, **labels),
            _sample("kpiwatch_metric_band_ready", 1 if v.ready else 0, **labels),
            _sample("kpiwatch_metric_anomaly_score", v.score, **labels),
            *(
                _sample("kpiwatch_metric_expected", value, bound=bound, **labels)
                for bound, value in (("lower", v.lower), ("expected", v.expected), ("upper", v.upper))
            ),
        ]
        if v.fired:
            samples.append(_sample("kpiwatch_metric_anomaly", 1, direction=v.fired, **labels))
    return [s for s in samples if s is not None]


def attribution_samples(explanations: Iterable[Explanation]) -> list[Sample]:
    """The largest contributions of each dimension and the segment the change is concentrated in."""
    samples: list[Sample | None] = []
    for explanation in explanations:
        samples += [
            _sample(
                "kpiwatch_change_contribution",
                c.value,
                metric=explanation.metric,
                dimension=c.dimension,
                segment=c.segment,
                rank=str(rank),
            )
            for rank, c in top_contributions(explanation)
        ]
        leader = explanation.leader()
        if leader is not None:
            samples.append(
                _sample(
                    "kpiwatch_change_leader",
                    leader.value,
                    metric=explanation.metric,
                    dimension=leader.dimension,
                    segment=leader.segment,
                )
            )
    return [s for s in samples if s is not None]


def missing_bands(
    verdicts: Iterable[Verdict], withheld: Collection[str] = (), watched: Iterable[str] = tuple(SERIES)
) -> list[str]:
    """The watched series (built-in and declared) without a verdict for the evaluation date (their metric not
    withheld): a quiet run must never be a silent gap."""
    present = {v.series for v in verdicts}
    return [
        f"series {name}"
        for name in watched
        # A cohort series has a value only when a cohort completes: a week without signups has none, and
        # shows as a drop of the signups series instead.
        if series_metric(name) not in withheld and name not in present and name not in CADENCE_DAYS
    ]


def validity_samples(withheld: Collection[str]) -> list[Sample]:
    """kpiwatch_metric_valid per metric, and kpiwatch_metrics_valid for all of them."""
    samples = [_sample("kpiwatch_metric_valid", 0 if m.name in withheld else 1, metric=m.name) for m in METRICS]
    return [s for s in samples if s is not None] + [Sample("kpiwatch_metrics_valid", {}, 0.0 if withheld else 1.0)]


def business_samples(snapshot: BusinessSnapshot) -> list[Sample]:
    samples: list[Sample | None] = []
    month = snapshot.current_month
    if month:
        previous = month.get("previous_mrr_usd")
        growth = (float(month["mrr_usd"]) / float(previous) - 1) if previous else None
        samples += [
            _sample("kpiwatch_mrr_usd", month["mrr_usd"]),
            _sample("kpiwatch_arr_usd", month["arr_usd"]),
            _sample("kpiwatch_mrr_growth_ratio", growth),
            _sample("kpiwatch_paying_customers", month["paying_customers"]),
            _sample("kpiwatch_arpa_usd", month["arpa_usd"]),
        ]
        columns = {
            "new": "new_mrr_usd",
            "expansion": "expansion_mrr_usd",
            "contraction": "contraction_mrr_usd",
            "churn": "churned_mrr_usd",
            "reactivation": "reactivation_mrr_usd",
            "net_new": "net_new_mrr_usd",
        }
        samples += [_sample("kpiwatch_mrr_movement_usd", month[columns[m]], movement=m) for m in MOVEMENTS]
    for (dimension, segment), (mrr, change) in sorted(snapshot.mrr_by_segment.items()):
        samples.append(_sample("kpiwatch_segment_mrr_usd", mrr, dimension=dimension, segment=segment))
        samples.append(_sample("kpiwatch_segment_mrr_change_usd", change, dimension=dimension, segment=segment))
    economics = snapshot.last_complete_month
    if economics:
        samples += [
            _sample("kpiwatch_ltv_usd", economics["ltv_usd"]),
            _sample("kpiwatch_ltv_to_cac_ratio", economics["ltv_to_cac"]),
            _sample("kpiwatch_logo_churn_rate", economics["logo_churn_rate"]),
            _sample("kpiwatch_net_revenue_retention_ratio", economics["net_revenue_retention"]),
            _sample("kpiwatch_net_revenue_retention_12m_ratio", economics["net_revenue_retention_12m"]),
            _sample("kpiwatch_gross_revenue_retention_12m_ratio", economics["gross_revenue_retention_12m"]),
        ]
    churn_history = [m["logo_churn_rate"] for m in snapshot.baseline_months if m["logo_churn_rate"] is not None]
    if churn_history and len(churn_history) == len(snapshot.baseline_months):
        samples.append(_sample("kpiwatch_logo_churn_baseline_rate", sum(churn_history) / len(churn_history)))
    samples += [_sample("kpiwatch_cac_usd", v, channel=c) for c, v in sorted(snapshot.cac_by_channel.items())]
    samples += [_sample("kpiwatch_cac_baseline_usd", v, channel=c) for c, v in sorted(snapshot.cac_baseline.items())]
    for source, gauge in (
        (snapshot.active_users, "kpiwatch_active_users"),
        (snapshot.active_users_baseline, "kpiwatch_active_users_baseline"),
    ):
        if source:
            samples += [_sample(gauge, source[column], window=w) for w, column in ACTIVE_USER_WINDOWS.items()]
    samples += [
        _sample("kpiwatch_retention_rate", v, months_since_signup=str(k)) for k, v in sorted(snapshot.retention.items())
    ]
    samples += [_sample("kpiwatch_feature_adoption_ratio", v, feature=f) for f, v in sorted(snapshot.adoption.items())]
    samples += [
        _sample("kpiwatch_feature_adoption_baseline_ratio", v, feature=f)
        for f, v in sorted(snapshot.adoption_baseline.items())
    ]
    samples += [_sample("kpiwatch_conversion_rate", v, channel=c) for c, v in sorted(snapshot.conversion.items())]
    samples += [
        _sample("kpiwatch_conversion_baseline_rate", v, channel=c)
        for c, v in sorted(snapshot.conversion_baseline.items())
    ]
    return [s for s in samples if s is not None]


# Raw-table gauges read from the metadata of these checks.
# Metadata holding a check's own time: a SQL check's (kpiwatch/quality), a dbt test's (dagster-dbt's name).
CHECK_DURATION_KEYS = (CHECK_SECONDS, "Execution Duration")
GX_SUITE = "gx_suite"  # the `check` label of a table's GX suite time


@dataclass(frozen=True)
class NodeTiming:
    """One dbt node of a run: dbt's execution time and whether it succeeded (orchestration/run_timings.py)."""

    node: str  # the dbt name: fct_mrr_monthly, or the test's name
    resource_type: str  # model, seed, snapshot or test
    seconds: float
    succeeded: bool
    started_at: float | None = None  # epoch seconds
    rows_affected: float | None = None  # as the adapter reports it (dbt-snowflake does, dbt-duckdb does not)
    bytes_scanned: float | None = None  # on adapters that report it


TABLE_GAUGES = (
    ("not_empty", "rows", "kpiwatch_table_rows"),
    ("freshness", "lag_seconds", "kpiwatch_table_freshness_lag_seconds"),
    ("freshness", "max_lag_seconds", "kpiwatch_table_freshness_max_lag_seconds"),
    ("volume", "ratio", "kpiwatch_table_volume_ratio"),
)


def quality_samples(checks: Iterable[CheckRecord]) -> list[Sample]:
    samples: list[Sample | None] = []
    suites: dict[str, float] = {}
    for record in checks:
        samples.append(
            _sample(
                "kpiwatch_check_success",
                1 if record.passed else 0,
                asset=record.asset,
                check=record.check,
                severity=record.severity,
            )
        )
        samples.append(
            _sample("kpiwatch_check_failed_rows", record.failed_rows, asset=record.asset, check=record.check)
        )
        # Its own time: a SQL check's, or a dbt test's (dbt's execution time, recorded by dagster-dbt).
        seconds = next((record.metadata[k] for k in CHECK_DURATION_KEYS if _number(record.metadata.get(k))), None)
        samples.append(_sample("kpiwatch_check_duration_seconds", seconds, asset=record.asset, check=record.check))
        if _number(record.metadata.get(SUITE_SECONDS)):
            suites[record.asset] = record.metadata[SUITE_SECONDS]
        if record.asset.startswith("raw/"):
            table = record.asset.split("/", 1)[1]
            for check, key, gauge in TABLE_GAUGES:
                if record.check == check and isinstance(record.metadata.get(key), int | float):
                    samples.append(_sample(gauge, record.metadata[key], table=table))
    # GX validates all of a table's expectations in one pass: its time is the table's, once.
    samples += [
        _sample("kpiwatch_check_duration_seconds", seconds, asset=asset, check=GX_SUITE)
        for asset, seconds in sorted(suites.items())
    ]
    return [s for s in samples if s is not None]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def pipeline_samples(
    nodes: Iterable[NodeTiming], phases: Mapping[str, float], slow_model_factor: float
) -> list[Sample]:
    """Each dbt model's (and seed's) execution time and success in this run, the run's phases, and the factor
    KpiwatchSlowModel compares a model's time with its own recent norm by. A test's time is its check's
    (kpiwatch_check_duration_seconds)."""
    samples: list[Sample] = []
    for node in nodes:
        if node.resource_type == "test":
            continue
        labels = {"node": node.node, "resource_type": node.resource_type}
        samples.append(Sample("kpiwatch_dbt_node_duration_seconds", labels, node.seconds))
        samples.append(Sample("kpiwatch_dbt_node_success", labels, 1.0 if node.succeeded else 0.0))
    samples += [Sample("kpiwatch_run_phase_seconds", {"phase": p}, seconds) for p, seconds in sorted(phases.items())]
    samples.append(Sample("kpiwatch_slow_model_factor", {}, float(slow_model_factor)))
    return samples


def warehouse_samples(
    nodes: Iterable[NodeTiming],
    phases: Mapping[str, float],
    duckdb: DuckDBUsage | None,
    snowflake_size: str | None,
    cost_spike_factor: float,
) -> list[Sample]:
    """What the run cost the warehouse. On Snowflake the estimate bills the dbt build's busy time (threads that
    overlap count once) plus the checks and publishing phases, which query the warehouse too."""
    nodes = list(nodes)
    samples = [
        Sample("kpiwatch_dbt_node_rows_affected", {"node": n.node, "resource_type": n.resource_type}, n.rows_affected)
        for n in nodes
        if n.resource_type != "test" and n.rows_affected is not None
    ]
    busy = busy_seconds((n.started_at, n.started_at + n.seconds) for n in nodes if n.started_at is not None)
    samples.append(Sample("kpiwatch_warehouse_dbt_busy_seconds", {}, busy))
    scanned = [n.bytes_scanned for n in nodes if n.bytes_scanned is not None]
    if scanned:
        samples.append(Sample("kpiwatch_warehouse_bytes_scanned", {}, float(sum(scanned))))
    if snowflake_size:
        billed = busy + phases.get("checks", 0.0) + phases.get("publishing", 0.0)
        credits = snowflake_credits(billed, snowflake_size)
        samples.append(Sample("kpiwatch_warehouse_credits_estimated", {"warehouse_size": snowflake_size}, credits))
    if duckdb is not None:
        samples += [
            Sample("kpiwatch_warehouse_bytes_read", {}, float(duckdb.bytes_read)),
            Sample("kpiwatch_warehouse_peak_memory_bytes", {}, float(duckdb.peak_memory_bytes)),
        ]
    samples.append(Sample("kpiwatch_cost_spike_factor", {}, float(cost_spike_factor)))
    return samples


def run_samples(success: bool, duration_seconds: float, as_of: dt.date) -> list[Sample]:
    evaluation_start = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC).timestamp()
    return [
        Sample("kpiwatch_run_success", {}, 1.0 if success else 0.0),
        Sample("kpiwatch_run_duration_seconds", {}, float(duration_seconds)),
        Sample("kpiwatch_evaluation_date_timestamp_seconds", {}, evaluation_start),
    ]


def last_success_samples(finished_at: dt.datetime) -> list[Sample]:
    return [Sample("kpiwatch_last_success_timestamp_seconds", {}, finished_at.timestamp())]
