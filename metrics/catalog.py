"""Every gauge kpiwatch publishes, declared once: name, help, unit and labels.

docs/metrics-catalog.md describes the same list for people; tests/test_metrics_catalog.py keeps the two
in step. Label values come from bounded sets (channels, features, movements, checks), never from ids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GaugeSpec:
    name: str
    help: str
    unit: str
    labels: tuple[str, ...] = ()
    group: str = "business"  # business | bands | attribution | quality | run | ledger


GAUGES: tuple[GaugeSpec, ...] = (
    # Business metrics: the evaluation date's snapshot (MRR, customers, activity) or the last complete
    # month (rates, CAC, LTV), as docs/metrics-catalog.md explains per gauge.
    GaugeSpec("kpiwatch_mrr_usd", "MRR at the end of the evaluation date.", "USD"),
    GaugeSpec("kpiwatch_arr_usd", "ARR = 12 x MRR at the end of the evaluation date.", "USD"),
    GaugeSpec(
        "kpiwatch_mrr_movement_usd",
        "MRR movements of the running month so far (contraction and churn negative).",
        "USD",
        ("movement",),
    ),
    GaugeSpec("kpiwatch_mrr_growth_ratio", "MRR now / MRR at the end of the previous month - 1.", "ratio"),
    GaugeSpec("kpiwatch_paying_customers", "Customers with MRR > 0 at the end of the evaluation date.", "customers"),
    GaugeSpec(
        "kpiwatch_segment_mrr_usd",
        "MRR at the end of the evaluation date per segment of a dimension (plan, billing_interval, currency, "
        "country, acquisition_channel, signup_cohort): the top N segments by MRR, the rest as 'other'.",
        "USD",
        ("dimension", "segment"),
    ),
    GaugeSpec(
        "kpiwatch_segment_mrr_change_usd",
        "The segment's MRR change since the last month end (the running month's bridge by segment).",
        "USD",
        ("dimension", "segment"),
    ),
    GaugeSpec("kpiwatch_arpa_usd", "Average revenue per paying account (MRR / paying customers).", "USD"),
    GaugeSpec(
        "kpiwatch_cac_usd",
        "Customer acquisition cost of the last complete month, per channel and 'all'.",
        "USD",
        ("channel",),
    ),
    GaugeSpec(
        "kpiwatch_cac_baseline_usd",
        "Mean blended CAC of the three complete months before the last one.",
        "USD",
        ("channel",),
    ),
    GaugeSpec("kpiwatch_ltv_usd", "Customer lifetime value of the last complete month.", "USD"),
    GaugeSpec("kpiwatch_ltv_to_cac_ratio", "LTV / blended CAC of the last complete month.", "ratio"),
    GaugeSpec("kpiwatch_logo_churn_rate", "Churned / starting customers in the last complete month.", "ratio"),
    GaugeSpec(
        "kpiwatch_logo_churn_baseline_rate",
        "Mean logo churn rate of the three complete months before the last one.",
        "ratio",
    ),
    GaugeSpec("kpiwatch_net_revenue_retention_ratio", "Net revenue retention of the last complete month.", "ratio"),
    GaugeSpec(
        "kpiwatch_net_revenue_retention_12m_ratio",
        "Trailing-twelve-month net revenue retention at the end of the last complete month.",
        "ratio",
    ),
    GaugeSpec(
        "kpiwatch_gross_revenue_retention_12m_ratio",
        "Trailing-twelve-month gross revenue retention (each customer capped at their MRR a year before).",
        "ratio",
    ),
    GaugeSpec(
        "kpiwatch_active_users",
        "Distinct active users in the 1, 7 or 30 days ending on the evaluation date.",
        "users",
        ("window",),
    ),
    GaugeSpec(
        "kpiwatch_active_users_baseline", "The same count seven days earlier (same weekday).", "users", ("window",)
    ),
    GaugeSpec(
        "kpiwatch_retention_rate",
        "Signup-cohort retention at N months, of the newest cohort whose month N is complete.",
        "ratio",
        ("months_since_signup",),
    ),
    GaugeSpec(
        "kpiwatch_feature_adoption_ratio",
        "30-day adopters of a feature / 30-day active users, on the evaluation date.",
        "ratio",
        ("feature",),
    ),
    GaugeSpec("kpiwatch_feature_adoption_baseline_ratio", "The same ratio seven days earlier.", "ratio", ("feature",)),
    GaugeSpec(
        "kpiwatch_conversion_rate",
        "Share of the newest complete signup month's signups that started paying within 30 days, per channel "
        "and 'all'.",
        "ratio",
        ("channel",),
    ),
    GaugeSpec(
        "kpiwatch_conversion_baseline_rate",
        "30-day conversion rate pooled over the three signup months before it.",
        "ratio",
        ("channel",),
    ),
    # Anomaly bands: each watched series on the evaluation date beside its expected band (metrics/bands.py).
    # `metric` is the business metric the series belongs to (gating, inhibition), `series` the series.
    GaugeSpec(
        "kpiwatch_metric_observed",
        "A watched series' value on the evaluation date.",
        "value",
        ("metric", "series", "segment"),
        "bands",
    ),
    GaugeSpec(
        "kpiwatch_metric_expected",
        "The series' expected value and band edges on the evaluation date, learnt from the days before only.",
        "value",
        ("metric", "series", "segment", "bound"),
        "bands",
    ),
    GaugeSpec(
        "kpiwatch_metric_anomaly_score",
        "0 inside the band; outside, how far beyond its edge in band half-widths (negative below).",
        "ratio",
        ("metric", "series", "segment"),
        "bands",
    ),
    GaugeSpec(
        "kpiwatch_metric_band_ready",
        "1 if the series has the history its band needs (min_training_days), 0 while no verdict is given.",
        "boolean",
        ("metric", "series", "segment"),
        "bands",
    ),
    GaugeSpec(
        "kpiwatch_metric_anomaly",
        "1 when the series left its band in a direction it watches (expectations/anomalies.yml); absent otherwise.",
        "boolean",
        ("metric", "series", "segment", "direction"),
        "bands",
    ),
    # Attribution: where the latest change of MRR (the running month against the last month end) and of daily
    # active users (the evaluation day against the same weekday before) came from (metrics/attribution.py).
    GaugeSpec(
        "kpiwatch_change_contribution",
        "A segment's contribution to the latest change (USD for mrr, users for active_users): the 3 largest of "
        "each dimension, in the direction of the change.",
        "value",
        ("metric", "dimension", "segment", "rank"),
        "attribution",
    ),
    GaugeSpec(
        "kpiwatch_change_leader",
        "The segment the latest change is most concentrated in (beyond its share of the previous period), with "
        "its contribution.",
        "value",
        ("metric", "dimension", "segment"),
        "attribution",
    ),
    # The pipeline itself: what each part of the run took (orchestration/run_timings.py).
    GaugeSpec(
        "kpiwatch_dbt_node_duration_seconds",
        "dbt's execution time of each model (and seed) the run built.",
        "seconds",
        ("node", "resource_type"),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_dbt_node_success",
        "1 if dbt built the model (or seed) in the run, 0 if it failed.",
        "boolean",
        ("node", "resource_type"),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_run_phase_seconds",
        "Seconds of the run in each phase: startup (a fresh process before the run began), checks, dbt, publishing.",
        "seconds",
        ("phase",),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_slow_model_factor",
        "KPIWATCH_SLOW_MODEL_FACTOR: KpiwatchSlowModel fires when a model takes this many times its recent mean.",
        "ratio",
        (),
        "run",
    ),
    # What the run cost the warehouse (metrics/warehouse_cost.py).
    GaugeSpec(
        "kpiwatch_dbt_node_rows_affected",
        "Rows the node's statement affected, as the dbt adapter reports it (Snowflake: every model; DuckDB: seeds).",
        "rows",
        ("node", "resource_type"),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_warehouse_dbt_busy_seconds",
        "Seconds in which at least one dbt model or test ran on the warehouse (overlapping threads counted once).",
        "seconds",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_warehouse_credits_estimated",
        "Snowflake: credits the run's warehouse time cost, estimated from its busy seconds and the warehouse size.",
        "credits",
        ("warehouse_size",),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_warehouse_bytes_scanned",
        "Bytes the run's dbt statements scanned, on adapters that report it.",
        "bytes",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_warehouse_bytes_read",
        "DuckDB: bytes the dbt build read from storage (DuckDB's own count, summed over statements).",
        "bytes",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_warehouse_peak_memory_bytes",
        "DuckDB: the buffer manager's peak memory during the dbt build.",
        "bytes",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_cost_spike_factor",
        "KPIWATCH_COST_SPIKE_FACTOR: KpiwatchWarehouseCostSpike fires when a run costs this many times its "
        "recent mean.",
        "ratio",
        (),
        "run",
    ),
    # Data quality: every check of the run, raw-table checks and dbt tests alike.
    GaugeSpec(
        "kpiwatch_check_success",
        "1 if the check passed in the last run, 0 if it failed.",
        "boolean",
        ("asset", "check", "severity"),
        "quality",
    ),
    GaugeSpec(
        "kpiwatch_check_failed_rows",
        "Rows that failed the check in the last run.",
        "rows",
        ("asset", "check"),
        "quality",
    ),
    GaugeSpec(
        "kpiwatch_check_duration_seconds",
        "A check's own time in the run: a SQL check's, a dbt test's (dbt's execution time), or a table's GX suite "
        '(check="gx_suite": its expectations validate in one pass).',
        "seconds",
        ("asset", "check"),
        "quality",
    ),
    GaugeSpec(
        "kpiwatch_table_freshness_lag_seconds",
        "End of the evaluation day - newest timestamp in the raw table.",
        "seconds",
        ("table",),
        "quality",
    ),
    GaugeSpec(
        "kpiwatch_table_freshness_max_lag_seconds",
        "The freshness threshold configured for the raw table.",
        "seconds",
        ("table",),
        "quality",
    ),
    GaugeSpec("kpiwatch_table_rows", "Rows in the raw table.", "rows", ("table",), "quality"),
    GaugeSpec(
        "kpiwatch_table_volume_ratio",
        "Rows on the evaluation day / trailing 7-day mean rows per day.",
        "ratio",
        ("table",),
        "quality",
    ),
    # Run health.
    GaugeSpec("kpiwatch_run_success", "1 if the last run succeeded, 0 if it failed.", "boolean", (), "run"),
    GaugeSpec("kpiwatch_run_duration_seconds", "Wall time of the last run.", "seconds", (), "run"),
    GaugeSpec(
        "kpiwatch_metrics_valid",
        "1 if every business metric was published fresh (no raw table failed an error check).",
        "boolean",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_metric_valid",
        "1 if the metric was published fresh; 0 if withheld because a raw table it is built from failed an error "
        "check.",
        "boolean",
        ("metric",),
        "run",
    ),
    # The ledger: values of closed months that changed since they were published (metrics/ledger.py).
    GaugeSpec(
        "kpiwatch_restated_value",
        "A closed month's value that changed since it was published: version=previous as published before, "
        "version=current as published now.",
        "value",
        ("metric", "gauge", "labels", "period", "version"),
        "ledger",
    ),
    GaugeSpec(
        "kpiwatch_evaluation_date_timestamp_seconds",
        "Start (00:00 UTC) of the evaluation date of the last run.",
        "seconds",
        (),
        "run",
    ),
    GaugeSpec(
        "kpiwatch_last_success_timestamp_seconds",
        "When the last successful run finished; only successful runs set it.",
        "seconds",
        (),
        "run",
    ),
)

GAUGES_BY_NAME = {g.name: g for g in GAUGES}
# Pushed only when what they report happened (a restatement, an anomaly), not by every run.
EVENT_GAUGES = frozenset({"kpiwatch_restated_value", "kpiwatch_metric_anomaly"})
# Pushed only by the warehouse (or adapter) that reports them: Snowflake's credits estimate; bytes scanned on
# adapters that count them (tests/test_warehouse_cost.py covers both offline).
WAREHOUSE_SPECIFIC_GAUGES = frozenset({"kpiwatch_warehouse_credits_estimated", "kpiwatch_warehouse_bytes_scanned"})


@dataclass(frozen=True)
class MetricSpec:
    """A business metric as gating and alerts see it (the `metric` label): the gauges it publishes and the
    marts metrics/snapshot.py reads them from. Which raw tables it depends on comes from the dbt lineage
    of those marts (orchestration/lineage.py), never from a list kept here."""

    name: str
    gauges: tuple[str, ...]
    marts: tuple[str, ...]


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mrr",
        (
            "kpiwatch_mrr_usd",
            "kpiwatch_arr_usd",
            "kpiwatch_mrr_movement_usd",
            "kpiwatch_mrr_growth_ratio",
            "kpiwatch_paying_customers",
            "kpiwatch_arpa_usd",
            "kpiwatch_segment_mrr_usd",
            "kpiwatch_segment_mrr_change_usd",
        ),
        ("fct_mrr_monthly", "fct_series_revenue_daily", "fct_mrr_by_segment_monthly"),
    ),
    MetricSpec(
        "unit_economics",
        (
            "kpiwatch_ltv_usd",
            "kpiwatch_ltv_to_cac_ratio",
            "kpiwatch_logo_churn_rate",
            "kpiwatch_logo_churn_baseline_rate",
            "kpiwatch_net_revenue_retention_ratio",
            "kpiwatch_net_revenue_retention_12m_ratio",
            "kpiwatch_gross_revenue_retention_12m_ratio",
        ),
        ("fct_unit_economics_monthly", "fct_mrr_monthly"),
    ),
    MetricSpec(
        "cac", ("kpiwatch_cac_usd", "kpiwatch_cac_baseline_usd"), ("fct_cac_monthly", "fct_series_acquisition_daily")
    ),
    MetricSpec(
        "active_users",
        ("kpiwatch_active_users", "kpiwatch_active_users_baseline"),
        ("fct_active_users_daily", "fct_series_activity_daily"),
    ),
    MetricSpec("retention", ("kpiwatch_retention_rate",), ("fct_retention_cohorts",)),
    MetricSpec(
        "conversion",
        ("kpiwatch_conversion_rate", "kpiwatch_conversion_baseline_rate"),
        ("fct_conversion_monthly", "fct_series_conversion_daily"),
    ),
    MetricSpec(
        "feature_adoption",
        ("kpiwatch_feature_adoption_ratio", "kpiwatch_feature_adoption_baseline_ratio"),
        ("fct_feature_adoption_daily", "fct_series_activity_daily"),
    ),
)
METRIC_OF_GAUGE = {gauge: metric.name for metric in METRICS for gauge in metric.gauges}

# Gauges whose value describes the last complete month: closed, so a later change is a restatement (a
# billing correction, a late refund), not news of the day. The others describe the evaluation day or the
# running month, which may change from run to run.
CLOSED_MONTH_GAUGES = frozenset(
    {
        "kpiwatch_cac_usd",
        "kpiwatch_ltv_usd",
        "kpiwatch_ltv_to_cac_ratio",
        "kpiwatch_logo_churn_rate",
        "kpiwatch_net_revenue_retention_ratio",
        "kpiwatch_net_revenue_retention_12m_ratio",
        "kpiwatch_gross_revenue_retention_12m_ratio",
    }
)

# Label values used by the business gauges (bounded sets).
ACTIVE_USER_WINDOWS = {"1d": "dau", "7d": "wau", "30d": "mau"}
MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation", "net_new")
RETENTION_MONTHS = (1, 2, 3, 6, 12)

# Business series a successful run on valid data always has: the marts hold a row for the evaluation
# month and day whenever the error checks passed (no rates here: a zero denominator is a real absence).
# A run missing one fails instead of publishing a silent gap; KpiwatchBusinessGaugeMissing backs it up.
REQUIRED_SERIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("kpiwatch_mrr_usd", ()),
    ("kpiwatch_arr_usd", ()),
    ("kpiwatch_paying_customers", ()),
    *(("kpiwatch_mrr_movement_usd", (("movement", m),)) for m in MOVEMENTS),
    *(("kpiwatch_active_users", (("window", w),)) for w in ACTIVE_USER_WINDOWS),
)
