"""Where each contract table comes from: kpiwatch's own raw.* table ("contract"), or an adapter that reads a
connector's schema (Fivetran's Stripe, ...) and presents it as that table (dbt_project/models/sources/).

KPIWATCH_SOURCE_<TABLE> names the adapter, KPIWATCH_SOURCE_<ADAPTER>_SCHEMA the schema (or database.schema) the
adapter reads; kpiwatch.yml's `sources:` section sets the same values. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kpiwatch.errors import ConfigError

CONTRACT = "contract"
# Each adapter, the contract tables it can stand for, and the schema it reads by default (the connector's own).
ADAPTER_TABLES: dict[str, tuple[str, ...]] = {
    "stripe_fivetran": ("subscriptions", "users"),
    "stripe_airbyte": ("subscriptions", "users"),
    "ad_reporting": ("marketing_spend",),
    "segment": ("events", "users"),
    "rudderstack": ("events", "users"),
    "snowplow": ("events",),
}
DEFAULT_SCHEMAS = {
    "stripe_fivetran": "stripe",
    "stripe_airbyte": "stripe",
    "ad_reporting": "ad_reporting",
    "segment": "segment",
    "rudderstack": "rudderstack",
    "snowplow": "atomic",
}
# The event trackers: their events are landed incrementally into a table kpiwatch keeps (kpiwatch/tracker_landing.py).
EVENT_TRACKERS = ("segment", "rudderstack", "snowplow")
# Fivetran's ad_reporting: which of its columns is the contract's channel, and the currency of an ad account no
# platform account report names (docs/sources.md).
AD_CHANNEL_VARIABLE = "KPIWATCH_SOURCE_AD_REPORTING_CHANNEL"
AD_CHANNELS = {"platform": "ad_reporting__account_report", "campaign": "ad_reporting__campaign_report"}
AD_CURRENCY_VARIABLE = "KPIWATCH_SOURCE_AD_REPORTING_CURRENCY"
CURRENCY = re.compile(r"[A-Z]{3}")
SOURCE_TABLES = ("users", "subscriptions", "events", "marketing_spend")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def table_variable(table: str) -> str:
    return f"KPIWATCH_SOURCE_{table.upper()}"


def schema_variable(adapter: str) -> str:
    return f"KPIWATCH_SOURCE_{adapter.upper()}_SCHEMA"


SOURCE_VARIABLES = {
    **{
        table_variable(table): f"where raw.{table} comes from: contract (the table itself, default) or an adapter "
        f"({', '.join(a for a, tables in ADAPTER_TABLES.items() if table in tables) or 'none yet'})"
        for table in SOURCE_TABLES
    },
    **{
        schema_variable(adapter): f"schema (or database.schema) the {adapter} adapter reads (default: {schema})"
        for adapter, schema in DEFAULT_SCHEMAS.items()
    },
    AD_CHANNEL_VARIABLE: "the marketing_spend channel from ad_reporting: platform (google_ads, ..., default) or "
    "campaign (its campaign name)",
    AD_CURRENCY_VARIABLE: "currency of ad accounts no platform account report names (default: USD)",
}


@dataclass(frozen=True)
class Sources:
    """The adapter of each contract table that does not come from raw.* itself, and the schema each reads."""

    adapters: Mapping[str, str]  # table -> adapter; tables absent here are the contract's own
    schemas: Mapping[str, str]  # adapter -> schema or database.schema
    options: Mapping[str, str] = field(default_factory=dict)  # adapter settings (AD_CHANNEL_VARIABLE, ...)

    @property
    def adapted(self) -> bool:
        return bool(self.adapters)

    def environment(self) -> dict[str, str]:
        """What the adapters' dbt models read: which are enabled, and the schemas they read (models/sources/)."""
        return {
            **{table_variable(table): adapter for table, adapter in self.adapters.items()},
            **{schema_variable(adapter): schema for adapter, schema in self.schemas.items()},
            **self.options,
        }


NO_ADAPTERS = Sources({}, {})


def sources_from_env(env: Mapping[str, str]) -> Sources:
    """The configured adapters; one sentence naming the setting when a value is not one kpiwatch knows."""
    adapters = {}
    for table in SOURCE_TABLES:
        name = table_variable(table)
        value = (env.get(name) or CONTRACT).strip().lower()
        if value == CONTRACT:
            continue
        if value not in ADAPTER_TABLES:
            known = ", ".join([CONTRACT, *ADAPTER_TABLES])
            raise ConfigError(f"{name}={env[name]!r} is not a known source; use one of: {known}.")
        if table not in ADAPTER_TABLES[value]:
            raise ConfigError(
                f"{name}={value}: the {value} adapter does not provide raw.{table} "
                f"(it provides {', '.join(ADAPTER_TABLES[value])})."
            )
        adapters[table] = value
    schemas = {}
    for adapter in sorted(set(adapters.values())):
        name = schema_variable(adapter)
        value = (env.get(name) or DEFAULT_SCHEMAS[adapter]).strip()
        parts = value.split(".")
        if len(parts) > 2 or not all(IDENTIFIER.fullmatch(part) for part in parts):
            raise ConfigError(
                f"{name}={value!r} is not a schema name; use letters, digits and _ (e.g. stripe, or fivetran.stripe)."
            )
        schemas[adapter] = value
    options = {}
    if "ad_reporting" in schemas:
        channel = (env.get(AD_CHANNEL_VARIABLE) or "platform").strip().lower()
        if channel not in AD_CHANNELS:
            raise ConfigError(f"{AD_CHANNEL_VARIABLE}={env[AD_CHANNEL_VARIABLE]!r} must be platform or campaign.")
        currency = (env.get(AD_CURRENCY_VARIABLE) or "USD").strip().upper()
        if not CURRENCY.fullmatch(currency):
            raise ConfigError(
                f"{AD_CURRENCY_VARIABLE}={env[AD_CURRENCY_VARIABLE]!r} is not an ISO 4217 code (e.g. USD)."
            )
        options = {AD_CHANNEL_VARIABLE: channel, AD_CURRENCY_VARIABLE: currency}
    return Sources(adapters, schemas, options)
