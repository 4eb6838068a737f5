"""Scoring a backtest against planted anomalies: which were found on time, which firings were false."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from kpiwatch.sample.planted import DARK_DAYS, DARK_FEATURE, SPIKE_DAYS, STALLED_DAYS, Anomaly
from metrics.bands import Verdict

# The series each kind of anomaly moves, and for how long after its day a firing is still its doing (rolling
# 30-day windows carry a lost day for 30 days; a churn wave stays in the month-end level).
EFFECTS = {
    "activity_drop": (("dau", "wau", "mau", "stickiness", "feature_users", "feature_adoption"), 30),
    "churn_wave": (("mrr", "paying_customers", "churned_mrr_mtd"), 31),
    "spend_spike": (("spend", "cac_30d"), SPIKE_DAYS + 30),
    "feature_dark": (("feature_users", "feature_adoption"), DARK_DAYS + 30),
    # Stalled signups' cohorts complete up to STALLED_DAYS + 37 days later; fewer new customers weigh on
    # new MRR and the trailing CAC for 30 days after that.
    "conversion_stop": (("conversion", "cac_30d", "new_mrr_mtd"), STALLED_DAYS + 37 + 30),
}
FEATURE_OF_EVENT = {"report_export": "reporting"}


def explained_by(verdict: Verdict, anomaly: Anomaly) -> bool:
    series, days = EFFECTS[anomaly.kind]
    if verdict.series not in series or not anomaly.day <= verdict.day <= anomaly.day + dt.timedelta(days=days):
        return False
    return anomaly.kind != "feature_dark" or verdict.segment == FEATURE_OF_EVENT[DARK_FEATURE]


def found_on_time(verdicts: Iterable[Verdict], anomaly: Anomaly) -> bool:
    """Fired on one of the anomaly's series within one day of the first day it could be seen: its start, or
    for stalled conversion the day the first signup week wholly inside the stall completes its 30 days."""
    last_day = first_visible(anomaly) + dt.timedelta(days=1)
    return any(v.fired and explained_by(v, anomaly) and v.day <= last_day for v in verdicts)


def first_visible(anomaly: Anomaly) -> dt.date:
    if anomaly.kind != "conversion_stop":
        return anomaly.day
    monday = anomaly.day + dt.timedelta(days=-anomaly.day.weekday() % 7)  # the first week starting in the stall
    return monday + dt.timedelta(days=6 + 30)


def false_alert_days(verdicts: Iterable[Verdict], anomalies: Iterable[Anomaly]) -> list[dt.date]:
    """Days with a firing that no planted anomaly explains."""
    anomalies = list(anomalies)
    return sorted({v.day for v in verdicts if v.fired and not any(explained_by(v, a) for a in anomalies)})


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
