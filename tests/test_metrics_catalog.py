"""The catalog, its documentation and the pure sample builders agree."""

import datetime as dt
import re

import pytest

from kpiwatch.paths import DOCS_DIR
from metrics.anomaly_config import SERIES
from metrics.bands import Verdict
from metrics.catalog import ACTIVE_USER_WINDOWS, GAUGES, GAUGES_BY_NAME, METRICS, REQUIRED_SERIES
from metrics.samples import (
    CheckRecord,
    Sample,
    band_samples,
    business_samples,
    fresh_samples,
    missing_bands,
    missing_required,
    quality_samples,
    run_samples,
    validity_samples,
)
from metrics.snapshot import BusinessSnapshot


def test_every_gauge_is_documented_and_every_documented_gauge_exists():
    documented = set(re.findall(r"^\| `(kpiwatch_[a-z0-9_]+)` \|", (DOCS_DIR / "metrics-catalog.md").read_text(), re.M))
    assert documented == {g.name for g in GAUGES}


def test_names_follow_prometheus_conventions():
    for gauge in GAUGES:
        assert re.fullmatch(r"kpiwatch_[a-z0-9_]+", gauge.name)
        suffix = {"USD": "_usd", "seconds": "_seconds"}.get(gauge.unit)
        if suffix:
            assert gauge.name.endswith(suffix), gauge.name


def test_undefined_business_values_are_left_out_not_zero():
    snapshot = BusinessSnapshot(
        as_of=dt.date(2024, 5, 20),
        current_month={
            "month": dt.date(2024, 5, 1),
            "mrr_usd": 110,
            "arr_usd": 1320,
            "previous_mrr_usd": 100,
            "paying_customers": 2,
            "arpa_usd": 55,
            "new_mrr_usd": 10,
            "expansion_mrr_usd": 0,
            "contraction_mrr_usd": 0,
            "churned_mrr_usd": 0,
            "reactivation_mrr_usd": 0,
            "net_new_mrr_usd": 10,
        },
        last_complete_month={
            "ltv_usd": 3300,
            "ltv_to_cac": None,
            "logo_churn_rate": 0.0,
            "net_revenue_retention": 1.0,
            "net_revenue_retention_12m": None,  # less than a year of history
            "gross_revenue_retention_12m": None,
        },
    )
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in business_samples(snapshot)}
    assert samples[("kpiwatch_mrr_growth_ratio", ())] == pytest.approx(0.1)
    assert samples[("kpiwatch_mrr_movement_usd", (("movement", "net_new"),))] == 10
    assert ("kpiwatch_ltv_to_cac_ratio", ()) not in samples
    assert ("kpiwatch_net_revenue_retention_12m_ratio", ()) not in samples
    assert samples[("kpiwatch_logo_churn_rate", ())] == 0.0


def test_check_records_become_check_and_table_gauges():
    records = [
        CheckRecord("raw/events", "freshness", "error", False, {"lag_seconds": 90000.0, "max_lag_seconds": 129600.0}),
        CheckRecord("raw/events", "unique_event_id", "error", False, {"unexpected_count": 6}),
        CheckRecord("marts/fct_mrr_monthly", "unique_fct_mrr_monthly_month", "error", True, {}),
    ]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in quality_samples(records)}
    assert (
        samples[
            ("kpiwatch_check_success", (("asset", "raw/events"), ("check", "unique_event_id"), ("severity", "error")))
        ]
        == 0
    )
    assert samples[("kpiwatch_check_failed_rows", (("asset", "raw/events"), ("check", "unique_event_id")))] == 6
    assert samples[("kpiwatch_table_freshness_lag_seconds", (("table", "events"),))] == 90000.0
    assert (
        samples[
            (
                "kpiwatch_check_success",
                (("asset", "marts/fct_mrr_monthly"), ("check", "unique_fct_mrr_monthly_month"), ("severity", "error")),
            )
        ]
        == 1
    )


def test_run_samples_mark_a_failed_run():
    samples = {s.name: s.value for s in run_samples(False, 12.5, dt.date(2024, 5, 20))}
    assert samples == {
        "kpiwatch_run_success": 0.0,
        "kpiwatch_run_duration_seconds": 12.5,
        "kpiwatch_evaluation_date_timestamp_seconds": 1716163200.0,
    }


def test_validity_is_pushed_per_metric_and_withheld_metrics_are_left_out():
    validity = {(s.name, s.labels.get("metric")): s.value for s in validity_samples(["active_users"])}
    assert validity == {
        ("kpiwatch_metric_valid", "mrr"): 1.0,
        ("kpiwatch_metric_valid", "unit_economics"): 1.0,
        ("kpiwatch_metric_valid", "cac"): 1.0,
        ("kpiwatch_metric_valid", "active_users"): 0.0,
        ("kpiwatch_metric_valid", "retention"): 1.0,
        ("kpiwatch_metric_valid", "conversion"): 1.0,
        ("kpiwatch_metric_valid", "feature_adoption"): 1.0,
        ("kpiwatch_metrics_valid", None): 0.0,
    }
    samples = [Sample("kpiwatch_mrr_usd", {}, 5.0), Sample("kpiwatch_active_users", {"window": "1d"}, 3.0)]
    assert fresh_samples(samples, ["active_users"]) == samples[:1]
    # A withheld metric's required series are not due; the others still are.
    assert missing_required(samples[:1], ["active_users"]) == missing_required(samples[:1])[: -len(ACTIVE_USER_WINDOWS)]
    assert not any("active_users" in m for m in missing_required([], ["active_users"]))


def test_every_business_gauge_belongs_to_exactly_one_metric():
    business = {g.name for g in GAUGES if g.group == "business"}
    owned = [gauge for metric in METRICS for gauge in metric.gauges]
    assert sorted(owned) == sorted(business)


def test_every_watched_series_belongs_to_a_metric_whose_marts_hold_it():
    """Gating withholds a series with its metric: the series' mart must be one of that metric's marts."""
    marts = {m.name: m.marts for m in METRICS}
    for series, (metric, mart) in SERIES.items():
        assert mart in marts[metric], series


def test_band_samples_carry_the_verdict_and_fire_only_in_a_watched_direction():
    day = dt.date(2024, 5, 20)
    inside = Verdict(day, "active_users", "dau", "all", 100, 80, 100, 120, 0.0, True, "")
    below = Verdict(day, "feature_adoption", "feature_users", "reporting", 0, 20, 30, 40, -2.0, True, "drop")
    unready = Verdict(day, "mrr", "mrr", "all", 500, None, None, None, 0.0, False, "")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in band_samples([inside, below, unready])}
    dau = (("metric", "active_users"), ("segment", "all"), ("series", "dau"))
    assert samples[("kpiwatch_metric_expected", tuple(sorted((*dau, ("bound", "lower")))))] == 80
    assert samples[("kpiwatch_metric_band_ready", dau)] == 1
    assert not [k for k in samples if k[0] == "kpiwatch_metric_anomaly" and ("series", "dau") in k[1]]
    reporting = (("metric", "feature_adoption"), ("segment", "reporting"), ("series", "feature_users"))
    assert samples[("kpiwatch_metric_anomaly", tuple(sorted((*reporting, ("direction", "drop")))))] == 1
    assert samples[("kpiwatch_metric_anomaly_score", reporting)] == -2.0
    mrr = (("metric", "mrr"), ("segment", "all"), ("series", "mrr"))
    assert samples[("kpiwatch_metric_band_ready", mrr)] == 0
    assert not [k for k in samples if k[0] == "kpiwatch_metric_expected" and ("series", "mrr") in k[1]]
    # A cohort series (conversion) has a verdict only in the weeks a cohort completes: never "missing".
    assert missing_bands([inside, below, unready]) == [
        f"series {name}" for name in SERIES if name not in ("dau", "feature_users", "mrr", "conversion")
    ]
    assert "series dau" not in missing_bands([], withheld=["active_users"])


def test_a_run_missing_a_required_business_series_is_named():
    """MRR, ARR, paying customers, every movement and every active-user window: all present, or named."""
    complete = [Sample(name, dict(labels), 1.0) for name, labels in REQUIRED_SERIES]
    assert missing_required(complete) == []
    without_dau = [s for s in complete if s.labels != {"window": "1d"}]
    assert missing_required(without_dau) == ['kpiwatch_active_users{window="1d"}']
    assert missing_required([]) == [
        name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")
        for name, labels in REQUIRED_SERIES
    ]
    assert all(GAUGES_BY_NAME[name].group == "business" for name, _ in REQUIRED_SERIES)
