"""Events (and users) from an event tracker (Segment, RudderStack, Snowplow), landed one load at a time into tables
kpiwatch keeps, which raw.events (and raw.users) present.

Every daily check and model reads raw.events by day. A view that deduplicated the tracker's table on the message id
would rescan all history on each read (a day filter cannot pass a window over all copies), so each run appends only
what the tracker loaded since the newest landed row: the first received copy of each message id, its user being the
user id it carries or, for an anonymous event, the user its anonymous id was identified as when it was received.
Events with neither are left out (`kpiwatch sources check` counts them).

The rules read only the rows themselves, never when kpiwatch ran, so landing history in one go or day by day keeps
the same events with the same users. One exception: a copy loaded more than DUPLICATE_WINDOW after the first is kept
again, and the unique_event_id check names it.

Users (Segment, RudderStack: from `identifies`) land the same way: a user id is landed once, from the first identify
that named it, whose time is the signup (docs/sources.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from kpiwatch.warehouse import Warehouse

LANDED_SCHEMA = "sources"
LANDED_TABLE = f"{LANDED_SCHEMA}.landed_events"
LANDED_USERS = f"{LANDED_SCHEMA}.landed_users"
# Loads commit out of order within hours: rows loaded up to this long before the newest landed one are read again.
LOAD_LOOKBACK = dt.timedelta(hours=6)
# A message id is a duplicate when a copy of it was landed from a load this recent (trackers drop most duplicates
# within a day themselves); older landed rows are not searched, so a day's landing stays a day's work.
DUPLICATE_WINDOW = dt.timedelta(days=7)

_CREATE = f"""
create table if not exists {LANDED_TABLE} (
    event_id varchar, user_id varchar, event_name varchar, occurred_at timestamp, received_at timestamp,
    loaded_at timestamp
)"""
_PRESENT = f"create or replace view raw.events as select event_id, user_id, event_name, occurred_at from {LANDED_TABLE}"
_CREATE_USERS = f"""
create table if not exists {LANDED_USERS} (
    user_id varchar, created_at timestamp, country varchar, acquisition_channel varchar, loaded_at timestamp
)"""
WATERMARK_TABLE = "ledger.tracker_watermarks"
_CREATE_WATERMARKS = f"create table if not exists {WATERMARK_TABLE} (landed_table varchar, newest_loaded_at timestamp)"
_PRESENT_USERS = (
    f"create or replace view raw.users as select user_id, created_at, country, acquisition_channel from {LANDED_USERS}"
)


def landing_sql(adapter: str, since: dt.datetime | None) -> tuple[str, list[dt.datetime]]:
    """The one INSERT that lands what `adapter` loaded after `since` (None: everything), and its parameters."""
    events, identities = f"sources.{adapter}__events", f"sources.{adapter}__identities"
    new_rows = f"select * from {events}" + (" where loaded_at > ?" if since else "")
    seen = " and landed.loaded_at > ?" if since else ""
    sql = f"""
insert into {LANDED_TABLE} (event_id, user_id, event_name, occurred_at, received_at, loaded_at)
with candidates as ({new_rows}),
first_copies as (
    select * from candidates
    qualify row_number() over (
        partition by event_id order by received_at, loaded_at, user_id nulls last, event_name
    ) = 1
),
unseen as (
    select * from first_copies
    where not exists (select 1 from {LANDED_TABLE} as landed where landed.event_id = first_copies.event_id{seen})
),
attributed as (
    select
        unseen.event_id, coalesce(unseen.user_id, identities.user_id) as user_id, unseen.event_name,
        unseen.occurred_at, unseen.received_at, unseen.loaded_at
    from unseen
    left join {identities} as identities
        on unseen.user_id is null
        and identities.anonymous_id = unseen.anonymous_id
        and identities.received_at <= unseen.received_at
    qualify row_number() over (
        partition by unseen.event_id, unseen.received_at, unseen.loaded_at
        order by identities.received_at desc nulls last, identities.user_id
    ) = 1
)
select * from attributed where user_id is not null"""
    params = [since - LOAD_LOOKBACK, since - DUPLICATE_WINDOW] if since else []
    return sql, params


def users_landing_sql(adapter: str, since: dt.datetime | None) -> tuple[str, list[dt.datetime]]:
    """The one INSERT that lands the users first identified in what `adapter` loaded after `since`."""
    new_rows = f"select * from sources.{adapter}__signups" + (" where loaded_at > ?" if since else "")
    sql = f"""
insert into {LANDED_USERS} (user_id, created_at, country, acquisition_channel, loaded_at)
with candidates as ({new_rows}),
first_identifies as (
    select * from candidates
    qualify row_number() over (partition by user_id order by signed_up_at, loaded_at, country, channel) = 1
)
select user_id, signed_up_at, country, channel, loaded_at
from first_identifies
where not exists (select 1 from {LANDED_USERS} as landed where landed.user_id = first_identifies.user_id)"""
    return sql, [since - LOAD_LOOKBACK] if since else []


@dataclass(frozen=True)
class LandedTable:
    """A table kpiwatch keeps for a tracker's rows: how it is created, landed into, and presented as raw.<table>."""

    name: str
    create: str
    present: str
    landing_sql: Callable[[str, dt.datetime | None], tuple[str, list[dt.datetime]]]


EVENTS = LandedTable(LANDED_TABLE, _CREATE, _PRESENT, landing_sql)
USERS = LandedTable(LANDED_USERS, _CREATE_USERS, _PRESENT_USERS, users_landing_sql)


def land_events(warehouse: Warehouse, adapter: str, *, restart: bool = False) -> int:
    """Append what the tracker loaded since the last landing (all of it on the first run, or after `restart`, when
    the adapter or the schema it reads changed) and present the table as raw.events. Returns the rows landed.
    One INSERT: a failed landing lands nothing, and running it again lands nothing twice."""
    return _land(warehouse, EVENTS, adapter, restart)


def land_users(warehouse: Warehouse, adapter: str, *, restart: bool = False) -> int:
    """land_events for the users the tracker's identifies name, presented as raw.users."""
    return _land(warehouse, USERS, adapter, restart)


def _land(warehouse: Warehouse, table: LandedTable, adapter: str, restart: bool) -> int:
    """Read the watermark from the ledger, land what is newer, move the watermark: a day's landing reads a day of
    the tracker's rows and the landed rows of the look-back, never the whole landed table."""
    with warehouse.session() as session:
        session.query(f"create schema if not exists {LANDED_SCHEMA}")
        session.query(f"create schema if not exists {WATERMARK_TABLE.split('.')[0]}")
        session.query(_CREATE_WATERMARKS)
        if restart:
            session.query(f"drop table if exists {table.name}")
            session.query(f"delete from {WATERMARK_TABLE} where landed_table = ?", [table.name])
        session.query(table.create)
        since, recorded = _watermark(session, table)
        sql, params = table.landing_sql(adapter, since)
        landed = inserted_rows(session.query(sql, params))
        if since is None:
            session.query(table.present)
        if landed or not recorded:
            _move_watermark(session, table, since)
        return landed


def _watermark(session: Warehouse, table: LandedTable) -> tuple[dt.datetime | None, bool]:
    """The newest load time landed so far (None before anything landed), and whether the ledger holds it. A table
    landed before the ledger kept watermarks is read once for it."""
    rows = session.query(f"select newest_loaded_at from {WATERMARK_TABLE} where landed_table = ?", [table.name])
    if rows:
        return rows[0]["newest_loaded_at"], True
    return session.query(f"select max(loaded_at) as newest from {table.name}")[0]["newest"], False


def _move_watermark(session: Warehouse, table: LandedTable, since: dt.datetime | None) -> None:
    """The newest load time among the rows landed now: only the rows of the look-back are read (loads append in
    load order, so DuckDB's zone maps and Snowflake's partition pruning skip the rest)."""
    recent = " where loaded_at > ?" if since else ""
    params = [since - LOAD_LOOKBACK] if since else []
    newest = session.query(f"select max(loaded_at) as newest from {table.name}{recent}", params)[0]["newest"]
    session.query(f"delete from {WATERMARK_TABLE} where landed_table = ?", [table.name])
    session.query(f"insert into {WATERMARK_TABLE} values (?, ?)", [table.name, newest or since])


def inserted_rows(result: list[dict[str, object]]) -> int:
    """The rows an INSERT wrote, as the warehouse reports them (DuckDB `Count`, Snowflake `number of rows
    inserted`)."""
    return int(next(iter(result[0].values()))) if result and result[0] else 0
