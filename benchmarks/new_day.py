"""Append one new day of fixed volume to a benchmark dataset, so (d) measures history, not day size.

The generator scales users with events, so the last day of the 100M history holds 100x the events of
the last day of the 1M history. "Cost grows with new data, not with history" can only be judged when
the new day is the same at every size: NEW_DAY_EVENTS events copied from the history's last day (the
first ones by event_id, renamed so they stay unique), shifted one day later, plus that day's spend.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

NEW_DAY_EVENTS = 3_000  # about the last day of the 1M history (3,152 events)


def append_new_day(db: Path, last_day: dt.date, events: int = NEW_DAY_EVENTS) -> dt.date:
    """Write last_day + 1 into raw.events and raw.marketing_spend; return the new day."""
    new_day = last_day + dt.timedelta(days=1)
    con = duckdb.connect(str(db))
    try:
        present = con.execute("select count(*) from raw.events where occurred_at >= ?", [new_day]).fetchone()[0]
        if present:
            raise SystemExit(f"{db} already has events on or after {new_day}; use a fresh copy of the dataset.")
        con.execute(
            """insert into raw.events
               select 'new-' || event_id, user_id, event_name, occurred_at + interval 1 day
               from raw.events
               where occurred_at >= ? and occurred_at < ?
               order by event_id
               limit ?""",
            [last_day, new_day, events],
        )
        copied = con.execute("select count(*) from raw.events where occurred_at >= ?", [new_day]).fetchone()[0]
        if copied != events:
            raise SystemExit(f"{db}: {last_day} has only {copied} events, {events} needed for the new day.")
        con.execute(
            """insert into raw.marketing_spend by name
               select * replace (spend_date + 1 as spend_date) from raw.marketing_spend where spend_date = ?""",
            [last_day],
        )
    finally:
        con.close()
    return new_day
