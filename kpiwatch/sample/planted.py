"""Business anomalies planted in generated data (`kpiwatch generate --anomaly KIND@DATE`), so the anomaly
bands can be tried and tested on otherwise clean data whose every oddity is known.

Each kind changes the raw tables in SQL after the company is simulated, deterministically (hash-based,
from the seed), and only from its date on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from kpiwatch.errors import KpiwatchError

DROPPED_SHARE = 0.6  # activity_drop: share of the day's active users whose events are lost
CHURNED_SHARE = 0.25  # churn_wave: share of the paying customers who cancel
SPEND_FACTOR = 4.0  # spend_spike: the channel's daily spend multiplied by this
SPIKE_CHANNEL, SPIKE_DAYS = "paid_search", 7
DARK_FEATURE, DARK_DAYS = "report_export", 10
STALLED_CHANNEL, STALLED_DAYS = "paid_search", 30

KINDS = {
    "activity_drop": f"the events of {DROPPED_SHARE:.0%} of the day's active users are lost (an outage)",
    "churn_wave": f"{CHURNED_SHARE:.0%} of the paying customers cancel at noon that day",
    "spend_spike": f"{SPIKE_CHANNEL} spend is x{SPEND_FACTOR:g} for {SPIKE_DAYS} days",
    "feature_dark": f"{DARK_FEATURE} is never used for {DARK_DAYS} days (a release hid it)",
    "conversion_stop": f"{STALLED_CHANNEL} signups of the next {STALLED_DAYS} days never start paying",
}


@dataclass(frozen=True)
class Anomaly:
    kind: str
    day: dt.date

    def __str__(self) -> str:
        return f"{self.kind}@{self.day.isoformat()}"


def parse_anomaly(text: str) -> Anomaly:
    """KIND@YYYY-MM-DD, or a KpiwatchError naming what is wrong."""
    kind, at, day = text.partition("@")
    if not at or kind not in KINDS:
        raise KpiwatchError(f"--anomaly {text!r}: expected KIND@YYYY-MM-DD with KIND one of {', '.join(KINDS)}.")
    try:
        return Anomaly(kind, dt.date.fromisoformat(day))
    except ValueError:
        raise KpiwatchError(f"--anomaly {text!r}: {day!r} is not a date (YYYY-MM-DD).") from None


def plant(con: duckdb.DuckDBPyConnection, anomaly: Anomaly, seed: int) -> None:
    """Change the generated raw tables in `con` as `anomaly.kind` describes, from `anomaly.day` on."""
    day = anomaly.day
    if anomaly.kind == "activity_drop":
        con.execute(
            "delete from raw.events where cast(occurred_at as date) = ? and hash(user_id, ?) % 1000 < ?",
            [day, seed, int(DROPPED_SHARE * 1000)],
        )
    elif anomaly.kind == "churn_wave":
        noon = dt.datetime.combine(day, dt.time(12))
        con.execute(
            "create or replace temp table churned as select distinct user_id from raw.subscriptions "
            "where started_at < ? and (ended_at is null or ended_at > ?) and hash(user_id, ?) % 1000 < ?",
            [noon, noon, seed, int(CHURNED_SHARE * 1000)],
        )
        con.execute(
            "delete from raw.subscriptions where user_id in (select user_id from churned) and started_at >= ?", [noon]
        )
        con.execute(
            "update raw.subscriptions set ended_at = ? where user_id in (select user_id from churned) "
            "and started_at < ? and (ended_at is null or ended_at > ?)",
            [noon, noon, noon],
        )
    elif anomaly.kind == "spend_spike":
        con.execute(
            "update raw.marketing_spend set amount = round(amount * ?, 2) "
            "where channel = ? and spend_date >= ? and spend_date < ?",
            [SPEND_FACTOR, SPIKE_CHANNEL, day, day + dt.timedelta(days=SPIKE_DAYS)],
        )
    elif anomaly.kind == "feature_dark":
        con.execute(
            "update raw.events set event_name = 'page_view' "
            "where event_name = ? and occurred_at >= ? and occurred_at < ?",
            [DARK_FEATURE, day, day + dt.timedelta(days=DARK_DAYS)],
        )
    elif anomaly.kind == "conversion_stop":
        con.execute(
            "delete from raw.subscriptions where user_id in (select user_id from raw.users "
            "where acquisition_channel = ? and created_at >= ? and created_at < ?)",
            [STALLED_CHANNEL, day, day + dt.timedelta(days=STALLED_DAYS)],
        )
