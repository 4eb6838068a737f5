"""Marketing spend from Fivetran's ad_reporting (the ad_reporting source adapter), on a hand-worked company.

ad_reporting__account_report has no currency: each account's comes from its platform's account report when one is
built into the same schema (Google's currency_code, Facebook's and LinkedIn's currency), else from
KPIWATCH_SOURCE_AD_REPORTING_CURRENCY (USD). Evaluation date 2024-04-15; fx: GBP 1.27, EUR 1.08.

  google_ads   G1 (USD): 03-01 100, 03-02 50, 04-01 30; G2 (GBP): 03-01 10 -> March 100 + 50 + 12.70 = 162.70
  facebook_ads F1 (eur, lower case in the report): 03-01 200, 03-15 100     -> March 300 x 1.08 = 324.00
  linkedin_ads L1 (no account report: USD): 03-10 40                         -> March 40.00
  a row without spend is not spend

CAC in March, one new customer per platform: google 162.70, facebook 324.00, linkedin 40.00; April google 30.00 with
no new customer (no CAC).
"""

import datetime as dt
from dataclasses import replace

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.source_settings import AD_CHANNEL_VARIABLE, sources_from_env
from orchestration.source_views import prepare_source_views
from tests.conftest import copy_run_state, execute_sql, money, rows, ts, write_raw_warehouse

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 4, 15)
ENV = {"KPIWATCH_SOURCE_MARKETING_SPEND": "ad_reporting"}
USERS = [
    ("u_g", ts("2024-03-01 09:00:00"), "US", "google_ads"),
    ("u_f", ts("2024-03-02 09:00:00"), "DE", "facebook_ads"),
    ("u_l", ts("2024-03-03 09:00:00"), "US", "linkedin_ads"),
    ("u_o", ts("2024-04-14 09:00:00"), "US", "organic"),
]
SUBSCRIPTIONS = [
    (f"s_{u}", u, "basic", "month", "20.00", "USD", ts("2024-03-05 00:00:00"), None) for u in ("u_g", "u_f", "u_l")
]
EVENTS = [("e1", "u_o", "login", ts("2024-04-15 08:00:00"))]
# (date_day, platform, account_id, campaign_id, campaign_name, spend)
SPEND = [
    ("2024-03-01", "google_ads", "G1", "c1", "Brand", 100),
    ("2024-03-02", "google_ads", "G1", "c2", "Generic", 50),
    ("2024-04-01", "google_ads", "G1", "c1", "Brand", 30),
    ("2024-03-01", "google_ads", "G2", "c3", "UK", 10),
    ("2024-03-01", "facebook_ads", "F1", "c4", "Lookalike", 200),
    ("2024-03-15", "facebook_ads", "F1", "c4", "Lookalike", 100),
    ("2024-03-10", "linkedin_ads", "L1", "c5", "CFOs", 40),
    ("2024-03-11", "linkedin_ads", "L1", "c5", "CFOs", None),
]


def write_ad_reporting(db) -> None:
    account = ", ".join(
        f"(date '{d}', 'ad_reporting.{p}', '{p}', '{a}', '{a} account', 1, 1, {s or 'null'}, 0, 0)"
        for d, p, a, _, _, s in SPEND
    )
    campaign = ", ".join(
        f"(date '{d}', 'ad_reporting.{p}', '{p}', '{a}', '{a} account', '{c}', '{n}', 1, 1, {s or 'null'}, 0, 0)"
        for d, p, a, c, n, s in SPEND
    )
    execute_sql(
        db,
        "create schema ad_reporting",
        "create table ad_reporting.ad_reporting__account_report (date_day date, source_relation varchar, platform "
        "varchar, account_id varchar, account_name varchar, clicks bigint, impressions bigint, spend double, "
        "conversions double, conversions_value double)",
        f"insert into ad_reporting.ad_reporting__account_report values {account}",
        "create table ad_reporting.ad_reporting__campaign_report (date_day date, source_relation varchar, platform "
        "varchar, account_id varchar, account_name varchar, campaign_id varchar, campaign_name varchar, clicks "
        "bigint, impressions bigint, spend double, conversions double, conversions_value double)",
        f"insert into ad_reporting.ad_reporting__campaign_report values {campaign}",
        "create table ad_reporting.google_ads__account_report (date_day date, account_id varchar, account_name "
        "varchar, currency_code varchar, spend double)",
        "insert into ad_reporting.google_ads__account_report values (date '2024-03-01', 'G1', 'G1', 'USD', 100), "
        "(date '2024-03-02', 'G1', 'G1', 'USD', 50), (date '2024-03-01', 'G2', 'G2', 'GBP', 10)",
        "create table ad_reporting.facebook_ads__account_report (date_day date, account_id varchar, account_name "
        "varchar, currency varchar, spend double)",
        "insert into ad_reporting.facebook_ads__account_report values (date '2024-03-01', 'F1', 'F1', 'eur', 200)",
    )


@pytest.fixture(scope="module")
def spend_run(tmp_path_factory, job_settings):
    work = tmp_path_factory.mktemp("ad_reporting")
    db = work / "company.duckdb"
    write_raw_warehouse(db, {"users": USERS, "subscriptions": SUBSCRIPTIONS, "events": EVENTS})
    execute_sql(db, "drop table raw.marketing_spend")
    write_ad_reporting(db)
    settings = job_settings(db, work / "home", env=ENV)
    return settings, run_once(settings, AS_OF)


def test_spend_by_platform_in_each_accounts_currency_gives_the_hand_worked_cac(spend_run):
    settings, outcome = spend_run
    assert outcome.success, (outcome.failures, outcome.failed_checks)
    assert not [c for c in outcome.failed_checks if c.startswith("raw/marketing_spend") and "(error)" in c]
    db = settings.duckdb_path
    spend = {
        (str(r["spend_date"]), r["channel"], r["currency"]): money(r["amount"])
        for r in rows(db, "select * from raw.marketing_spend")
    }
    assert spend == {
        ("2024-03-01", "google_ads", "USD"): money(100),
        ("2024-03-02", "google_ads", "USD"): money(50),
        ("2024-04-01", "google_ads", "USD"): money(30),
        ("2024-03-01", "google_ads", "GBP"): money(10),
        ("2024-03-01", "facebook_ads", "EUR"): money(200),
        ("2024-03-15", "facebook_ads", "EUR"): money(100),
        ("2024-03-10", "linkedin_ads", "USD"): money(40),
    }
    cac = {
        (str(r["month"]), r["channel"]): (
            money(r["spend_usd"]),
            r["new_customers"],
            r["cac_usd"] and money(r["cac_usd"]),
        )
        for r in rows(db, "select * from marts.fct_cac_monthly where channel <> 'all' and month >= '2024-03-01'")
    }
    assert cac[("2024-03-01", "google_ads")] == (money("162.70"), 1, money("162.70"))
    assert cac[("2024-03-01", "facebook_ads")] == (money("324.00"), 1, money("324.00"))
    assert cac[("2024-03-01", "linkedin_ads")] == (money("40.00"), 1, money("40.00"))
    assert cac[("2024-04-01", "google_ads")][:2] == (money("30.00"), 0)


def test_the_channel_can_be_the_campaign_and_the_view_follows_the_setting(spend_run, tmp_path):
    settings = copy_run_state(spend_run[0], tmp_path / "copy")
    by_campaign = replace(settings, sources=sources_from_env({**ENV, AD_CHANNEL_VARIABLE: "campaign"}))
    prepare_source_views(by_campaign)  # another channel: the view is rebuilt from the campaign report
    channels = {
        (str(r["spend_date"]), r["channel"]): money(r["amount"])
        for r in rows(settings.duckdb_path, "select * from raw.marketing_spend where spend_date < '2024-03-03'")
    }
    assert channels == {
        ("2024-03-01", "Brand"): money(100),
        ("2024-03-02", "Generic"): money(50),
        ("2024-03-01", "UK"): money(10),
        ("2024-03-01", "Lookalike"): money(200),
    }
    prepare_source_views(settings)  # and back
    assert {r["channel"] for r in rows(settings.duckdb_path, "select channel from raw.marketing_spend")} == {
        "google_ads",
        "facebook_ads",
        "linkedin_ads",
    }
