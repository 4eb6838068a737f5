"""Everything the report shows, gathered from the sources the gauges use: the business snapshot and the band
verdicts (the same queries as the push), the MRR bridge straight from its mart, the checks and runs from the
Dagster instance, and the active alerts from Alertmanager's API. No metric is computed here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiwatch.report.svg import Point
from kpiwatch.semantic_layer import WatchedMetric
from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse, as_date, relation_exists
from metrics.anomaly_config import AnomalyConfig, series_metric
from metrics.attribution import Explanation, latest_changes
from metrics.bands import Verdict, read_verdicts, verdicts_of_day
from metrics.samples import CheckRecord, business_samples, fresh_samples
from metrics.snapshot import BusinessSnapshot, add_months, month_start, read_snapshot

HISTORY_DAYS = 90
BRIDGE_MONTHS = 12
RECENT_RUNS = 10
METRICS_DOC_HEADINGS = {
    "mrr": "MRR and ARR (`fct_mrr_monthly`, `fct_customer_mrr_monthly`)",
    "activity": "Active users (`fct_active_users_daily`)",
    "series": "Watched daily series and their bands (`fct_series_activity_daily`, `fct_series_revenue_daily`, "
    "`fct_series_acquisition_daily`, `fct_series_conversion_daily`)",
    "economics": "Unit economics (`fct_unit_economics_monthly`)",
    "cac": "CAC (`fct_cac_monthly`)",
    "conversion": "Conversion (`fct_conversion_monthly`)",
    "segments": "MRR by segment (`fct_mrr_by_segment_monthly`)",
}


@dataclass(frozen=True)
class Kpi:
    """A headline number: where its value comes from (a gauge, else its band series' verdict), the band
    series judging it, what it is compared with, and its definition in one sentence."""

    key: str
    label: str
    series: str  # the band series (segment "all") that judges it
    unit: str  # usd, count or percent (kpiwatch/numbers.py)
    compare: str  # "month": the previous month's last day; "week": seven days before
    definition: str
    doc: str  # key of METRICS_DOC_HEADINGS
    gauge: str | None = None  # the business gauge holding its value, when there is one
    factor: float = 1.0  # ARR = 12 x MRR: its band is MRR's


KPIS = (
    Kpi("mrr", "MRR", "mrr", "usd", "month", "Monthly recurring revenue at the end of the day: every active "
        "subscription's price per month, in USD.", "mrr", "kpiwatch_mrr_usd"),
    Kpi("arr", "ARR", "mrr", "usd", "month", "Annual run rate: 12 x MRR.", "mrr", "kpiwatch_arr_usd", 12.0),
    Kpi("paying_customers", "Paying customers", "paying_customers", "count", "month",
        "Customers whose MRR is above zero at the end of the day.", "mrr", "kpiwatch_paying_customers"),
    Kpi("new_mrr_mtd", "New MRR, month to date", "new_mrr_mtd", "usd", "month",
        "MRR of first subscriptions started since the first of the month.", "series"),
    Kpi("churned_mrr_mtd", "Churned MRR, month to date", "churned_mrr_mtd", "usd", "month",
        "MRR of customers whose last subscription ended since the first of the month.", "series"),
    Kpi("dau", "DAU", "dau", "count", "week", "Users with at least one event on the day (UTC).", "activity"),
    Kpi("wau", "WAU", "wau", "count", "week", "Users with an event in the 7 days ending on the day.", "activity"),
    Kpi("mau", "MAU", "mau", "count", "week", "Users with an event in the 30 days ending on the day.", "activity"),
    Kpi("signups", "Signups (day)", "signups", "count", "week", "Users who signed up on the day, all channels.",
        "series"),
    Kpi("spend", "Marketing spend (day)", "spend", "usd", "week", "Marketing spend booked on the day, in USD.",
        "series"),
    Kpi("cac_30d", "CAC, last 30 days", "cac_30d", "usd", "week",
        "Marketing spend of the last 30 days / customers whose first payment fell in them.", "cac"),
    Kpi("conversion", "Conversion, newest signup week", "conversion", "percent", "week",
        "Share of a signup week's users who paid within 30 days of signing up.", "conversion"),
)  # fmt: skip
ACTIVE_USER_GAUGES = {"dau": "day", "wau": "week", "mau": "month"}
# The last complete month's unit economics, from the gauges' own snapshot.
ECONOMICS = (
    ("arpa_usd", "ARPA", "usd", "MRR / paying customers."),
    ("logo_churn_rate", "Logo churn", "percent", "Customers who churned / customers at the start of the month."),
    ("net_revenue_retention", "Net revenue retention", "percent", "MRR kept from last month's customers, with "
     "their expansion, contraction and churn, / their MRR a month before."),
    ("ltv_usd", "LTV", "usd", "ARPA x expected lifetime (1 / logo churn, capped)."),
    ("cac_usd", "CAC (blended)", "usd", "Marketing spend of the month / new customers of the month."),
    ("ltv_to_cac", "LTV : CAC", "plain", "LTV / blended CAC."),
)  # fmt: skip
MOVEMENTS = (
    ("new", "new_mrr_usd"),
    ("expansion", "expansion_mrr_usd"),
    ("reactivation", "reactivation_mrr_usd"),
    ("contraction", "contraction_mrr_usd"),
    ("churn", "churned_mrr_usd"),
)


@dataclass(frozen=True)
class KpiFact:
    kpi: Kpi
    value: float | None
    previous: float | None
    state: str  # normal, anomalous, withheld, not_ready, no_data
    verdict: Verdict | None
    history: list[Point]

    @property
    def change(self) -> float | None:
        if self.value is None or not self.previous:
            return None
        return self.value / self.previous - 1


@dataclass(frozen=True)
class RunFact:
    run_id: str
    status: str
    as_of: str
    started: dt.datetime | None
    seconds: float | None


@dataclass
class ReportFacts:
    as_of: dt.date
    generated_at: dt.datetime
    target: str
    has_data: bool = False
    kpis: list[KpiFact] = field(default_factory=list)
    economics_month: dt.date | None = None
    economics: list[tuple[str, str, str, float | None, float | None, str]] = field(default_factory=list)
    bridge: list[dict[str, Any]] = field(default_factory=list)
    segments: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    changes: list[Explanation] = field(default_factory=list)  # the attribution the contribution gauges publish
    checks: list[CheckRecord] = field(default_factory=list)
    checks_run: str | None = None  # the run the checks come from
    withheld: dict[str, str] = field(default_factory=dict)  # metric -> the failed checks
    runs: list[RunFact] = field(default_factory=list)
    alerts: list[dict[str, Any]] | None = None  # None: Alertmanager did not answer
    alertmanager_url: str = ""
    alerts_error: str = ""
    metrics_doc: str = "docs/metrics.md"


def business_facts(
    facts: ReportFacts,
    warehouse: Warehouse,
    config: AnomalyConfig,
    top_n: int,
    withheld: Collection[str],
    declared: Iterable[WatchedMetric] = (),
) -> None:
    """The KPIs (with a card per declared metric the project watches), unit economics, bridge and segments as of
    the day; nothing when the marts do not exist yet."""
    if not relation_exists(warehouse, MARTS_SCHEMA, "fct_mrr_monthly"):
        return
    as_of = facts.as_of
    with warehouse.session():
        snapshot = read_snapshot(warehouse, as_of, top_n, withheld)
        today = {(v.series, v.segment): v for v in verdicts_of_day(warehouse, config, as_of, withheld)}
        history = read_verdicts(warehouse, config, as_of - dt.timedelta(days=HISTORY_DAYS - 1), as_of, withheld)
        bridge = _bridge(warehouse, as_of)
        changes = latest_changes(warehouse, as_of, withheld)
    if snapshot.current_month is None and not history:
        return
    facts.has_data = True
    # What the push publishes: a withheld metric's marts were not rebuilt, so its values are left out.
    published = fresh_samples(business_samples(snapshot), withheld)
    gauges = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in published}
    by_series: dict[str, list[Verdict]] = defaultdict(list)
    for v in history:
        if v.segment == "all":
            by_series[v.series].append(v)
    cards = [*KPIS, *(declared_kpi(metric) for metric in declared if metric.name in config.rules)]
    for kpi in cards:
        facts.kpis.append(_kpi_fact(kpi, as_of, gauges, today.get((kpi.series, "all")), by_series[kpi.series],
                                    withheld))  # fmt: skip
    if "unit_economics" not in withheld:
        _economics(facts, snapshot)
    facts.changes = changes
    if "mrr" in withheld:
        return  # the bridge and the segments come from the MRR marts this run did not rebuild
    facts.bridge = bridge
    for (dimension, segment), (mrr, change) in sorted(snapshot.mrr_by_segment.items()):
        facts.segments.setdefault(dimension, []).append((segment, mrr, change))
    for rows in facts.segments.values():
        rows.sort(key=lambda row: (row[0] == "other", -row[1]))


def declared_kpi(metric: WatchedMetric) -> Kpi:
    """The card of a declared metric: its value and band from its series, compared with a week before."""
    definition = metric.description or f"{metric.label}, declared in the project's metrics/."
    return Kpi(metric.name, metric.label, metric.name, metric.unit, "week", definition, "")


def _kpi_fact(
    kpi: Kpi,
    as_of: dt.date,
    gauges: Mapping[tuple, float],
    verdict: Verdict | None,
    series: list[Verdict],
    withheld: Collection[str],
) -> KpiFact:
    metric = series_metric(kpi.series)
    labels = (("window", ACTIVE_USER_GAUGES[kpi.key]),) if kpi.key in ACTIVE_USER_GAUGES else ()
    gauge = "kpiwatch_active_users" if kpi.key in ACTIVE_USER_GAUGES else kpi.gauge
    value = gauges.get((gauge, labels)) if gauge else None
    if value is None and verdict is not None and verdict.value is not None:
        value = verdict.value * kpi.factor  # the published kpiwatch_metric_observed
    compared = (month_start(as_of) - dt.timedelta(days=1)) if kpi.compare == "month" else as_of - dt.timedelta(7)
    earlier = [v for v in series if v.day <= compared and v.value is not None]
    # The value on the compared day itself; a weekly cohort series compares with the cohort before.
    exact = earlier and (kpi.series == "conversion" or earlier[-1].day == compared)
    previous = earlier[-1].value * kpi.factor if exact else None
    if metric in withheld:
        state = "withheld"
    elif verdict is None or verdict.value is None:
        state = "no_data"
    elif not verdict.ready:
        state = "not_ready"
    else:
        state = "anomalous" if verdict.fired else "normal"
    points = [
        Point(v.day, _times(v.value, kpi.factor), _times(v.lower, kpi.factor), _times(v.upper, kpi.factor),
              bool(v.fired))
        for v in series
    ]  # fmt: skip
    return KpiFact(kpi, value, previous, state, verdict, points)


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _economics(facts: ReportFacts, snapshot: BusinessSnapshot) -> None:
    month = snapshot.last_complete_month
    if not month:
        return
    before = snapshot.baseline_months[0] if snapshot.baseline_months else {}
    facts.economics_month = as_date(month["month"])
    for column, label, unit, definition in ECONOMICS:
        value, previous = month.get(column), before.get(column)
        facts.economics.append((column, label, unit, _float(value), _float(previous), definition))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _bridge(warehouse: Warehouse, as_of: dt.date) -> list[dict[str, Any]]:
    """The month-end MRR bridge of the last 12 months, as fct_mrr_monthly holds it (the running month to date)."""
    first = add_months(month_start(as_of), -(BRIDGE_MONTHS - 1))
    columns = ", ".join(column for _, column in MOVEMENTS)
    rows = warehouse.query(
        f"select month, is_complete, mrr_usd, net_new_mrr_usd, {columns} from {MARTS_SCHEMA}.fct_mrr_monthly "
        "where month >= ? and month <= ? order by month",
        [first, month_start(as_of)],
    )
    bridge = []
    for row in rows:
        month = as_date(row["month"])
        entry = {name: float(row[column] or 0) for name, column in MOVEMENTS}
        entry.update(
            month=month,
            label=month.strftime("%b %y") + ("" if row["is_complete"] else "*"),
            mrr=float(row["mrr_usd"] or 0),
            net_new=float(row["net_new_mrr_usd"] or 0),
            complete=bool(row["is_complete"]),
        )
        bridge.append(entry)
    return bridge


def run_facts(facts: ReportFacts, dagster_home: Path, instance=None) -> None:
    """The last runs, and the checks and withheld metrics of the newest run of the evaluation date; from the
    run's own instance when given, else the one under `dagster_home` (none there yet: no runs)."""
    from kpiwatch.hosting.instance import prepare_instance

    if instance is not None:
        _runs_of(facts, instance)
    elif (dagster_home / "dagster.yaml").exists():
        with prepare_instance(dagster_home) as opened:
            _runs_of(facts, opened)


def _runs_of(facts: ReportFacts, instance) -> None:
    from dagster import DagsterEventType

    from orchestration.gating import check_records
    from orchestration.run_window import AS_OF_TAG, PARTITION_TAG

    # Run records carry the start and end times: no run's event log is opened for them.
    for record in instance.get_run_records(limit=RECENT_RUNS):
        run = record.dagster_run
        started = dt.datetime.fromtimestamp(record.start_time, dt.UTC) if record.start_time else None
        seconds = record.end_time - record.start_time if record.start_time and record.end_time else None
        day = run.tags.get(PARTITION_TAG) or run.tags.get(AS_OF_TAG) or ""
        facts.runs.append(RunFact(run.run_id, run.status.value, day, started, seconds))
    of_day = next((r for r in facts.runs if r.as_of == facts.as_of.isoformat()), None)
    if of_day is None:
        return
    facts.checks_run = of_day.run_id
    facts.checks = sorted(
        check_records(instance, of_day.run_id),
        key=lambda c: (c.passed, c.severity != "error", c.asset, c.check),
    )
    for entry in instance.all_logs(of_day.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        metadata = entry.dagster_event.event_specific_data.materialization.metadata
        if "withheld" in metadata:
            for part in str(metadata["withheld"].value).split("; "):
                metric, _, reasons = part.partition(" (")
                if metric:
                    facts.withheld[metric] = reasons.rstrip(")")


def alert_facts(facts: ReportFacts, alertmanager_url: str) -> None:
    """The active alerts, or why there are none to show: an unreachable Alertmanager is said, not hidden."""
    from kpiwatch.stack import active_alerts

    facts.alertmanager_url = alertmanager_url
    try:
        facts.alerts = active_alerts(alertmanager_url, timeout=3)
    except Exception as error:  # noqa: BLE001 - any failure to ask is reported in the page
        facts.alerts, facts.alerts_error = None, (str(error) or type(error).__name__).splitlines()[0][:300]
