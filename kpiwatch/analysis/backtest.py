"""`kpiwatch backtest`: the anomaly verdicts of every day of a range, exactly as the daily runs give them
(each day's band learnt from the days before it only), read from the warehouse without Prometheus; and,
for comparison, the days the fixed thresholds kpiwatch used before the bands would have alerted."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass

from kpiwatch.errors import KpiwatchError
from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse, as_date, relation_exists
from metrics.anomaly_config import SERIES_MARTS, AnomalyConfig, series_mart
from metrics.bands import Verdict, read_verdicts

CSV_COLUMNS = ("date", "metric", "value", "lower", "expected", "upper", "score", "fired")
FIXED_RULES = {
    "dau": "DAU below 70% of the same weekday a week before (KpiwatchDauDrop)",
    "mrr": "MRR more than 5% below the previous month-end (KpiwatchMrrDrop)",
    "feature_adoption": "adoption below 80% of a week before, from above 5% (KpiwatchFeatureAdoptionDrop)",
}


@dataclass(frozen=True)
class Backtest:
    start: dt.date
    end: dt.date
    verdicts: list[Verdict]
    fixed: dict[str, list[dt.date]]  # series label -> days the fixed threshold would have fired


def label(verdict: Verdict) -> str:
    """The series as one name: `dau`, or `feature_adoption/report_export` for a segmented series."""
    return verdict.series if verdict.segment == "all" else f"{verdict.series}/{verdict.segment}"


def run_backtest(
    warehouse: Warehouse, config: AnomalyConfig, start: dt.date, end: dt.date, series: str | None = None
) -> Backtest:
    missing = [mart for mart in SERIES_MARTS if not relation_exists(warehouse, MARTS_SCHEMA, mart)]
    if missing:
        raise KpiwatchError(
            f"The warehouse has no {', '.join(f'{MARTS_SCHEMA}.{m}' for m in missing)} yet: run `kpiwatch run` "
            "(or `kpiwatch backfill`) first; the backtest reads the bands the runs keep."
        )
    with warehouse.session():
        verdicts = read_verdicts(warehouse, config, start, end, series=series)
        fixed = fixed_threshold_days(warehouse, start, end, series)
    return Backtest(start, end, verdicts, fixed)


def fixed_threshold_days(
    warehouse: Warehouse, start: dt.date, end: dt.date, series: str | None
) -> dict[str, list[dt.date]]:
    """Days the old fixed business thresholds would have fired, from the same daily series."""
    watched = [name for name in FIXED_RULES if series in (None, name)]
    if not watched:
        return {}
    marts = dict.fromkeys(series_mart(name) for name in watched)
    names = ", ".join(f"'{name}'" for name in watched)
    sql = " union all ".join(
        f"select metric_date, metric, segment, value from {MARTS_SCHEMA}.{mart} "
        f"where metric in ({names}) and metric_date >= ? and metric_date <= ?"
        for mart in marts
    )
    rows = warehouse.query(sql, [start - dt.timedelta(days=40), end] * len(marts))
    values = {(r["metric"], r["segment"], as_date(r["metric_date"])): r["value"] for r in rows}
    fired: dict[str, list[dt.date]] = defaultdict(list)
    for (name, segment, day), value in sorted(values.items(), key=lambda item: item[0][2]):
        if not start <= day <= end or value is None:
            continue
        week_before = values.get((name, segment, day - dt.timedelta(days=7)))
        month_end = values.get((name, segment, day.replace(day=1) - dt.timedelta(days=1)))
        if (
            (name == "dau" and week_before and value < 0.7 * week_before)
            or (name == "mrr" and month_end and value < 0.95 * month_end)
            or (name == "feature_adoption" and week_before and week_before > 0.05 and value < 0.8 * week_before)
        ):
            fired[name if segment == "all" else f"{name}/{segment}"].append(day)
    return dict(fired)


def to_csv(result: Backtest) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for v in result.verdicts:
        writer.writerow(
            [v.day.isoformat(), label(v), _number(v.value), _number(v.lower), _number(v.expected), _number(v.upper)]
            + [f"{v.score:.4f}", v.fired]
        )
    return out.getvalue()


def to_table(result: Backtest) -> str:
    """Per series: days judged, firings of the bands and of the fixed thresholds; then every firing."""
    by_series: dict[str, list[Verdict]] = defaultdict(list)
    for v in result.verdicts:
        by_series[label(v)].append(v)
    lines = [
        f"Backtest {result.start} .. {result.end}: anomaly bands (expectations/anomalies.yml) against the fixed "
        "thresholds used before them.",
        "",
        f"{'series':<34} {'days':>5} {'judged':>6} {'bands fired':>11} {'fixed fired':>11}",
    ]
    for name, verdicts in by_series.items():
        fired = sum(1 for v in verdicts if v.fired)
        fixed = len(result.fixed.get(name, [])) if name.split("/")[0] in FIXED_RULES else None
        lines.append(
            f"{name:<34} {len(verdicts):>5} {sum(v.ready for v in verdicts):>6} {fired:>11} "
            f"{'-' if fixed is None else fixed:>11}"
        )
    firings = [v for v in result.verdicts if v.fired]
    lines += ["", f"Days the bands fired ({len(firings)}):" if firings else "The bands fired on no day."]
    for v in firings:
        lines.append(
            f"  {v.day}  {label(v):<32} {v.fired:<5}  value {_number(v.value)}  expected {_number(v.expected)}  "
            f"band {_number(v.lower)} .. {_number(v.upper)}  score {v.score:+.2f}"
        )
    fixed_days = sorted((day, name) for name, days in result.fixed.items() for day in days)
    lines += [
        "",
        f"Days the fixed thresholds would have fired ({len(fixed_days)}):"
        if fixed_days
        else "The fixed thresholds would have fired on no day.",
    ]
    lines += [f"  {day}  {name:<32} {FIXED_RULES[name.split('/')[0]]}" for day, name in fixed_days]
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")
