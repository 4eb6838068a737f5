"""The sample company in a connector's own shape (`kpiwatch generate --shape`), so the source adapters can be
seen and measured on realistic volumes: the same company, read through the adapter, gives the same marts.

segment, rudderstack and snowplow: raw.events becomes the tracker's tables (docs/sources.md, "Event trackers"), and
for Segment and RudderStack raw.users becomes their identifies (each user identified at signup, with the signup's
campaign and country as the tracker's context records them). Events arrive as trackers really deliver them: an
event in ten carries only the anonymous id, which an earlier identify (Segment, RudderStack: at signup) or an
earlier event of the user (Snowplow: the cookie id) ties to the user; one event in two hundred arrives twice (a
retry, received five minutes later, in a later load). Read through the adapters, users and events are the
contract's, one for one.

stripe_airbyte: the same Stripe objects as Airbyte's source-stripe streams (epoch seconds, JSON objects).

stripe_fivetran: raw.subscriptions becomes Fivetran's Stripe schema `stripe` (one customer per user, a product per
plan, a price per plan, interval, amount and currency, a subscription with one item, and a paid invoice line per
priced period); raw.users, raw.events and raw.marketing_spend stay as they are. All of it in SQL, in DuckDB.

A Stripe shape and a tracker's shape combine (`--shape stripe_fivetran,segment`), as a company with Stripe billing
and Segment tracking holds its data: subscriptions as the connector syncs them, events (and users) as the tracker
delivers them.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from kpiwatch.errors import KpiwatchError
from kpiwatch.source_settings import ADAPTER_TABLES, DEFAULT_SCHEMAS, EVENT_TRACKERS

SHAPES = ("contract", "stripe_fivetran", "stripe_airbyte", "segment", "rudderstack", "snowplow")
STRIPE_SCHEMA = DEFAULT_SCHEMAS["stripe_fivetran"]
# The schema each shape writes (the adapter's default, docs/sources.md).
SHAPE_SCHEMAS = {shape: DEFAULT_SCHEMAS[shape] for shape in SHAPES if shape != "contract"}
# What each shape reshapes; one shape of each may be combined.
SHAPE_KINDS = {
    adapter: "billing" for adapter, tables in ADAPTER_TABLES.items() if "subscriptions" in tables and adapter in SHAPES
} | {tracker: "tracking" for tracker in EVENT_TRACKERS}


def shape_parts(shape: str) -> tuple[str, ...]:
    """The shapes `--shape` names (comma-separated: one billing and one tracking shape at most), billing first: its
    customers are read from raw.users before a tracker's shape replaces it. KpiwatchError names what is wrong."""
    parts = tuple(part.strip() for part in shape.split(","))
    for part in parts:
        if part not in SHAPES:
            raise KpiwatchError(f"--shape {part!r} is not a known shape; use one of: {', '.join(SHAPES)}.")
    if len(parts) == 1:
        return parts
    if "contract" in parts:
        raise KpiwatchError(f"--shape {shape!r}: contract is every table as it is; it combines with no other shape.")
    kinds = [SHAPE_KINDS[part] for part in parts]
    if len(set(kinds)) < len(kinds):
        billing, tracking = ([s for s, k in SHAPE_KINDS.items() if k == kind] for kind in ("billing", "tracking"))
        raise KpiwatchError(
            f"--shape {shape!r} names two shapes of the same data; combine at most one of "
            f"{' / '.join(billing)} with one of {' / '.join(tracking)}."
        )
    return tuple(sorted(parts, key=lambda part: SHAPE_KINDS[part]))


# The priced periods, each with its subscription's last period (which decides the subscription's state).
_PERIODS = """
create temp table shaped_periods as
select
    periods.*,
    'price_' || md5(plan || '|' || billing_interval || '|' || cast(amount as varchar) || '|' || currency) as price_id,
    case billing_interval when 'year' then started_at + interval 1 year else started_at + interval 1 month end
        as next_renewal,
    row_number() over (partition by subscription_id order by started_at desc) = 1 as is_last
from raw.subscriptions as periods
where started_at < $cutoff
"""

_STATEMENTS = (
    "create schema stripe",
    """create table stripe.customer as
       select user_id as id, user_id || '@example.com' as email, created_at as created, 'usd' as currency,
              country as address_country, true as livemode, false as is_deleted, created_at as _fivetran_synced
       from raw.users""",
    """create table stripe.product as
       select distinct plan as id, plan as name, true as active, false as is_deleted, $cutoff as _fivetran_synced
       from shaped_periods""",
    """create table stripe.price as
       select distinct price_id as id, cast(round(amount * 100) as bigint) as unit_amount, lower(currency) as currency,
              'recurring' as type, billing_interval as recurring_interval, 1 as recurring_interval_count,
              'licensed' as recurring_usage_type, 'per_unit' as billing_scheme, plan as product_id, true as active,
              false as is_deleted, true as livemode, $cutoff as _fivetran_synced
       from shaped_periods""",
    # A subscription whose last period has ended by the cutoff is canceled then; one still running (or ending
    # after the cutoff: cancel_at) is active, its current period being its last priced period.
    """create table stripe.subscription_history as
       select subscription_id as id, user_id as customer_id,
              case when ended_at is null or ended_at >= $cutoff then 'active' else 'canceled' end as status,
              started_at as created, started_at as start_date,
              case when ended_at < $cutoff then ended_at end as ended_at,
              case when ended_at < $cutoff then ended_at end as canceled_at,
              case when ended_at >= $cutoff then ended_at end as cancel_at,
              false as cancel_at_period_end, started_at as current_period_start, next_renewal as current_period_end,
              cast(null as timestamp) as trial_start, cast(null as timestamp) as trial_end, true as livemode,
              true as _fivetran_active, started_at as _fivetran_start, timestamp '9999-12-31' as _fivetran_end,
              $cutoff as _fivetran_synced
       from shaped_periods where is_last""",
    """create table stripe.subscription_item as
       select 'si_' || subscription_id as id, subscription_id, price_id as plan_id, 1 as quantity,
              started_at as created, $cutoff as _fivetran_synced
       from shaped_periods where is_last""",
    """create table stripe.invoice as
       select 'in_' || subscription_id || '_' || cast(epoch(started_at) as bigint) as id, user_id as customer_id,
              subscription_id, 'paid' as status, 'subscription_cycle' as billing_reason, started_at as created,
              lower(currency) as currency, true as livemode, $cutoff as _fivetran_synced
       from shaped_periods""",
    """create table stripe.invoice_line_item as
       select 'il_' || subscription_id || '_' || cast(epoch(started_at) as bigint) as id,
              'in_' || subscription_id || '_' || cast(epoch(started_at) as bigint) as invoice_id, subscription_id,
              'si_' || subscription_id as subscription_item_id, cast(null as varchar) as invoice_item_id,
              price_id, price_id as plan_id, 'subscription' as type, false as proration, 1 as quantity,
              cast(round(amount * 100) as bigint) as amount, cast(null as varchar) as unit_amount_excluding_tax,
              lower(currency) as currency, true as discountable, started_at as period_start,
              coalesce(ended_at, next_renewal) as period_end, true as livemode, $cutoff as _fivetran_synced
       from shaped_periods""",
    "drop table raw.subscriptions",
)


# The contract's events with what a tracker adds: the anonymous id, whether the event carries only it, and
# whether it arrives twice. Anonymous only after the user is known: after signup for Segment and RudderStack
# (identified then), after the user's first event for Snowplow (which ties the cookie id to the user).
_TRACKED = """
create temp table tracked as
select
    events.*,
    'anon_' || events.user_id as anonymous_id,
    hash(events.event_id) % 10 = 0
        and ($shape = 'snowplow' or events.occurred_at > users.created_at)
        and row_number() over (partition by events.user_id order by events.occurred_at, events.event_id) > 1
        as anonymous,
    hash(events.event_id || 'retry') % 200 = 0 as retried,
    events.occurred_at + interval 2 second as received_at,
    events.occurred_at + interval 1 hour as loaded_at
from raw.events as events
left join raw.users as users using (user_id)
"""
# Every copy a tracker delivers: the event, and a retry five minutes later in a later load.
_COPIES = """
create temp table copies as
select * from tracked
union all
select * replace (received_at + interval 5 minute as received_at, loaded_at + interval 6 hour as loaded_at)
from tracked where retried
"""
_TRACKER_STATEMENTS = {
    "segment": (
        """create table {schema}.tracks as
           select event_id as id, anonymous_id, case when not anonymous then user_id end as user_id,
                  event_name as event, replace(event_name, '_', ' ') as event_text, occurred_at as "timestamp",
                  occurred_at as original_timestamp, received_at as sent_at, received_at, loaded_at as uuid_ts,
                  'analytics.js' as context_library_name
           from copies order by loaded_at, received_at""",
        """create table {schema}.identifies as
           select 'id_' || user_id as id, 'anon_' || user_id as anonymous_id, user_id, created_at as "timestamp",
                  created_at as received_at, created_at + interval 1 hour as uuid_ts,
                  acquisition_channel as context_campaign_source, country as context_location_country
           from raw.users order by created_at""",
        "drop table raw.users",
    ),
    "snowplow": (
        """create table {schema}.events as
           select 'web' as app_id, 'web' as platform, 'unstruct' as event, event_id,
                  case when not anonymous then user_id end as user_id, anonymous_id as domain_userid,
                  cast(null as varchar) as se_category, cast(null as varchar) as se_action, 'com.acme' as event_vendor,
                  event_name, occurred_at as dvce_created_tstamp, occurred_at as dvce_sent_tstamp,
                  received_at as collector_tstamp, received_at - interval 2 second as derived_tstamp,
                  loaded_at as etl_tstamp, loaded_at as load_tstamp
           from copies order by loaded_at, received_at""",
    ),
}
_TRACKER_STATEMENTS["rudderstack"] = _TRACKER_STATEMENTS["segment"]


# Fivetran's Stripe tables as Airbyte's source-stripe streams (Destinations V2) in the same schema: epoch seconds,
# nested objects as JSON, Airbyte's bookkeeping columns; then the Fivetran tables are dropped.
_AIRBYTE = "'raw-' || md5(cast(id as varchar)) as _airbyte_raw_id, $extracted as _airbyte_extracted_at, " + (
    "cast('{}' as json) as _airbyte_meta, 1 as _airbyte_generation_id"
)
_AIRBYTE_STATEMENTS = (
    f"""create table stripe.customers as
        select id, email, cast(epoch(created) as bigint) as created, json_object('country', address_country) as address,
               livemode, $updated as updated, is_deleted, {_AIRBYTE}
        from stripe.customer""",
    f"""create table stripe.products as
        select id, name, active, $updated as updated, is_deleted, {_AIRBYTE} from stripe.product""",
    f"""create table stripe.prices as
        select id, unit_amount, currency, type,
               json_object('interval', recurring_interval, 'interval_count', recurring_interval_count,
                           'usage_type', recurring_usage_type) as recurring,
               billing_scheme, product_id as product, active, $updated as updated, is_deleted, {_AIRBYTE}
        from stripe.price""",
    f"""create table stripe.subscriptions as
        select id, customer_id as customer, status, cast(epoch(created) as bigint) as created,
               cast(epoch(start_date) as bigint) as start_date, cast(epoch(ended_at) as bigint) as ended_at,
               cast(epoch(canceled_at) as bigint) as canceled_at, cast(epoch(cancel_at) as bigint) as cancel_at,
               cancel_at_period_end, cast(epoch(current_period_start) as bigint) as current_period_start,
               cast(epoch(current_period_end) as bigint) as current_period_end,
               cast(null as bigint) as trial_start, cast(null as bigint) as trial_end, livemode,
               $updated as updated, false as is_deleted, {_AIRBYTE}
        from stripe.subscription_history""",
    f"""create table stripe.subscription_items as
        select id, subscription_id as subscription, json_object('id', plan_id) as price, quantity,
               cast(epoch(created) as bigint) as created, cast(null as bigint) as current_period_start,
               cast(null as bigint) as current_period_end, {_AIRBYTE}
        from stripe.subscription_item""",
    f"""create table stripe.invoices as
        select id, customer_id as customer, subscription_id as subscription, status,
               cast(epoch(created) as bigint) as created, $updated as updated, false as is_deleted, {_AIRBYTE}
        from stripe.invoice""",
    f"""create table stripe.invoice_line_items as
        select id, invoice_id, subscription_id as subscription, subscription_item_id as subscription_item,
               json_object('id', price_id) as price, type, proration, quantity, amount, amount as amount_excluding_tax,
               unit_amount_excluding_tax, currency,
               json_object('start', cast(epoch(period_start) as bigint), 'end', cast(epoch(period_end) as bigint))
                   as period,
               livemode, {_AIRBYTE}
        from stripe.invoice_line_item""",
    *(
        f"drop table stripe.{table}"
        for table in (
            "customer",
            "product",
            "price",
            "subscription_history",
            "subscription_item",
            "invoice",
            "invoice_line_item",
        )
    ),
)


def reshape(con: duckdb.DuckDBPyConnection, shape: str, as_of: dt.date) -> None:
    """Turn the generated contract tables into `shape`, each of its parts in turn (contract: nothing to do)."""
    for part in shape_parts(shape):
        if part in _TRACKER_STATEMENTS:
            _reshape_events(con, part)
        elif part != "contract":
            _reshape_billing(con, part, as_of)


def _reshape_billing(con: duckdb.DuckDBPyConnection, shape: str, as_of: dt.date) -> None:
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    con.execute(f"drop schema if exists {STRIPE_SCHEMA} cascade")
    con.execute(_PERIODS, {"cutoff": cutoff})
    for statement in _STATEMENTS:
        con.execute(statement, {"cutoff": cutoff} if "$cutoff" in statement else None)
    con.execute("drop table shaped_periods")
    if shape == "stripe_airbyte":
        synced = {"updated": int(cutoff.replace(tzinfo=dt.UTC).timestamp()), "extracted": cutoff}
        for statement in _AIRBYTE_STATEMENTS:
            con.execute(statement, {k: v for k, v in synced.items() if f"${k}" in statement} or None)


def _reshape_events(con: duckdb.DuckDBPyConnection, shape: str) -> None:
    schema = SHAPE_SCHEMAS[shape]
    con.execute(f"drop schema if exists {schema} cascade")
    con.execute(f"create schema {schema}")
    con.execute(_TRACKED, {"shape": shape})
    con.execute(_COPIES)
    for statement in _TRACKER_STATEMENTS[shape]:
        con.execute(statement.format(schema=schema))
    con.execute("drop table copies")
    con.execute("drop table tracked")
    con.execute("drop table raw.events")
