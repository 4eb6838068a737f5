"""Known kinds of bad data, injected into a warehouse file on purpose to prove the checks catch them.

Each fault names the check that must catch it; tests run every one through the real job, and
`kpiwatch generate --inject FAULT` lets a person see the failure for themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from kpiwatch.errors import KpiwatchError


@dataclass(frozen=True)
class Fault:
    name: str
    table: str
    caught_by: str  # check name in expectations/checks.yml
    statements: tuple[str, ...]
    description: str


LATEST_EVENT_DAY = "(select cast(max(occurred_at) as date) from raw.events)"

FAULTS = {
    f.name: f
    for f in (
        Fault(
            "null_user_id",
            "events",
            "required_columns_not_null",
            (
                "update raw.events set user_id = null where event_id in (select event_id from raw.events "
                "order by occurred_at desc, event_id limit 5)",
            ),
            "five events lose their user_id",
        ),
        Fault(
            "duplicate_event_id",
            "events",
            "unique_event_id",
            ("insert into raw.events select * from raw.events order by occurred_at desc, event_id limit 3",),
            "three events are loaded twice",
        ),
        Fault(
            "negative_amount",
            "subscriptions",
            "amount_not_negative",
            (
                "update raw.subscriptions set amount = -amount where subscription_id = (select "
                "min(subscription_id) from raw.subscriptions)",
            ),
            "a subscription's amount becomes negative",
        ),
        Fault(
            "unknown_currency",
            "subscriptions",
            "currency_in_fx_rates",
            (
                "update raw.subscriptions set currency = 'XYZ' where subscription_id = (select "
                "max(subscription_id) from raw.subscriptions)",
            ),
            "a subscription is priced in a currency missing from fx_rates",
        ),
        Fault(
            "unknown_interval",
            "subscriptions",
            "billing_interval_in_domain",
            (
                "update raw.subscriptions set billing_interval = 'day' where subscription_id = (select "
                "min(subscription_id) from raw.subscriptions)",
                "update raw.subscriptions set billing_interval = '37 month' where subscription_id = (select "
                "max(subscription_id) from raw.subscriptions)",
            ),
            "two subscriptions are billed daily and every 37 months, intervals kpiwatch has no monthly value for",
        ),
        Fault(
            "ended_before_started",
            "subscriptions",
            "ended_after_started",
            (
                "update raw.subscriptions set ended_at = started_at - interval 1 day where subscription_id = "
                "(select min(subscription_id) from raw.subscriptions where ended_at is not null)",
            ),
            "a subscription period ends a day before it starts",
        ),
        Fault(
            "overlapping_period",
            "subscriptions",
            "periods_do_not_overlap",
            (
                "insert into raw.subscriptions select subscription_id, user_id, plan, billing_interval, amount + 10, "
                "currency, started_at + interval 1 day, ended_at + interval 1 day from raw.subscriptions where "
                "subscription_id = (select min(subscription_id) from raw.subscriptions where ended_at is not null) "
                "order by started_at limit 1",
            ),
            "a second copy of a priced period, a day later and at another price, overlaps the first",
        ),
        Fault(
            "future_events",
            "events",
            "no_future_timestamps",
            (
                "insert into raw.events select event_id || '-future', user_id, event_name, "
                "greatest(occurred_at, cast(now() at time zone 'UTC' as timestamp)) + interval 2 day "
                "from raw.events order by occurred_at desc, event_id limit 3",
            ),
            "three events are stamped two days in the future",
        ),
        Fault(
            "missing_day",
            "events",
            "missing_days",
            (f"delete from raw.events where cast(occurred_at as date) = {LATEST_EVENT_DAY} - 3",),
            "no events arrive for one day three days ago",
        ),
        Fault(
            "stale_events",
            "events",
            "freshness",
            (f"delete from raw.events where cast(occurred_at as date) > {LATEST_EVENT_DAY} - 3",),
            "the event load stopped: the newest event is three days old",
        ),
        Fault(
            "dropped_column",
            "events",
            "schema_matches_contract",
            ("alter table raw.events drop column event_name",),
            "raw.events loses its event_name column",
        ),
        Fault(
            "wrong_type",
            "marketing_spend",
            "schema_matches_contract",
            ("alter table raw.marketing_spend alter amount type varchar",),
            "raw.marketing_spend.amount is loaded as text",
        ),
        Fault(
            "empty_table",
            "subscriptions",
            "not_empty",
            ("delete from raw.subscriptions",),
            "raw.subscriptions is loaded empty",
        ),
        Fault(
            "orphan_user_id",
            "events",
            "user_id_known",
            (
                "update raw.events set user_id = 'u_nobody' where event_id = (select max(event_id) from "
                "raw.events where occurred_at = (select max(occurred_at) from raw.events))",
            ),
            "an event points to a user that does not exist",
        ),
        Fault(
            "ancient_signup",
            "users",
            "timestamps_after_earliest",
            (
                "update raw.users set created_at = timestamp '1900-01-01' "
                "where user_id = (select min(user_id) from raw.users)",
            ),
            "a signup is dated 1900-01-01 (a default value, not history)",
        ),
        Fault(
            "ancient_event",
            "events",
            "timestamps_after_earliest",
            (
                "insert into raw.events select event_id || '-1900', user_id, event_name, timestamp '1900-01-01 12:00' "
                "from raw.events order by occurred_at desc, event_id limit 1",
            ),
            "one event is loaded with the date 1900-01-01",
        ),
    )
}


# Not bad data but bad news, or late data that only warns: what the alerts are for. caught_by names the alert.
SCENARIOS = {
    f.name: f
    for f in (
        Fault(
            "mrr_drop",
            "subscriptions",
            "KpiwatchMrrDrop",
            (
                f"update raw.subscriptions set ended_at = cast({LATEST_EVENT_DAY} - 2 as timestamp) "
                f"where ended_at is null and started_at < cast({LATEST_EVENT_DAY} - 2 as timestamp) "
                "and hash(subscription_id) % 10 < 3",
            ),
            "three in ten running subscriptions are cancelled two days before the evaluation date",
        ),
        Fault(
            "stale_users",
            "users",
            "KpiwatchDataStale",
            (
                f"update raw.users set created_at = created_at - interval 5 day "
                f"where created_at >= cast({LATEST_EVENT_DAY} - 5 as timestamp)",
            ),
            "the signup feed lags: the newest signup is five days old",
        ),
    )
}
INJECTABLE = {**FAULTS, **SCENARIOS}


def inject(path: Path, names: list[str]) -> None:
    """Apply the named faults or scenarios to the raw tables of a DuckDB file, in order."""
    unknown = [n for n in names if n not in INJECTABLE]
    if unknown:
        raise KpiwatchError(f"Unknown fault(s) {unknown}; choose from: {', '.join(INJECTABLE)}.")
    con = duckdb.connect(str(path))
    try:
        for name in names:
            for statement in INJECTABLE[name].statements:
                con.execute(statement)
    finally:
        con.close()
