"""Stripe as Fivetran syncs it, read by the stripe_fivetran adapter, on a hand-worked company (docs/metrics.md).

Tables and columns are those of Fivetran's Stripe connector (../shared/research/sources.md §1). Amounts are in
minor units; JPY has none. Evaluation date 2024-04-15: MRR at each month's end, April's as of the 15th (USD).

  cus_a  monthly 20, invoices Jan-Apr; a void invoice, a temporary line id and an old history row are ignored
                                                                            -> 20 20 20 20
  cus_b  two items from Feb: 5 × 20 and 2 × 10 (multi-item, quantity)       ->  0 120 120 120
  cus_c  every 3 months, 300                                                -> 100 100 100 100
  cus_d  weekly 12 from 03-25: 12 × 52 / 12                                 ->  0 0 52 52
  cus_e  trialing since 04-01 ($0 trial line)                               ->  0 0 0 0
  cus_f  trial in Feb, then monthly 20 from 03-01                           ->  0 0 20 20 (new in March)
  cus_g  past_due, monthly 20, April's invoice open                         -> 20 20 20 20
  cus_h  unpaid since its March period                                      -> 20 20 0 0 (churn in March)
  cus_i  cancelled at once on 02-15                                         -> 20 0 0 0 (churn in February)
  cus_j  cancel at period end (05-01)                                       -> 20 20 20 20
  cus_k  incomplete (first invoice open)                                    ->  0 0 0 0
  cus_l  yearly JPY 120,000 from 01-15: 10,000 yen × 0.007                  -> 70 70 70 70
  cus_m  a metered price, a $0 price and a one-time setup fee               ->  0 0 0 0
  cus_n  a daily price                                                      ->  0 0 0 0
  cus_o  1 × 20, upgraded to 3 on 02-10 (proration lines ignored; the new
         quantity counts from the next period, as Stripe bills it)          -> 20 20 60 60 (expansion +40)
  cus_p  tax-inclusive 20 (18 before tax), cancelled at its period end 03-01 -> 18 18 0 0
  cus_v  a tiered price (no unit amount): 10 seats invoiced 45 a month; the
         current period counts what its invoice says                        -> 45 45 45 45
  cus_w  tax-inclusive 20 (18 before tax), active: the current period is
         its invoice's 18 too, so April is not restated when it closes      -> 18 18 18 18
  cus_t  test mode (livemode false)                                         -> none

Monthly: Jan 371 (11 payers), Feb 471 (11), Mar 545 (11), Apr 545 (11).
February: new 120 (cus_b), churn -20 (cus_i). March: new 72 (cus_d 52, cus_f 20), expansion 40 (cus_o),
churn -38 (cus_h 20, cus_p 18).
"""

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from unittest.mock import patch

import duckdb
import pytest

from kpiwatch.contract import raw_table_ddl
from kpiwatch.errors import KpiwatchError
from kpiwatch.hosting.launch import run_once
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.source_adapters import connector_columns, schema_problem
from kpiwatch.sources_check import STRIPE_ISSUED_STATUSES, check_sources
from orchestration.source_views import prepare_source_views
from tests.conftest import (
    compiled_for_snowflake,
    copy_run_state,
    execute_sql,
    fakesnow_warehouse,
    money,
    query_one,
    rows,
)

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 4, 15)
PERIOD_COLUMNS = "subscription_id, user_id, plan, billing_interval, amount, currency, started_at, ended_at"
STRIPE_ENV = {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_fivetran", "KPIWATCH_SOURCE_USERS": "stripe_fivetran"}


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text if " " in text else f"{text} 00:00:00")


# Fivetran's column names (a subset of what the connector syncs: every column the adapter reads, and some it
# does not, as in a real schema).
TABLES = {
    "customer": "id varchar, email varchar, created timestamp, currency varchar, address_country varchar, "
    "livemode boolean, is_deleted boolean, _fivetran_synced timestamp",
    "product": "id varchar, name varchar, active boolean, is_deleted boolean, _fivetran_synced timestamp",
    "price": "id varchar, unit_amount bigint, currency varchar, type varchar, recurring_interval varchar, "
    "recurring_interval_count bigint, recurring_usage_type varchar, billing_scheme varchar, product_id varchar, "
    "active boolean, is_deleted boolean, livemode boolean, _fivetran_synced timestamp",
    "subscription_history": "id varchar, customer_id varchar, status varchar, created timestamp, start_date "
    "timestamp, ended_at timestamp, canceled_at timestamp, cancel_at timestamp, cancel_at_period_end boolean, "
    "current_period_start timestamp, current_period_end timestamp, trial_start timestamp, trial_end timestamp, "
    "livemode boolean, _fivetran_active boolean, _fivetran_start timestamp, _fivetran_end timestamp, "
    "_fivetran_synced timestamp",
    "subscription_item": "id varchar, subscription_id varchar, plan_id varchar, quantity bigint, created timestamp, "
    "_fivetran_synced timestamp",
    "invoice": "id varchar, customer_id varchar, subscription_id varchar, status varchar, billing_reason varchar, "
    "created timestamp, currency varchar, livemode boolean, _fivetran_synced timestamp",
    "invoice_line_item": "id varchar, invoice_id varchar, subscription_id varchar, subscription_item_id varchar, "
    "invoice_item_id varchar, price_id varchar, plan_id varchar, type varchar, proration boolean, quantity bigint, "
    "amount bigint, unit_amount_excluding_tax varchar, currency varchar, discountable boolean, period_start "
    "timestamp, period_end timestamp, livemode boolean, _fivetran_synced timestamp",
}

# price: id, unit_amount, currency, type, interval, interval_count, usage_type, product
PRICES = [
    ("p_basic", 2000, "usd", "recurring", "month", 1, "licensed", "prod_basic"),
    ("p_addon", 1000, "usd", "recurring", "month", 1, "licensed", "prod_addon"),
    ("p_quarter", 30000, "usd", "recurring", "month", 3, "licensed", "prod_basic"),
    ("p_week", 1200, "usd", "recurring", "week", 1, "licensed", "prod_lite"),
    ("p_yen", 120000, "jpy", "recurring", "year", 1, "licensed", "prod_basic"),
    ("p_metered", None, "usd", "recurring", "month", 1, "metered", "prod_api"),
    ("p_free", 0, "usd", "recurring", "month", 1, "licensed", "prod_free"),
    ("p_setup", 5000, "usd", "one_time", None, None, None, "prod_setup"),
    ("p_daily", 100, "usd", "recurring", "day", 1, "licensed", "prod_lite"),
    ("p_incl", 2000, "usd", "recurring", "month", 1, "licensed", "prod_basic"),
    ("p_tiered", None, "usd", "recurring", "month", 1, "licensed", "prod_seats"),
]
TIERED = {"p_tiered"}  # billing_scheme tiered (the rest per_unit)
PRODUCTS = [("prod_basic", "Basic"), ("prod_addon", "Add-on"), ("prod_lite", "Lite"), ("prod_api", "API")]
PRODUCTS += [("prod_free", "Free"), ("prod_setup", "Setup"), ("prod_seats", "Seats")]

# subscription_history: id, customer, status, cancel_at_period_end, current period, ended_at, active, livemode
SUBSCRIPTIONS = [
    ("sub_a", "cus_a", "trialing", False, ("2023-12-20", "2024-01-01"), None, False, True),  # an old version
    ("sub_a", "cus_a", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_b", "cus_b", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_c", "cus_c", "active", False, ("2024-04-01", "2024-07-01"), None, True, True),
    ("sub_d", "cus_d", "active", False, ("2024-04-08", "2024-04-15"), None, True, True),
    ("sub_e", "cus_e", "trialing", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_f", "cus_f", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_g", "cus_g", "past_due", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_h", "cus_h", "unpaid", False, ("2024-03-01", "2024-04-01"), None, True, True),
    ("sub_i", "cus_i", "canceled", False, ("2024-02-01", "2024-03-01"), "2024-02-15 10:00:00", True, True),
    ("sub_j", "cus_j", "active", True, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_k", "cus_k", "incomplete", False, ("2024-04-10", "2024-05-10"), None, True, True),
    ("sub_l", "cus_l", "active", False, ("2024-01-15", "2025-01-15"), None, True, True),
    ("sub_m", "cus_m", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_n", "cus_n", "active", False, ("2024-04-14", "2024-04-15"), None, True, True),
    ("sub_o", "cus_o", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_p", "cus_p", "canceled", False, ("2024-02-01", "2024-03-01"), "2024-03-01", True, True),
    ("sub_t", "cus_t", "active", False, ("2024-04-01", "2024-05-01"), None, True, False),
    ("sub_v", "cus_v", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
    ("sub_w", "cus_w", "active", False, ("2024-04-01", "2024-05-01"), None, True, True),
]
# subscription_item: id, subscription, price, quantity (the items as they are now)
ITEMS = [
    ("si_a", "sub_a", "p_basic", 1),
    ("si_b1", "sub_b", "p_basic", 5),
    ("si_b2", "sub_b", "p_addon", 2),
    ("si_c", "sub_c", "p_quarter", 1),
    ("si_d", "sub_d", "p_week", 1),
    ("si_e", "sub_e", "p_basic", 1),
    ("si_f", "sub_f", "p_basic", 1),
    ("si_g", "sub_g", "p_basic", 1),
    ("si_h", "sub_h", "p_basic", 1),
    ("si_i", "sub_i", "p_basic", 1),
    ("si_j", "sub_j", "p_basic", 1),
    ("si_k", "sub_k", "p_basic", 1),
    ("si_l", "sub_l", "p_yen", 1),
    ("si_m1", "sub_m", "p_metered", 1),
    ("si_m2", "sub_m", "p_free", 1),
    ("si_n", "sub_n", "p_daily", 1),
    ("si_o", "sub_o", "p_basic", 3),
    ("si_p", "sub_p", "p_incl", 1),
    ("si_t", "sub_t", "p_basic", 1),
    ("si_v", "sub_v", "p_tiered", 10),
    ("si_w", "sub_w", "p_incl", 1),
]
MONTHS = [("2024-01-01", "2024-02-01"), ("2024-02-01", "2024-03-01"), ("2024-03-01", "2024-04-01")]
MONTHS_TO_APRIL = [*MONTHS, ("2024-04-01", "2024-05-01")]


def lines():
    """(invoice status, line id, subscription, item, price, type, proration, quantity, amount, excl. tax, period)."""
    out = []

    def add(sub, item, price, quantity, amount, periods, status="paid", kind="subscription", proration=False, tax=None):
        for start, end in periods:
            out.append(
                (
                    status,
                    f"il_{item}_{start}_{len(out)}",
                    sub,
                    item,
                    price,
                    kind,
                    proration,
                    quantity,
                    amount,
                    tax,
                    (start, end),
                )
            )

    add("sub_a", "si_a", "p_basic", 1, 2000, MONTHS_TO_APRIL)
    add("sub_a", "si_a", "p_basic", 1, 99900, [MONTHS[1]], status="void")  # never billed
    out.append(("paid", "sub_tmp_a", "sub_a", "si_a", "p_basic", "subscription", False, 1, 2000, None, MONTHS[2]))
    add("sub_b", "si_b1", "p_basic", 5, 10000, MONTHS_TO_APRIL[1:])
    add("sub_b", "si_b2", "p_addon", 2, 2000, MONTHS_TO_APRIL[1:])
    add("sub_c", "si_c", "p_quarter", 1, 30000, [("2024-01-01", "2024-04-01"), ("2024-04-01", "2024-07-01")])
    add(
        "sub_d",
        "si_d",
        "p_week",
        1,
        1200,
        [("2024-03-25", "2024-04-01"), ("2024-04-01", "2024-04-08"), ("2024-04-08", "2024-04-15")],
    )
    add("sub_e", "si_e", "p_basic", 1, 0, [("2024-04-01", "2024-05-01")])
    add("sub_f", "si_f", "p_basic", 1, 0, [MONTHS[1]])
    add("sub_f", "si_f", "p_basic", 1, 2000, [MONTHS[2], MONTHS_TO_APRIL[3]])
    add("sub_g", "si_g", "p_basic", 1, 2000, MONTHS)
    add("sub_g", "si_g", "p_basic", 1, 2000, [MONTHS_TO_APRIL[3]], status="open")
    add("sub_h", "si_h", "p_basic", 1, 2000, MONTHS[:2])
    add("sub_h", "si_h", "p_basic", 1, 2000, [MONTHS[2]], status="uncollectible")
    add("sub_i", "si_i", "p_basic", 1, 2000, MONTHS[:2])
    add("sub_j", "si_j", "p_basic", 1, 2000, MONTHS_TO_APRIL)
    add("sub_k", "si_k", "p_basic", 1, 2000, [("2024-04-10", "2024-05-10")], status="open")
    add("sub_l", "si_l", "p_yen", 1, 120000, [("2024-01-15", "2025-01-15")])
    add("sub_m", "si_m1", "p_metered", 1, 4321, MONTHS_TO_APRIL[2:])
    add("sub_m", "si_m2", "p_free", 1, 0, MONTHS_TO_APRIL[2:])
    add("sub_m", None, "p_setup", 1, 5000, [MONTHS[2]], kind="invoiceitem")
    add("sub_n", "si_n", "p_daily", 1, 100, [("2024-04-14", "2024-04-15")])
    add("sub_o", "si_o", "p_basic", 1, 2000, MONTHS[:2])
    add("sub_o", "si_o", "p_basic", 2, 2571, [("2024-02-10", "2024-03-01")], proration=True)
    add("sub_o", "si_o", "p_basic", 3, 6000, [MONTHS[2], MONTHS_TO_APRIL[3]])
    add("sub_p", "si_p", "p_incl", 1, 2000, MONTHS[:2], tax="1800")
    add("sub_t", "si_t", "p_basic", 1, 2000, MONTHS_TO_APRIL)
    add("sub_v", "si_v", "p_tiered", 10, 4500, MONTHS_TO_APRIL)  # the tiers' total for 10 seats
    add("sub_w", "si_w", "p_incl", 1, 2000, MONTHS_TO_APRIL, tax="1800")
    return out


CUSTOMERS = sorted({s[1] for s in SUBSCRIPTIONS})


def signed_up(customer: str) -> dt.datetime:
    """December, except the newest customer (raw.users stays fresh: its freshness check reads created_at)."""
    return t("2024-04-14 12:00:00") if customer == "cus_e" else t("2023-12-01")


def create_contract_tables(con, names) -> None:
    """The contract's own tables among `names` (kpiwatch.contract's DDL), beside a connector's schema."""
    for statement in raw_table_ddl():
        if statement.startswith("create schema") or any(f"raw.{name} (" in statement for name in names):
            con.execute(statement)


def write_stripe_warehouse(path) -> None:
    """Fivetran's Stripe schema, and the contract's events and marketing_spend (both empty)."""
    con = duckdb.connect(str(path))
    try:
        create_contract_tables(con, ("events", "marketing_spend"))
        write_stripe_schema(lambda sql, params=None: con.execute(sql, params or []))
    finally:
        con.close()


def write_stripe_schema(execute) -> None:
    """The hand-worked company in schema stripe, through `execute(sql, params)` (DuckDB, or fakesnow): one
    insert per table."""
    synced = t("2024-04-15 06:00:00")
    live_of = {s[0]: s[7] for s in SUBSCRIPTIONS}
    customer_of = {s[0]: s[1] for s in SUBSCRIPTIONS}
    rows = {
        "customer": [
            (c, f"{c}@example.com", signed_up(c), "usd", "US", c != "cus_t", False, synced) for c in CUSTOMERS
        ],
        "product": [(product, name, True, False, synced) for product, name in PRODUCTS],
        "price": [
            (*price[:7], "tiered" if price[0] in TIERED else "per_unit", price[7], True, False, True, synced)
            for price in PRICES
        ],
        "subscription_history": [
            (
                sub,
                customer,
                status,
                t("2023-12-15"),
                t("2024-01-01"),
                t(ended) if ended else None,
                t(ended) if ended else None,
                None,
                at_end,
                t(start),
                t(end),
                None,
                None,
                live,
                active,
                t("2023-12-15"),
                None if active else t("2024-01-01"),
                synced,
            )
            for sub, customer, status, at_end, (start, end), ended, active, live in SUBSCRIPTIONS
        ],
        "subscription_item": [(item, sub, price, n, t("2024-01-01"), synced) for item, sub, price, n in ITEMS],
        "invoice": [],
        "invoice_line_item": [],
    }
    for status, line_id, sub, item, price, kind, proration, quantity, amount, tax, (start, end) in lines():
        currency = "jpy" if price == "p_yen" else "usd"
        invoice = f"in_{line_id}"
        rows["invoice"].append(
            (invoice, customer_of[sub], sub, status, "subscription_cycle", t(start), currency, live_of[sub], synced)
        )
        rows["invoice_line_item"].append(
            (
                line_id,
                invoice,
                sub,
                item,
                None,
                price,
                price,
                kind,
                proration,
                quantity,
                amount,
                tax,
                currency,
                True,
                t(start),
                t(end),
                live_of[sub],
                synced,
            )
        )
    execute("create schema stripe")
    for name, columns in TABLES.items():
        execute(f"create table stripe.{name} ({columns})")
        one = "(" + ", ".join("?" for _ in rows[name][0]) + ")"
        execute(
            f"insert into stripe.{name} values {', '.join(one for _ in rows[name])}", [v for r in rows[name] for v in r]
        )


@pytest.fixture(scope="module")
def stripe_run(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("stripe_fivetran")
    seeds = work / "seeds"
    seeds.mkdir()
    shutil.copy(DBT_PROJECT_DIR / "seeds" / "feature_map.csv", seeds / "feature_map.csv")
    fx = (DBT_PROJECT_DIR / "seeds" / "fx_rates.csv").read_text().rstrip("\n") + "\nJPY,0.00700000\n"
    (seeds / "fx_rates.csv").write_text(fx)
    write_stripe_warehouse(work / "company.duckdb")
    settings = job_settings(
        work / "company.duckdb", work / "home", env={**STRIPE_ENV, "KPIWATCH_SEEDS_DIR": str(seeds)}
    )
    return settings, run_once(settings, AS_OF)


# The hand-worked MRR of the docstring: by month (MRR, paying customers), and every movement.
EXPECTED_MONTHLY = {
    "2023-12-01": (money(0), 0),  # the customers signed up in December
    "2024-01-01": (money(371), 11),
    "2024-02-01": (money(471), 11),
    "2024-03-01": (money(545), 11),
    "2024-04-01": (money(545), 11),
}
FIRST_MONTH = ("cus_a", 20), ("cus_c", 100), ("cus_g", 20), ("cus_h", 20), ("cus_i", 20), ("cus_j", 20)
FIRST_MONTH += ("cus_l", 70), ("cus_o", 20), ("cus_p", 18), ("cus_v", 45), ("cus_w", 18)
EXPECTED_MOVEMENTS = {("2024-01-01", user): (money(mrr), "new") for user, mrr in FIRST_MONTH} | {
    ("2024-02-01", "cus_b"): (money(120), "new"),
    ("2024-02-01", "cus_i"): (money(0), "churn"),
    ("2024-03-01", "cus_d"): (money(52), "new"),
    ("2024-03-01", "cus_f"): (money(20), "new"),
    ("2024-03-01", "cus_o"): (money(60), "expansion"),
    ("2024-03-01", "cus_h"): (money(0), "churn"),
    ("2024-03-01", "cus_p"): (money(0), "churn"),
}


def mrr_and_movements(db) -> tuple[dict, dict]:
    monthly = {
        str(r["month"]): (money(r["mrr_usd"]), r["paying_customers"])
        for r in rows(db, "select * from marts.fct_mrr_monthly")
    }
    movements = {
        (str(r["month"]), r["user_id"]): (money(r["mrr_usd"]), r["movement"])
        for r in rows(db, "select * from marts.fct_customer_mrr_monthly where movement is not null")
    }
    return monthly, movements


def test_stripe_billing_history_gives_the_hand_worked_mrr(stripe_run):
    settings, outcome = stripe_run
    assert outcome.success, (outcome.failures, outcome.failed_checks)
    assert mrr_and_movements(settings.duckdb_path) == (EXPECTED_MONTHLY, EXPECTED_MOVEMENTS)


def test_the_adapter_presents_raw_tables_the_checks_and_models_read_unchanged(stripe_run):
    settings, outcome = stripe_run
    db = settings.duckdb_path
    kinds = {
        r["table_name"]: r["table_type"]
        for r in rows(db, "select table_name, table_type from information_schema.tables where table_schema = 'raw'")
    }
    assert kinds == {"subscriptions": "VIEW", "users": "VIEW", "events": "BASE TABLE", "marketing_spend": "BASE TABLE"}
    users = {r["user_id"] for r in rows(db, "select user_id from raw.users")}
    assert users == set(CUSTOMERS) - {"cus_t"}
    periods = rows(db, "select * from raw.subscriptions where subscription_id = 'si_o' order by started_at")
    assert [
        (
            str(p["started_at"].date()),
            p["ended_at"] and str(p["ended_at"].date()),
            money(p["amount"]),
            p["billing_interval"],
            p["plan"],
        )
        for p in periods
    ] == [
        ("2024-01-01", "2024-02-01", money(20), "month", "Basic"),
        ("2024-02-01", "2024-03-01", money(20), "month", "Basic"),
        ("2024-03-01", "2024-04-01", money(60), "month", "Basic"),
        ("2024-04-01", None, money(60), "month", "Basic"),
    ]
    adapted = [c for c in outcome.failed_checks if c.startswith(("raw/subscriptions", "raw/users"))]
    assert not [c for c in adapted if "(error)" in c], adapted  # warnings of a 16-customer toy (volume) aside
    assert not {w.split(" (")[0] for w in outcome.withheld} & {"mrr", "unit_economics"}, outcome.withheld


def test_a_missing_stripe_column_fails_the_run_in_one_sentence_from_the_cli(tmp_path, cli_env):
    db = tmp_path / "company.duckdb"
    write_stripe_warehouse(db)
    execute_sql(db, "alter table stripe.invoice_line_item drop column period_end")
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", str(AS_OF)],
        capture_output=True,
        text=True,
        env=cli_env(db, tmp_path / "home", **STRIPE_ENV),
    )
    assert done.returncode == 1
    assert (
        "stripe.invoice_line_item has no column period_end: the stripe_fivetran adapter reads it for "
        "raw.subscriptions (KPIWATCH_SOURCE_SUBSCRIPTIONS=stripe_fivetran, KPIWATCH_SOURCE_STRIPE_FIVETRAN_SCHEMA="
        "stripe)." in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_missing_stripe_table_or_a_real_raw_table_is_named_and_nothing_is_replaced(tmp_path, job_settings):
    db = tmp_path / "company.duckdb"
    write_stripe_warehouse(db)
    execute_sql(db, "drop table stripe.customer")
    outcome = run_once(job_settings(db, tmp_path / "home", env=STRIPE_ENV), AS_OF)
    assert not outcome.success
    assert any(
        "stripe.customer does not exist: the stripe_fivetran adapter reads it for raw.users" in f
        for f in outcome.failures
    ), outcome.failures

    execute_sql(
        db, "create table raw.subscriptions (subscription_id varchar)", "insert into raw.subscriptions values ('x')"
    )
    outcome = run_once(
        job_settings(db, tmp_path / "home", env={"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_fivetran"}), AS_OF
    )
    assert any(
        "raw.subscriptions is a table, and KPIWATCH_SOURCE_SUBSCRIPTIONS=stripe_fivetran would replace it with the "
        "adapter's view: kpiwatch never overwrites data" in f
        for f in outcome.failures
    ), outcome.failures
    assert query_one(db, "select count(*) from raw.subscriptions") == (1,)


def test_the_views_are_rebuilt_only_when_their_definition_changes(stripe_run, tmp_path):
    settings = copy_run_state(stripe_run[0], tmp_path / "copy")
    before = rows(settings.duckdb_path, "select table_name, built_at from ledger.source_views order by 1")
    assert [r["table_name"] for r in before] == ["subscriptions", "users"]
    prepare_source_views(settings)  # nothing changed: no dbt call, nothing recorded
    assert rows(settings.duckdb_path, "select table_name, built_at from ledger.source_views order by 1") == before
    moved = replace(settings, sources=replace(settings.sources, schemas={"stripe_fivetran": "billing"}))
    execute_sql(settings.duckdb_path, "create schema billing")
    for table in TABLES:
        execute_sql(settings.duckdb_path, f"create table billing.{table} as select * from stripe.{table}")
    prepare_source_views(moved)  # another schema: rebuilt, reading it
    after = rows(settings.duckdb_path, "select table_name, built_at from ledger.source_views order by 1")
    assert all(a["built_at"] > b["built_at"] for a, b in zip(after, before, strict=True))
    execute_sql(settings.duckdb_path, "delete from billing.customer where id = 'cus_a'")
    assert "cus_a" not in {r["user_id"] for r in rows(settings.duckdb_path, "select user_id from raw.users")}


def test_a_connection_without_history_mode_gives_the_same_periods_and_is_checked(stripe_run, tmp_path):
    """Fivetran connections created before history mode (February 2022) sync `subscription`: one row per
    subscription, without `_fivetran_active`. The same company read from it gives the same priced periods; the
    view is rebuilt when the table it reads changes; sources check counts and checks it."""
    settings = copy_run_state(stripe_run[0], tmp_path / "copy")
    db = settings.duckdb_path
    periods = f"select {PERIOD_COLUMNS} from raw.subscriptions order by all"
    with_history = rows(db, periods)
    execute_sql(
        db,
        "create table stripe.subscription as select * exclude (_fivetran_active, _fivetran_start, _fivetran_end) "
        "from stripe.subscription_history where _fivetran_active",
        "drop table stripe.subscription_history",
    )
    prepare_source_views(settings)
    assert rows(db, periods) == with_history and len(with_history) == 44
    (subscriptions,) = [r for r in check_sources(settings) if r.table == "subscriptions"]
    assert subscriptions.rows == 18 and {p["severity"] for p in subscriptions.problems} == {"skipped"}
    execute_sql(db, "update stripe.subscription set status = 'on_hold' where id = 'sub_c'")
    with pytest.raises(KpiwatchError, match="1 subscription\\(s\\) with status 'on_hold', which kpiwatch does not map"):
        prepare_source_views(settings)
    execute_sql(db, "alter table stripe.subscription drop column livemode")
    with pytest.raises(KpiwatchError, match="stripe.subscription has no column livemode: the stripe_fivetran adapter"):
        prepare_source_views(settings)


def test_the_snowflake_sql_of_the_adapter_gives_the_same_periods_on_fakesnow(stripe_run, tmp_path):
    """The adapter compiled for Snowflake (offline), run on fakesnow over the same Stripe rows as TIMESTAMP_TZ
    columns, as Fivetran writes them there, equals what DuckDB built."""
    compiled = compiled_for_snowflake(STRIPE_ENV, ["stripe_fivetran__subscriptions"], tmp_path)
    with fakesnow_warehouse() as snowflake:
        with patch.dict(TABLES, {k: v.replace("timestamp", "timestamp_tz") for k, v in TABLES.items()}):
            write_stripe_schema(snowflake.query)
        on_snowflake = snowflake.query(
            f"select {PERIOD_COLUMNS} from ({compiled['stripe_fivetran__subscriptions']}) order by 1, 7"
        )
        # The connector check reads Snowflake's information schema of the named database.
        found = connector_columns(snowflake, "kpiwatch.stripe")
        assert schema_problem(found, "stripe_fivetran", "subscriptions", "kpiwatch.stripe") is None
        snowflake.query("alter table stripe.price drop column recurring_interval_count")
        problem = schema_problem(
            connector_columns(snowflake, "kpiwatch.stripe"), "stripe_fivetran", "subscriptions", "kpiwatch.stripe"
        )
        assert problem.startswith("kpiwatch.stripe.price has no column recurring_interval_count: "), problem
    on_duckdb = rows(stripe_run[0].duckdb_path, f"select {PERIOD_COLUMNS} from raw.subscriptions order by 1, 7")
    # Periods per customer: a 4, b 6 (two items), c 2, d 3, f 2, g 4, h 2, i 2, j 4, l 1, o 4, p 2.
    assert len(on_duckdb) == 44
    assert [{**r, "amount": money(r["amount"])} for r in on_snowflake] == [
        {**r, "amount": money(r["amount"])} for r in on_duckdb
    ]


def sources_check(db, home, cli_env, *arguments, **variables):
    return subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "sources", "check", *arguments],
        capture_output=True,
        text=True,
        env=cli_env(db, home, **STRIPE_ENV, **variables),
    )


def test_sources_check_names_what_the_adapter_skips_and_every_problem(tmp_path, cli_env):
    db = tmp_path / "company.duckdb"
    write_stripe_warehouse(db)
    execute_sql(
        db,
        "insert into raw.events values ('e1', 'cus_a', 'login', '2024-04-15 10:00:00')",
        "insert into raw.marketing_spend values ('2024-04-15', 'ads', 10, 'USD')",
    )
    done = sources_check(db, tmp_path / "home", cli_env)
    assert done.returncode == 1, done.stderr  # JPY has no exchange rate in kpiwatch's own fx_rates
    lines = done.stdout.splitlines()
    assert lines[0] == "raw.users            stripe_fivetran from stripe: 18 rows, 2023-12-01 .. 2024-04-14"
    assert lines[1] == "raw.subscriptions    stripe_fivetran from stripe: 18 rows, 2024-01-01 .. 2024-04-14"
    assert lines[2:8] == [
        "  skipped: 1 test-mode subscription(s) (livemode = false).",
        "  skipped: 1 price(s) metered (usage is not recurring revenue).",
        "  skipped: 1 price(s) one-time (not recurring).",
        "  skipped: 1 price(s) billed daily (no agreed monthly value).",
        "  skipped: 1 price(s) $0 (free).",
        f"  error: 1 price(s) in JPY, which has no rate in {DBT_PROJECT_DIR / 'seeds' / 'fx_rates.csv'}: add one, or "
        "its MRR is withheld (currency_in_fx_rates).",
    ]
    assert lines[8:] == [
        "raw.events           raw.events: 1 rows, 2024-04-15 .. 2024-04-15",
        "raw.marketing_spend  raw.marketing_spend: 1 rows, 2024-04-15 .. 2024-04-15",
    ]

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(DBT_PROJECT_DIR / "seeds" / "feature_map.csv", seeds)
    (seeds / "fx_rates.csv").write_text("currency,usd_per_unit\nUSD,1\nJPY,0.007\n")
    done = sources_check(db, tmp_path / "home", cli_env, "--format", "json", KPIWATCH_SEEDS_DIR=str(seeds))
    assert done.returncode == 0, done.stdout
    reports = {r["table"]: r for r in json.loads(done.stdout)}
    assert reports["subscriptions"]["adapter"] == "stripe_fivetran" and reports["subscriptions"]["rows"] == 18
    assert {p["severity"] for p in reports["subscriptions"]["problems"]} == {"skipped"}

    # cus_v's tiered price has no unit amount: its current period's MRR waits for the period's invoice.
    execute_sql(
        db, "delete from stripe.invoice_line_item where subscription_item_id = 'si_v' and period_start >= '2024-04-01'"
    )
    done = sources_check(db, tmp_path / "home", cli_env, KPIWATCH_SEEDS_DIR=str(seeds))
    assert done.returncode == 0, done.stdout
    assert (
        "  skipped: 1 item(s) on a tiered price (no unit amount) in a current period whose invoice is not synced "
        "yet: no MRR until it is.\n" in done.stdout
    )

    execute_sql(db, "update stripe.subscription_history set status = 'on_hold' where id = 'sub_c' and _fivetran_active")
    execute_sql(db, "alter table stripe.customer drop column address_country")
    done = sources_check(db, tmp_path / "home", cli_env, KPIWATCH_SEEDS_DIR=str(seeds))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "  error: 1 subscription(s) with status 'on_hold', which kpiwatch does not map." in done.stdout
    assert (
        "  error: stripe.customer has no column address_country: the stripe_fivetran adapter reads it for raw.users "
        in done.stdout
    )


def test_a_status_or_interval_without_a_rule_stops_the_run_rather_than_guess(tmp_path, job_settings):
    db = tmp_path / "company.duckdb"
    write_stripe_warehouse(db)
    execute_sql(db, "update stripe.price set recurring_interval = 'fortnight' where id = 'p_week'")
    outcome = run_once(job_settings(db, tmp_path / "home", env=STRIPE_ENV), AS_OF)
    assert not outcome.success
    expected = "1 price(s) billed every 'fortnight', an interval kpiwatch does not know. (`kpiwatch sources check`"
    assert any(expected in f for f in outcome.failures), outcome.failures
    assert query_one(db, "select count(*) from information_schema.tables where table_schema = 'marts'") == (0,)


def test_sources_check_counts_the_invoices_the_adapters_read_as_issued():
    """The issued statuses are written twice, in the dbt macro both adapters use and in sources check's SQL."""
    macro = (DBT_PROJECT_DIR / "macros" / "stripe_periods.sql").read_text()
    written = re.search(r"macro stripe_issued_invoice\(status\) -%}\s*lower\(\{\{ status \}\}\) in \(([^)]*)\)", macro)
    assert written, "stripe_issued_invoice not found in macros/stripe_periods.sql"
    assert tuple(s.strip().strip("'") for s in written.group(1).split(",")) == STRIPE_ISSUED_STATUSES
