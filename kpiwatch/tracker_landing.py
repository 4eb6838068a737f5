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

from kpiwatch.warehouse import Warehouse, relation_exists

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


def land_events(warehouse: Warehouse, adapter: str, *, restart: bool = False) -> int:
    """Append what the tracker loaded since the last landing (all of it on the first run, or after `restart`, when
    the adapter or the schema it reads changed) and present the table as raw.events. Returns the rows landed.
    One INSERT: a failed landing lands nothing, and running it again lands nothing twice."""
    return _land(warehouse, (_CREATE, LANDED_TABLE, _PRESENT, "events"), landing_sql, adapter, restart)


def land_users(warehouse: Warehouse, adapter: str, *, restart: bool = False) -> int:
    """land_events for the users the tracker's identifies name, presented as raw.users."""
    return _land(warehouse, (_CREATE_USERS, LANDED_USERS, _PRESENT_USERS, "users"), users_landing_sql, adapter, restart)


def _land(warehouse: Warehouse, table: tuple[str, str, str, str], sql_for, adapter: str, restart: bool) -> int:
    create, name, present, raw_name = table
    with warehouse.session() as session:
        session.query(f"create schema if not exists {LANDED_SCHEMA}")
        if restart:
            session.query(f"drop table if exists {name}")
        session.query(create)
        before = session.query(f"select count(*) as n, max(loaded_at) as newest from {name}")[0]
        sql, params = sql_for(adapter, before["newest"])
        session.query(sql, params)
        if restart or not relation_exists(session, "raw", raw_name):
            session.query(present)
        after = session.query(f"select count(*) as n from {name}")[0]
        return int(after["n"]) - int(before["n"])
