"""`kpiwatch sources check`: what each contract table will be read from, before any run: the adapter, how many
rows and which dates it holds, and every problem (a missing connector table or column, a status kpiwatch does
not map, a currency without an exchange rate), plus what the adapter leaves out on purpose, with counts and why.
Read-only; all counting happens in the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES
from kpiwatch.quality.config import fx_currencies
from kpiwatch.settings import Settings
from kpiwatch.source_adapters import connector_columns, reads, schema_problem, stripe_subscriptions
from kpiwatch.source_settings import CONTRACT
from kpiwatch.warehouse import Warehouse, open_warehouse

ERROR, SKIPPED = "error", "skipped"
# Stripe's subscription statuses, each with what kpiwatch does with it (docs/metrics.md, "MRR from Stripe").
TIERED_WAITING = (
    "{n} item(s) on a tiered price (no unit amount) in a current period whose invoice is not synced yet: no MRR "
    "until it is."
)
# The invoices whose lines are billed periods: the dbt macro stripe_issued_invoice (macros/stripe_periods.sql).
STRIPE_ISSUED_STATUSES = ("open", "paid", "uncollectible")
STRIPE_STATUSES = ("active", "past_due", "trialing", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused")
# Why a price is not recurring revenue, as SQL over a price's unit amount, type, interval and usage type (each
# connector names them its own way: FIVETRAN_PRICE_COLUMNS, Airbyte's in `_airbyte`) and what to say.
STRIPE_SKIPPED_PRICES = (
    ("coalesce(lower({usage}), 'licensed') = 'metered'", "metered (usage is not recurring revenue)"),
    ("{type} = 'one_time'", "one-time (not recurring)"),
    ("lower({interval}) = 'day'", "billed daily (no agreed monthly value)"),
    ("{amount} = 0", "$0 (free)"),
)
FIVETRAN_PRICE_COLUMNS = {
    "usage": "price.recurring_usage_type",
    "type": "price.type",
    "interval": "price.recurring_interval",
    "amount": "price.unit_amount",
}


# An event tracker's events, as SQL over its own tables: where they are, their message id, user, anonymous id,
# receipt and event times, and the identities that tie an anonymous id to a user (kpiwatch/tracker_landing.py).
TRACKS = {
    "events": "{schema}.tracks as tracked",
    "id": "id",
    "user": "user_id",
    "anonymous": "anonymous_id",
    "received": "received_at",
    "time": "tracked.timestamp",
    "identities": "select anonymous_id, user_id, received_at from {schema}.identifies where user_id is not null",
}
TRACKER_COLUMNS = {
    "segment": TRACKS,
    "rudderstack": TRACKS,
    "snowplow": {
        "events": "{schema}.events as tracked",
        "id": "event_id",
        "user": "user_id",
        "anonymous": "domain_userid",
        "received": "collector_tstamp",
        "time": "coalesce(derived_tstamp, collector_tstamp)",
        "identities": "select domain_userid as anonymous_id, user_id, collector_tstamp as received_at "
        "from {schema}.events where user_id is not null and domain_userid is not null",
    },
}


@dataclass
class TableReport:
    table: str
    adapter: str
    reads: str
    rows: int | None = None
    first: str | None = None
    last: str | None = None
    problems: list[dict[str, str]] = field(default_factory=list)  # {"severity": error|skipped, "text": ...}

    def add(self, severity: str, text: str) -> None:
        self.problems.append({"severity": severity, "text": text})


def check_sources(settings: Settings) -> list[TableReport]:
    warehouse = open_warehouse(settings)
    reports = []
    for table in RAW_TABLES:
        adapter = settings.sources.adapters.get(table.name, CONTRACT)
        if adapter == CONTRACT:
            reports.append(_contract(warehouse, table.name, table.freshness_column))
        else:
            reports.append(_adapted(warehouse, settings, table.name, adapter))
    return reports


def _contract(warehouse: Warehouse, table: str, time_column: str) -> TableReport:
    report = TableReport(table, CONTRACT, f"{RAW_SCHEMA}.{table}")
    kinds = warehouse.query(
        "select table_type from information_schema.tables where lower(table_schema) = ? and lower(table_name) = ?",
        [RAW_SCHEMA, table],
    )
    if not kinds:
        report.add(ERROR, f"{RAW_SCHEMA}.{table} does not exist: load it (docs/data-contract.md) or choose an adapter.")
        return report
    _count(
        warehouse,
        report,
        f"select count(*) as n, min({time_column}) as first, max({time_column}) as last from {RAW_SCHEMA}.{table}",
    )
    return report


def _adapted(warehouse: Warehouse, settings: Settings, table: str, adapter: str) -> TableReport:
    schema = settings.sources.schemas[adapter]
    report = TableReport(table, adapter, schema)
    found = connector_columns(warehouse, schema)
    if problem := schema_problem(found, adapter, table, schema, settings.sources.options):
        report.add(ERROR, problem)
        return report
    if adapter == "ad_reporting":
        (report_table,) = reads(adapter, table, settings.sources.options)
        _count(
            warehouse,
            report,
            f"select count(*) as n, min(date_day) as first, max(date_day) as last from {schema}.{report_table}",
        )
        return report
    if adapter == "stripe_airbyte":
        _airbyte(warehouse, settings, report, table, schema)
        return report
    if adapter in TRACKER_COLUMNS and table == "users":
        _count(
            warehouse,
            report,
            "select count(*) as n, min(signed_up) as first, max(signed_up) as last from (select user_id, "
            f"min(identified.timestamp) as signed_up from {schema}.identifies as identified "
            "where user_id is not null group by user_id) as signups",
        )
        return report
    if adapter in TRACKER_COLUMNS:
        _tracker(warehouse, report, adapter, schema)
        return report
    if table == "users":
        _count(
            warehouse,
            report,
            f"select count(*) as n, min(created) as first, max(created) as last from {schema}.customer where livemode",
        )
        return report
    _count(
        warehouse,
        report,
        f"select (select count(*) from {stripe_subscriptions(schema, found)} where livemode) "
        f"as n, min(period_start) as first, max(period_start) as last from {schema}.invoice_line_item "
        "where livemode and type = 'subscription'",
    )
    _stripe_problems(warehouse, settings, report, schema, found)
    return report


def _stripe_problems(
    warehouse: Warehouse, settings: Settings, report: TableReport, schema: str, found: Mapping[str, set[str]]
) -> None:
    for problem in stripe_mapping_errors(warehouse, schema, found):
        report.add(ERROR, problem)
    test_mode = warehouse.query(
        f"select count(*) as n from {stripe_subscriptions(schema, found)} where not coalesce(livemode, false)"
    )[0]["n"]
    if test_mode:
        report.add(SKIPPED, f"{test_mode} test-mode subscription(s) (livemode = false).")
    used = _used(schema)
    _skipped_prices(warehouse, report, f"{schema}.price as price where {used}", FIVETRAN_PRICE_COLUMNS)
    if waiting := _tiered_items_without_invoice(warehouse, schema, found):
        report.add(SKIPPED, TIERED_WAITING.format(n=waiting))
    _currencies_without_rate(warehouse, settings, report, f"{schema}.price as price where {used}")


def _currencies_without_rate(warehouse: Warehouse, settings: Settings, report: TableReport, prices: str) -> None:
    """Recurring prices in a currency the exchange rates lack (`prices` as for _skipped_prices): an error,
    because the run withholds MRR rather than convert it wrongly."""
    rates = set(fx_currencies(settings.seeds_dir / "fx_rates.csv"))
    currencies = warehouse.query(
        f"select upper(price.currency) as currency, count(distinct price.id) as n from {prices} "
        "and price.type = 'recurring' group by 1 order by 1"
    )
    for row in currencies:
        if row["currency"] not in rates:
            report.add(
                ERROR,
                f"{row['n']} price(s) in {row['currency']}, which has no rate in "
                f"{settings.seeds_dir / 'fx_rates.csv'}: add one, or its MRR is withheld (currency_in_fx_rates).",
            )


def _skipped_prices(warehouse: Warehouse, report: TableReport, prices: str, columns: Mapping[str, str]) -> None:
    """The prices that are not recurring revenue, counted by reason in one query over `prices` (a FROM clause
    naming each price `price`, with its filter); a price counts once however many versions a connector keeps."""
    counts = ", ".join(
        f"count(distinct case when {condition.format(**columns)} then price.id end) as n{i}"
        for i, (condition, _) in enumerate(STRIPE_SKIPPED_PRICES)
    )
    skipped = warehouse.query(f"select {counts} from {prices}")[0]
    for i, (_, why) in enumerate(STRIPE_SKIPPED_PRICES):
        if n := skipped[f"n{i}"]:
            report.add(SKIPPED, f"{n} price(s) {why}.")


def _tiered_items_without_invoice(warehouse: Warehouse, schema: str, found: Mapping[str, set[str]]) -> int:
    """Items of active and past_due subscriptions on a price without a unit amount whose current period has no
    issued invoice line yet: the adapter takes their current period's amount from that line (docs/sources.md)."""
    item_start = "items.current_period_start" if "current_period_start" in found["subscription_item"] else "null"
    return warehouse.query(
        f"select count(*) as n from {stripe_subscriptions(schema, found)} "
        f"join {schema}.subscription_item as items on items.subscription_id = subscriptions.id "
        f"join {schema}.price as price on price.id = items.plan_id "
        "where subscriptions.livemode and lower(subscriptions.status) in ('active', 'past_due') "
        "and price.unit_amount is null and price.type = 'recurring' "
        "and coalesce(lower(price.recurring_usage_type), 'licensed') = 'licensed' "
        f"and not exists (select 1 from {schema}.invoice_line_item as lines "
        f"join {schema}.invoice as invoices on invoices.id = lines.invoice_id "
        "where lines.subscription_item_id = items.id and lines.type = 'subscription' "
        "and not coalesce(lines.proration, false) "
        f"and lower(invoices.status) in ({', '.join(repr(s) for s in STRIPE_ISSUED_STATUSES)}) "
        f"and lines.period_start = coalesce({item_start}, subscriptions.current_period_start))"
    )[0]["n"]


def mapping_errors(
    warehouse: Warehouse, adapter: str, table: str, schema: str, found: Mapping[str, set[str]]
) -> list[str]:
    """What an adapter has no rule for in the connector's data (a run stops on these rather than guess); `found`
    is the connector schema's tables and columns."""
    if (adapter, table) == ("stripe_fivetran", "subscriptions"):
        return stripe_mapping_errors(warehouse, schema, found)
    if (adapter, table) == ("stripe_airbyte", "subscriptions"):
        return airbyte_mapping_errors(warehouse, schema)
    return []


def stripe_mapping_errors(warehouse: Warehouse, schema: str, found: Mapping[str, set[str]]) -> list[str]:
    """Subscriptions and prices kpiwatch cannot read for lack of a rule: a status or an interval it does not know.
    A run stops on them (orchestration/source_views.py) rather than guess."""
    known = ", ".join(f"'{status}'" for status in STRIPE_STATUSES)
    statuses = warehouse.query(
        f"select lower(status) as status, count(*) as n from {stripe_subscriptions(schema, found)} "
        f"where livemode and lower(status) not in ({known}) group by 1 order by 1"
    )
    intervals = warehouse.query(
        f"select lower(recurring_interval) as unit, count(*) as n from {schema}.price as price where {_used(schema)} "
        "and type = 'recurring' and lower(recurring_interval) not in ('day', 'week', 'month', 'year') group by 1"
    )
    return [
        *(f"{r['n']} subscription(s) with status {r['status']!r}, which kpiwatch does not map." for r in statuses),
        *(f"{r['n']} price(s) billed every {r['unit']!r}, an interval kpiwatch does not know." for r in intervals),
    ]


def _airbyte(warehouse: Warehouse, settings: Settings, report: TableReport, table: str, schema: str) -> None:
    """Airbyte's streams: the current version of each record (append syncs keep them all), deleted ones left out."""
    stream = "customers" if table == "users" else "subscriptions"
    day = _epoch(warehouse, "created" if table == "users" else "current_period_start")
    current = _airbyte_current(schema, stream)
    live = "livemode and not coalesce(is_deleted, false)"
    (row,) = warehouse.query(
        f"select count(case when {live} then 1 end) as n, min(case when {live} then {day} end) as first, "
        f"max(case when {live} then {day} end) as last, count(case when not coalesce(livemode, false) and not "
        f"coalesce(is_deleted, false) then 1 end) as test_mode from ({current}) as current"
    )
    _fill(report, row)
    if table != "subscriptions":
        return
    for problem in airbyte_mapping_errors(warehouse, schema):
        report.add(ERROR, problem)
    if test_mode := row["test_mode"]:
        report.add(SKIPPED, f"{test_mode} test-mode subscription(s) (livemode = false).")
    price_id = _json(warehouse, "price", "id")
    used = (
        f"price.id in (select {price_id} from {schema}.subscription_items union "
        f"select {price_id} from {schema}.invoice_line_items where livemode)"
    )
    columns = {
        "usage": _json(warehouse, "price.recurring", "usage_type"),
        "type": "price.type",
        "interval": _json(warehouse, "price.recurring", "interval"),
        "amount": "price.unit_amount",
    }
    _skipped_prices(warehouse, report, f"{schema}.prices as price where {used}", columns)
    _currencies_without_rate(warehouse, settings, report, f"{schema}.prices as price where {used}")
    if waiting := _airbyte_tiered_items_without_invoice(warehouse, schema):
        report.add(SKIPPED, TIERED_WAITING.format(n=waiting))


def _airbyte_current(schema: str, stream: str, updated: bool = True) -> str:
    """Each record's current version in an Airbyte stream (append syncs keep them all; macro airbyte_current)."""
    order = "updated desc nulls last, _airbyte_extracted_at desc" if updated else "_airbyte_extracted_at desc"
    return f"select * from {schema}.{stream} qualify row_number() over (partition by id order by {order}) = 1"


def _airbyte_tiered_items_without_invoice(warehouse: Warehouse, schema: str) -> int:
    """_tiered_items_without_invoice over Airbyte's streams (objects as JSON, times as epoch seconds)."""
    item_price = _json(warehouse, "items.price", "id")
    usage = _json(warehouse, "prices.recurring", "usage_type")
    item_start, started = _epoch(warehouse, "items.current_period_start"), "subscriptions.current_period_start"
    current_start = f"coalesce({item_start}, {_epoch(warehouse, started)})"
    line_start = _epoch(warehouse, _json(warehouse, "lines.period", "start"))
    return warehouse.query(
        f"select count(*) as n from ({_airbyte_current(schema, 'subscriptions')}) as subscriptions "
        f"join ({_airbyte_current(schema, 'subscription_items', updated=False)}) as items "
        "on items.subscription = subscriptions.id "
        f"join ({_airbyte_current(schema, 'prices')}) as prices on prices.id = {item_price} "
        "where subscriptions.livemode and not coalesce(subscriptions.is_deleted, false) "
        "and lower(subscriptions.status) in ('active', 'past_due') "
        "and prices.unit_amount is null and prices.type = 'recurring' "
        f"and coalesce(lower({usage}), 'licensed') = 'licensed' "
        f"and not exists (select 1 from ({_airbyte_current(schema, 'invoice_line_items', updated=False)}) as lines "
        f"join ({_airbyte_current(schema, 'invoices')}) as invoices on invoices.id = lines.invoice_id "
        "where lines.subscription_item = items.id and lines.type = 'subscription' "
        "and not coalesce(lines.proration, false) and not coalesce(invoices.is_deleted, false) "
        f"and lower(invoices.status) in ({', '.join(repr(s) for s in STRIPE_ISSUED_STATUSES)}) "
        f"and {line_start} = {current_start})"
    )[0]["n"]


def airbyte_mapping_errors(warehouse: Warehouse, schema: str) -> list[str]:
    """stripe_mapping_errors for Airbyte's streams (a price's interval is inside its `recurring` object)."""
    known = ", ".join(f"'{status}'" for status in STRIPE_STATUSES)
    interval = _json(warehouse, "recurring", "interval")
    statuses = warehouse.query(
        f"select lower(status) as status, count(distinct id) as n from {schema}.subscriptions "
        f"where livemode and lower(status) not in ({known}) group by 1 order by 1"
    )
    intervals = warehouse.query(
        f"select lower({interval}) as unit, count(distinct id) as n from {schema}.prices where type = 'recurring' "
        f"and lower({interval}) not in ('day', 'week', 'month', 'year') group by 1"
    )
    return [
        *(f"{r['n']} subscription(s) with status {r['status']!r}, which kpiwatch does not map." for r in statuses),
        *(f"{r['n']} price(s) billed every {r['unit']!r}, an interval kpiwatch does not know." for r in intervals),
    ]


def _tracker(warehouse: Warehouse, report: TableReport, adapter: str, schema: str) -> None:
    """An event tracker's events: what landing leaves out (copies of a message, anonymous events nobody had been
    identified as by receipt) and what it cannot land right (events without a message id)."""
    c = {key: sql.format(schema=schema) for key, sql in TRACKER_COLUMNS[adapter].items()}
    row = warehouse.query(
        f"select count(*) as n, count(distinct {c['id']}) as ids, count(*) - count({c['id']}) as without_id, "
        f"min({c['time']}) as first, max({c['time']}) as last from {c['events']}"
    )[0]
    _fill(report, row)
    if row["without_id"]:
        report.add(
            ERROR, f"{row['without_id']} event(s) without a message id ({c['id']}): they cannot be deduplicated."
        )
    if copies := int(row["n"]) - int(row["without_id"]) - int(row["ids"]):
        report.add(SKIPPED, f"{copies} extra cop(ies) of a message id (the first received is kept).")
    anonymous = warehouse.query(
        f"select count(*) as n from {c['events']} where {c['user']} is null and not exists (select 1 from "
        f"({c['identities']}) as identities where identities.anonymous_id = tracked.{c['anonymous']} "
        f"and identities.received_at <= tracked.{c['received']})"
    )[0]["n"]
    if anonymous:
        report.add(
            SKIPPED,
            f"{anonymous} anonymous event(s) whose anonymous id nobody had been identified as when received "
            "(no user to count).",
        )


def _json(warehouse: Warehouse, column: str, field: str) -> str:
    if warehouse.name == "snowflake":
        return f"cast({column}:{field} as varchar)"
    return f"json_extract_string({column}, '$.{field}')"


def _epoch(warehouse: Warehouse, column: str) -> str:
    if warehouse.name == "snowflake":
        return f"dateadd(second, cast({column} as bigint), cast('1970-01-01' as timestamp_ntz))"
    return f"make_timestamp(cast({column} as bigint) * 1000000)"


def _used(schema: str) -> str:
    """Prices some subscription item or billed line uses (others never reach MRR)."""
    return (
        f"price.id in (select plan_id from {schema}.subscription_item union select coalesce(price_id, plan_id) "
        f"from {schema}.invoice_line_item where livemode)"
    )


def _count(warehouse: Warehouse, report: TableReport, sql: str) -> None:
    _fill(report, warehouse.query(sql)[0])


def _fill(report: TableReport, row: dict) -> None:
    """Rows and date range from a row of n, first and last."""
    report.rows = int(row["n"])
    report.first = None if row["first"] is None else str(row["first"])[:10]
    report.last = None if row["last"] is None else str(row["last"])[:10]


def has_errors(reports: list[TableReport]) -> bool:
    return any(p["severity"] == ERROR for r in reports for p in r.problems)


def as_json(reports: list[TableReport]) -> str:
    return json.dumps([asdict(r) for r in reports], indent=2)


def as_table(reports: list[TableReport]) -> str:
    lines = []
    for r in reports:
        dates = f"{r.first} .. {r.last}" if r.first else "no dates"
        rows = "not read" if r.rows is None else f"{r.rows:,} rows, {dates}"
        source = r.reads if r.adapter == CONTRACT else f"{r.adapter} from {r.reads}"
        lines.append(f"raw.{r.table:<16} {source}: {rows}")
        lines += [f"  {p['severity']}: {p['text']}" for p in r.problems]
    return "\n".join(lines)
