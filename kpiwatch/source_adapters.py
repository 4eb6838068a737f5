"""What each source adapter reads from a connector's schema (dbt_project/models/sources/), and the check that
it is all there: one sentence for the first table or column that is not, before dbt meets it."""

from __future__ import annotations

from collections.abc import Mapping

from kpiwatch.source_settings import AD_CHANNEL_VARIABLE, schema_variable, table_variable
from kpiwatch.warehouse import Warehouse

# What each adapter reads for each contract table: connector table -> columns (as the connector syncs them).
STRIPE_FIVETRAN_SUBSCRIPTIONS = {
    "subscription_history": (
        "id",
        "customer_id",
        "status",
        "cancel_at_period_end",
        "current_period_start",
        "current_period_end",
        "cancel_at",
        "ended_at",
        "livemode",
        "_fivetran_active",
    ),
    "subscription_item": ("id", "subscription_id", "plan_id", "quantity"),
    "price": (
        "id",
        "unit_amount",
        "currency",
        "type",
        "recurring_interval",
        "recurring_interval_count",
        "recurring_usage_type",
        "product_id",
    ),
    "product": ("id", "name"),
    "invoice": ("id", "status"),
    "invoice_line_item": (
        "id",
        "invoice_id",
        "subscription_id",
        "subscription_item_id",
        "price_id",
        "plan_id",
        "type",
        "proration",
        "quantity",
        "amount",
        "unit_amount_excluding_tax",
        "currency",
        "period_start",
        "period_end",
        "livemode",
    ),
}
# Fivetran's Stripe connections created before history mode (February 2022) sync `subscription`: the same
# columns without history mode's, one row per subscription (docs/sources.md).
WITHOUT_HISTORY = {"subscription_history": "subscription"}
HISTORY_MODE_COLUMNS = ("_fivetran_active",)
AD_REPORTS = {
    "platform": {"ad_reporting__account_report": ("date_day", "platform", "account_id", "spend")},
    "campaign": {
        "ad_reporting__campaign_report": ("date_day", "platform", "account_id", "campaign_id", "campaign_name", "spend")
    },
}
# Airbyte's source-stripe streams (Destinations V2): nested objects as JSON, every stream with its bookkeeping.
STRIPE_AIRBYTE_SUBSCRIPTIONS = {
    "subscriptions": (
        "id",
        "customer",
        "status",
        "cancel_at_period_end",
        "current_period_start",
        "current_period_end",
        "cancel_at",
        "ended_at",
        "livemode",
        "updated",
        "is_deleted",
        "_airbyte_extracted_at",
    ),
    "subscription_items": (
        "id",
        "subscription",
        "price",
        "quantity",
        "current_period_start",
        "current_period_end",
        "_airbyte_extracted_at",
    ),
    "prices": ("id", "unit_amount", "currency", "type", "recurring", "product", "updated", "_airbyte_extracted_at"),
    "products": ("id", "name", "updated", "_airbyte_extracted_at"),
    "invoices": ("id", "status", "updated", "is_deleted", "_airbyte_extracted_at"),
    "invoice_line_items": (
        "id",
        "invoice_id",
        "subscription",
        "subscription_item",
        "price",
        "type",
        "proration",
        "quantity",
        "amount",
        "unit_amount_excluding_tax",
        "currency",
        "period",
        "livemode",
        "_airbyte_extracted_at",
    ),
}
# Segment's and RudderStack's warehouse schema (the same layout): `tracks` holds every track call, `identifies`
# ties an anonymous id to a user id. uuid_ts is when the row was loaded into the warehouse.
TRACKS = {
    "tracks": ("id", "anonymous_id", "user_id", "event", "timestamp", "received_at", "uuid_ts"),
    "identifies": ("anonymous_id", "user_id", "received_at"),
}
# Users from identifies: the first identify of a user id is the signup (the campaign and country are read when the
# tracker recorded them: context_campaign_source, context_location_country).
IDENTIFIES = {"identifies": ("user_id", "timestamp", "received_at", "uuid_ts")}
# Snowplow's one wide atomic.events table: the cookie id domain_userid is the anonymous id.
SNOWPLOW_EVENTS = {
    "events": (
        "event_id",
        "user_id",
        "domain_userid",
        "event",
        "event_name",
        "se_action",
        "derived_tstamp",
        "collector_tstamp",
        "load_tstamp",
    )
}
READS: dict[tuple[str, str], Mapping[str, tuple[str, ...]]] = {
    ("segment", "events"): TRACKS,
    ("rudderstack", "events"): TRACKS,
    ("segment", "users"): IDENTIFIES,
    ("rudderstack", "users"): IDENTIFIES,
    ("snowplow", "events"): SNOWPLOW_EVENTS,
    ("stripe_airbyte", "subscriptions"): STRIPE_AIRBYTE_SUBSCRIPTIONS,
    ("stripe_airbyte", "users"): {
        "customers": ("id", "created", "address", "livemode", "updated", "is_deleted", "_airbyte_extracted_at")
    },
    ("stripe_fivetran", "subscriptions"): STRIPE_FIVETRAN_SUBSCRIPTIONS,
    ("stripe_fivetran", "users"): {"customer": ("id", "created", "address_country", "livemode")},
}


def connector_columns(warehouse: Warehouse, schema: str) -> dict[str, set[str]]:
    """The tables of a connector's schema (or database.schema) and their columns, in lower case. Snowflake keeps
    an information schema per database: another database's is named; DuckDB's one lists every attached one."""
    database, _, schema_name = schema.rpartition(".")
    catalog, params = "", [schema_name.lower()]
    view = "information_schema.columns"
    if database and warehouse.name == "snowflake":
        view = f"{database}.information_schema.columns"
    elif database:
        catalog, params = "and lower(table_catalog) = ?", [*params, database.lower()]
    rows = warehouse.query(
        "select lower(table_name) as table_name, lower(column_name) as column_name "
        f"from {view} where lower(table_schema) = ? {catalog}",
        params,
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    return found


def reads(adapter: str, table: str, options: Mapping[str, str] | None = None) -> Mapping[str, tuple[str, ...]]:
    """The connector tables and columns an adapter reads for raw.<table> (ad_reporting's depend on its channel)."""
    if adapter == "ad_reporting":
        return AD_REPORTS[(options or {}).get(AD_CHANNEL_VARIABLE, "platform")]
    return READS[(adapter, table)]


def schema_problem(
    found: Mapping[str, set[str]], adapter: str, table: str, schema: str, options: Mapping[str, str] | None = None
) -> str | None:
    """The first connector table or column the adapter needs for raw.<table> and does not find, in a sentence."""
    setting = f"{table_variable(table)}={adapter}, {schema_variable(adapter)}={schema}"
    for connector_table, columns in reads(adapter, table, options).items():
        if connector_table not in found and WITHOUT_HISTORY.get(connector_table) in found:
            connector_table = WITHOUT_HISTORY[connector_table]
            columns = tuple(c for c in columns if c not in HISTORY_MODE_COLUMNS)
        if connector_table not in found:
            return (
                f"{schema}.{connector_table} does not exist: the {adapter} adapter reads it for raw.{table} "
                f"({setting})."
            )
        missing = [c for c in columns if c not in found[connector_table]]
        if missing:
            return (
                f"{schema}.{connector_table} has no column {', '.join(missing)}: the {adapter} adapter reads it "
                f"for raw.{table} ({setting})."
            )
    return None


def stripe_subscriptions(schema: str, found: Mapping[str, set[str]]) -> str:
    """The current version of each Fivetran Stripe subscription, as a FROM item named `subscriptions`: from
    `subscription_history` (history mode: the active row) or, on an older connection, `subscription`."""
    if "subscription_history" in found:
        return f"(select * from {schema}.subscription_history where coalesce(_fivetran_active, true)) as subscriptions"
    return f"{schema}.subscription as subscriptions"
