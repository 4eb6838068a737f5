"""Stripe as Airbyte's source-stripe syncs it (Destinations V2), read by the stripe_airbyte adapter: the hand-worked
company of tests/test_stripe_fivetran.py in Airbyte's streams gives the same MRR, month by month and movement by
movement. Airbyte's own ways are cases too: epoch-second timestamps, nested objects as JSON (an item's and a line's
price, a line's period, a price's recurrence, a customer's address), every version of a record kept by append
syncs (the newest wins), and deleted records flagged `is_deleted` (a deleted customer with a deleted subscription
and a paid invoice adds nothing).
"""

import datetime as dt
import json

import duckdb
import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.settings import load_settings
from kpiwatch.sources_check import check_sources
from tests.conftest import execute_sql, fakesnow_warehouse, money, rows
from tests.test_stripe_fivetran import (
    AS_OF,
    CUSTOMERS,
    EXPECTED_MONTHLY,
    EXPECTED_MOVEMENTS,
    ITEMS,
    PERIOD_COLUMNS,
    PRICES,
    PRODUCTS,
    SUBSCRIPTIONS,
    TIERED,
    compiled_for_snowflake,
    create_contract_tables,
    lines,
    mrr_and_movements,
    signed_up,
    t,
)

pytestmark = pytest.mark.slow
ENV = {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_airbyte", "KPIWATCH_SOURCE_USERS": "stripe_airbyte"}
EXTRACTED = (
    "_airbyte_raw_id varchar, _airbyte_extracted_at timestamptz, _airbyte_meta json, _airbyte_generation_id bigint"
)
STREAMS = {
    "customers": "id varchar, email varchar, created bigint, address json, livemode boolean, updated bigint, "
    "is_deleted boolean",
    "products": "id varchar, name varchar, active boolean, updated bigint, is_deleted boolean",
    "prices": "id varchar, unit_amount bigint, currency varchar, type varchar, recurring json, billing_scheme varchar, "
    "product varchar, active boolean, updated bigint, is_deleted boolean",
    "subscriptions": "id varchar, customer varchar, status varchar, created bigint, start_date bigint, "
    "ended_at bigint, canceled_at bigint, cancel_at bigint, cancel_at_period_end boolean, current_period_start bigint, "
    "current_period_end bigint, trial_start bigint, trial_end bigint, livemode boolean, updated bigint, "
    "is_deleted boolean",
    "subscription_items": "id varchar, subscription varchar, price json, quantity bigint, created bigint, "
    "current_period_start bigint, current_period_end bigint",
    "invoices": "id varchar, customer varchar, subscription varchar, status varchar, created bigint, updated bigint, "
    "is_deleted boolean",
    "invoice_line_items": "id varchar, invoice_id varchar, subscription varchar, subscription_item varchar, "
    "price json, type varchar, proration boolean, quantity bigint, amount bigint, amount_excluding_tax bigint, "
    "unit_amount_excluding_tax varchar, currency varchar, period json, livemode boolean",
}


def epoch(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.replace(tzinfo=dt.UTC).timestamp())


def airbyte_rows() -> dict[str, list[tuple]]:
    """The Fivetran fixture's company in Airbyte's streams, plus a deleted customer and subscription."""
    new, old = epoch(t("2024-04-15 05:00:00")), epoch(t("2024-01-01"))
    customers = [
        (c, f"{c}@example.com", epoch(signed_up(c)), json.dumps({"country": "US"}), c != "cus_t", new, False)
        for c in CUSTOMERS
    ] + [("cus_x", "x@example.com", epoch(t("2023-12-01")), None, True, new, True)]
    prices = [
        (
            pid,
            amount,
            currency,
            kind,
            json.dumps({"interval": unit, "interval_count": count, "usage_type": usage})
            if kind == "recurring"
            else None,
            "tiered" if pid in TIERED else "per_unit",
            product,
            True,
            new,
            False,
        )
        for pid, amount, currency, kind, unit, count, usage, product in PRICES
    ]
    subscriptions = [
        (
            sub,
            customer,
            status,
            epoch(t("2023-12-15")),
            epoch(t("2024-01-01")),
            epoch(t(ended)) if ended else None,
            epoch(t(ended)) if ended else None,
            None,
            at_end,
            epoch(t(start)),
            epoch(t(end)),
            None,
            None,
            live,
            new if active else old,
            False,
        )
        for sub, customer, status, at_end, (start, end), ended, active, live in SUBSCRIPTIONS
    ] + [
        (
            "sub_x",
            "cus_x",
            "active",
            old,
            old,
            None,
            None,
            None,
            False,
            epoch(t("2024-04-01")),
            epoch(t("2024-05-01")),
            None,
            None,
            True,
            new,
            True,
        )
    ]
    items = [(item, sub, json.dumps({"id": price}), n, old, None, None) for item, sub, price, n in ITEMS]
    items.append(("si_x", "sub_x", json.dumps({"id": "p_basic"}), 1, old, None, None))
    customer_of = {s[0]: s[1] for s in SUBSCRIPTIONS} | {"sub_x": "cus_x"}
    live_of = {s[0]: s[7] for s in SUBSCRIPTIONS} | {"sub_x": True}
    billed = [
        *lines(),
        (
            "paid",
            "il_x",
            "sub_x",
            "si_x",
            "p_basic",
            "subscription",
            False,
            1,
            2000,
            None,
            ("2024-01-01", "2024-02-01"),
        ),
    ]
    invoices, line_items = [], []
    for status, line_id, sub, item, price, kind, proration, quantity, amount, tax, (start, end) in billed:
        currency = "jpy" if price == "p_yen" else "usd"
        invoices.append((f"in_{line_id}", customer_of[sub], sub, status, epoch(t(start)), new, sub == "sub_x"))
        period = json.dumps({"start": epoch(t(start)), "end": epoch(t(end))})
        line_items.append(
            (
                line_id,
                f"in_{line_id}",
                sub,
                item,
                json.dumps({"id": price}),
                kind,
                proration,
                quantity,
                amount,
                amount,
                tax,
                currency,
                period,
                live_of[sub],
            )
        )
    return {
        "customers": customers,
        "products": [(product, name, True, new, False) for product, name in PRODUCTS],
        "prices": prices,
        "subscriptions": subscriptions,
        "subscription_items": items,
        "invoices": invoices,
        "invoice_line_items": line_items,
    }


def write_airbyte_warehouse(path) -> None:
    con = duckdb.connect(str(path))
    try:
        create_contract_tables(con, ("events", "marketing_spend"))
        write_airbyte_streams(con.execute)
    finally:
        con.close()


def write_airbyte_streams(execute, snowflake: bool = False) -> None:
    """The streams in schema stripe, through `execute(sql, params)`: DuckDB's JSON columns, or Snowflake's VARIANT
    (filled through parse_json) with TIMESTAMP_TZ for Airbyte's extraction time."""
    execute("create schema if not exists stripe", [])
    for name, rows_ in airbyte_rows().items():
        columns = f"{STREAMS[name]}, {EXTRACTED}"
        if snowflake:
            columns = columns.replace(" json", " variant").replace(" timestamptz", " timestamp_tz")
        execute(f"create table stripe.{name} ({columns})", [])
        marks = ", ".join(
            "parse_json(?)" if snowflake and column.split()[1] == "variant" else "?" for column in columns.split(", ")
        )
        for number, row in enumerate(rows_):
            extracted = t("2024-04-15 06:00:00") + dt.timedelta(seconds=number)
            execute(f"insert into stripe.{name} select {marks}", [*row, f"raw-{name}-{number}", extracted, "{}", 1])


@pytest.fixture(scope="module")
def airbyte_run(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("airbyte")
    db = work / "company.duckdb"
    write_airbyte_warehouse(db)
    settings = job_settings(db, work / "home", env={**ENV, "KPIWATCH_SEEDS_DIR": str(jpy_seeds(work))})
    return settings, run_once(settings, AS_OF)


def test_the_same_company_in_airbytes_streams_gives_the_same_mrr(airbyte_run):
    settings, outcome = airbyte_run
    db = settings.duckdb_path
    assert outcome.success, (outcome.failures, outcome.failed_checks)
    assert mrr_and_movements(db) == (EXPECTED_MONTHLY, EXPECTED_MOVEMENTS)
    con = duckdb.connect(str(db), read_only=True)
    try:
        users = {u for (u,) in con.execute("select user_id from raw.users").fetchall()}
        periods = con.execute("select count(*) from raw.subscriptions").fetchone()[0]
    finally:
        con.close()
    assert users == set(CUSTOMERS) - {"cus_t"} and periods == 44  # as through Fivetran's schema


def test_the_snowflake_sql_of_the_adapter_gives_the_same_periods_on_fakesnow(airbyte_run, tmp_path):
    """The adapter compiled for Snowflake (offline), over the same streams with VARIANT objects (read with `:path`)
    and epoch seconds, run on fakesnow, equals what DuckDB built."""
    compiled = compiled_for_snowflake(ENV, ["stripe_airbyte__subscriptions", "stripe_airbyte__users"], tmp_path)
    with fakesnow_warehouse() as snowflake:
        write_airbyte_streams(snowflake.query, snowflake=True)
        periods = snowflake.query(
            f"select {PERIOD_COLUMNS} from ({compiled['stripe_airbyte__subscriptions']}) order by 1, 7"
        )
        users = snowflake.query(f"select user_id, created_at from ({compiled['stripe_airbyte__users']}) order by 1")
    db = airbyte_run[0].duckdb_path
    on_duckdb = rows(db, f"select {PERIOD_COLUMNS} from raw.subscriptions order by 1, 7")
    assert len(on_duckdb) == 44
    assert [{**r, "amount": money(r["amount"])} for r in periods] == [
        {**r, "amount": money(r["amount"])} for r in on_duckdb
    ]
    assert users == rows(db, "select user_id, created_at from raw.users order by 1")


def jpy_seeds(tmp_path):
    from kpiwatch.paths import DBT_PROJECT_DIR

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feature_map.csv").write_text((DBT_PROJECT_DIR / "seeds" / "feature_map.csv").read_text())
    fx = (DBT_PROJECT_DIR / "seeds" / "fx_rates.csv").read_text().rstrip("\n") + "\nJPY,0.00700000\n"
    (seeds / "fx_rates.csv").write_text(fx)
    return seeds


def test_sources_check_reads_airbytes_current_records(tmp_path):
    db = tmp_path / "company.duckdb"
    write_airbyte_warehouse(db)
    settings = load_settings({"KPIWATCH_DUCKDB_PATH": str(db), "KPIWATCH_SEEDS_DIR": str(jpy_seeds(tmp_path)), **ENV})
    reports = {r.table: r for r in check_sources(settings)}
    # 18 subscriptions have a live, undeleted current version (of 20: sub_t is test mode, sub_x deleted; sub_a's
    # old version is not counted twice); 18 live customers (cus_t test mode, cus_x deleted).
    assert (reports["subscriptions"].adapter, reports["subscriptions"].rows) == ("stripe_airbyte", 18)
    assert reports["users"].rows == 18
    # What the adapter skips, as for Fivetran's schema (a price counted once, however many versions Airbyte keeps).
    assert [p["text"] for p in reports["subscriptions"].problems] == [
        "1 test-mode subscription(s) (livemode = false).",
        "1 price(s) metered (usage is not recurring revenue).",
        "1 price(s) one-time (not recurring).",
        "1 price(s) billed daily (no agreed monthly value).",
        "1 price(s) $0 (free).",
    ]
    assert {p["severity"] for p in reports["subscriptions"].problems} == {"skipped"}
    # kpiwatch's own exchange rates have no JPY: the fixture's JPY price is an error, named with the seed file.
    own_rates = load_settings({"KPIWATCH_DUCKDB_PATH": str(db), **ENV})
    problems = {r.table: r for r in check_sources(own_rates)}["subscriptions"].problems
    assert [p for p in problems if p["severity"] == "error"] == [
        {
            "severity": "error",
            "text": f"1 price(s) in JPY, which has no rate in {own_rates.seeds_dir / 'fx_rates.csv'}: add one, or its "
            "MRR is withheld (currency_in_fx_rates).",
        }
    ]
    # cus_v's tiered price has no unit amount: its current period's MRR waits for the period's invoice line.
    execute_sql(
        db,
        "delete from stripe.invoice_line_items where subscription_item = 'si_v' "
        "and cast(json_extract_string(period, '$.start') as bigint) >= 1711929600",  # 2024-04-01 UTC
    )
    problems = {r.table: r for r in check_sources(settings)}["subscriptions"].problems
    assert problems[-1] == {
        "severity": "skipped",
        "text": "1 item(s) on a tiered price (no unit amount) in a current period whose invoice is not synced yet: "
        "no MRR until it is.",
    }
    execute_sql(db, "update stripe.prices set recurring = '{\"interval\": \"fortnight\"}' where id = 'p_week'")
    problems = {r.table: r for r in check_sources(settings)}["subscriptions"].problems
    (problem,) = [p for p in problems if p["severity"] == "error"]
    assert problem == {
        "severity": "error",
        "text": "1 price(s) billed every 'fortnight', an interval kpiwatch does not know.",
    }
