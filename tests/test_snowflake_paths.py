"""The Snowflake code paths in Python, run in-process against fakesnow (no account needed)."""

import datetime as dt

import fakesnow
import pytest

from kpiwatch.contract import raw_table_ddl
from kpiwatch.errors import ConfigError, KpiwatchError
from kpiwatch.quality.config import load_checks_config
from kpiwatch.quality.runner import run_table_checks
from kpiwatch.settings import SnowflakeSettings, snowflake_settings_from_env
from kpiwatch.snowflake_warehouse import SnowflakeWarehouse
from kpiwatch.warehouse import ensure_raw_contract
from metrics.samples import business_samples
from metrics.snapshot import read_snapshot

SETTINGS = SnowflakeSettings(account="acme", user="kpiwatch", database="KPIWATCH", schema="RAW", password="x")


@pytest.fixture
def snowflake():
    with fakesnow.patch():
        warehouse = SnowflakeWarehouse(SETTINGS)
        for statement in ["create database if not exists kpiwatch", *raw_table_ddl()]:
            warehouse.query(statement.replace("decimal(18,2)", "number(18,2)"))
        yield warehouse


def test_contract_check_reads_snowflake_information_schema(snowflake):
    ensure_raw_contract(snowflake)  # upper-case names and TEXT / TIMESTAMP_NTZ / NUMBER types pass
    snowflake.query("alter table raw.events drop column event_name")
    with pytest.raises(KpiwatchError, match="column raw.events.event_name is missing"):
        ensure_raw_contract(snowflake)


def test_sql_quality_checks_run_on_snowflake(snowflake):
    snowflake.query(
        "insert into raw.events values ('e1', 'u1', 'login', '2024-03-27 10:00:00'), "
        "('e2', 'u1', 'login', '2024-03-31 10:00:00')"
    )
    config = load_checks_config()
    outcomes = {
        o.check: o
        for o in run_table_checks(snowflake, config, "events", dt.date(2024, 3, 31))
        if o.check in ("schema_matches_contract", "not_empty", "freshness", "missing_days")
    }
    assert outcomes["schema_matches_contract"].passed and outcomes["not_empty"].passed
    assert outcomes["freshness"].passed and outcomes["freshness"].metadata["lag_seconds"] == 14 * 3600
    assert not outcomes["missing_days"].passed
    assert (
        "3 day(s) without rows in raw.events between 2024-03-27 and 2024-03-31" in outcomes["missing_days"].description
    )


def test_great_expectations_row_checks_run_on_snowflake(snowflake):
    """The same suite files and expect_no_unexpected_rows (hash pre-filter included) through snowflake-sqlalchemy."""
    snowflake.query("insert into raw.users values ('u1', '2024-01-01 00:00:00', 'DE', 'ads')")
    snowflake.query(
        "insert into raw.events values ('e1', 'u1', 'login', '2024-03-27 10:00:00'), "
        "('e1', 'u1', 'login', '2024-03-27 10:00:00'), ('e2', 'u9', 'login', '2024-03-31 10:00:00')"
    )
    outcomes = {o.check: o for o in run_table_checks(snowflake, load_checks_config(), "events", dt.date(2024, 3, 31))}
    assert outcomes["required_columns_not_null"].passed
    assert (
        "2 of 3 rows fail expect_no_unexpected_rows(no event_id appears more than once)"
        in outcomes["unique_event_id"].description
    )
    assert (
        "1 of 3 rows fail expect_no_unexpected_rows(every event belongs to a known user)"
        in outcomes["user_id_known"].description
    )
    assert '"u9"' in outcomes["user_id_known"].metadata["sample"]


def test_business_gauges_read_the_marts_on_snowflake(snowflake):
    snowflake.query("create schema if not exists kpiwatch.marts")
    snowflake.query(
        "create table marts.fct_mrr_monthly (month date, is_complete boolean, mrr_usd number(38,6), "
        "arr_usd number(38,6), new_mrr_usd number(38,6), expansion_mrr_usd number(38,6), "
        "contraction_mrr_usd number(38,6), churned_mrr_usd number(38,6), reactivation_mrr_usd number(38,6), "
        "net_new_mrr_usd number(38,6), paying_customers integer, arpa_usd number(38,6))"
    )
    snowflake.query(
        "insert into marts.fct_mrr_monthly values "
        "('2024-02-01', true, 100, 1200, 100, 0, 0, 0, 0, 100, 2, 50), "
        "('2024-03-01', false, 90, 1080, 0, 0, -10, 0, 0, -10, 2, 45)"
    )
    for ddl in (
        "fct_unit_economics_monthly (month date, ltv_usd number(38,6), ltv_to_cac double, logo_churn_rate double, "
        "net_revenue_retention double, net_revenue_retention_12m double, gross_revenue_retention_12m double)",
        "fct_cac_monthly (month date, channel text, cac_usd number(38,6))",
        "fct_mrr_by_segment_monthly (month date, dimension text, segment text, mrr_usd number(38,6), "
        "net_new_mrr_usd number(38,6))",
        "fct_active_users_daily (activity_date date, dau integer, wau integer, mau integer)",
        "fct_feature_adoption_daily (activity_date date, feature text, adoption_rate double)",
        "fct_retention_cohorts (cohort_month date, months_since_signup integer, retention_rate double)",
        "fct_conversion_monthly (signup_month date, acquisition_channel text, signups integer, converted_30d integer, "
        "conversion_rate_30d double, is_complete boolean)",
    ):
        snowflake.query(f"create table marts.{ddl}")
    snowflake.query("insert into marts.fct_active_users_daily values ('2024-03-20', 3, 5, 8)")
    snowflake.query(
        "insert into marts.fct_conversion_monthly values ('2024-01-01', 'all', 10, 3, 0.3, true), "
        "('2024-01-01', 'ads', 10, 3, 0.3, true), ('2023-12-01', 'all', 5, 2, 0.4, true), "
        "('2024-02-01', 'all', 8, 1, 0.125, false)"
    )
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for s in business_samples(read_snapshot(snowflake, dt.date(2024, 3, 20)))
    }
    assert samples[("kpiwatch_mrr_usd", ())] == 90
    assert samples[("kpiwatch_mrr_growth_ratio", ())] == pytest.approx(-0.1)
    assert samples[("kpiwatch_active_users", (("window", "30d"),))] == 8
    assert samples[("kpiwatch_conversion_rate", (("channel", "all"),))] == pytest.approx(0.3)
    assert samples[("kpiwatch_conversion_baseline_rate", (("channel", "all"),))] == pytest.approx(0.4)


def test_settings_come_from_the_environment_and_never_show_secrets():
    env = {
        "KPIWATCH_SNOWFLAKE_ACCOUNT": "acme",
        "KPIWATCH_SNOWFLAKE_USER": "svc",
        "KPIWATCH_SNOWFLAKE_DATABASE": "PROD",
        "KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PATH": "/run/secrets/key.p8",
        "KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "pp-secret",
    }
    settings = snowflake_settings_from_env(env)
    assert settings.private_key_path == "/run/secrets/key.p8" and "pp-secret" not in repr(settings)
    arguments = SnowflakeWarehouse(settings)._connect_arguments()
    assert arguments["private_key_file"] == "/run/secrets/key.p8" and "password" not in arguments
    with pytest.raises(ConfigError, match="KPIWATCH_TARGET=snowflake needs KPIWATCH_SNOWFLAKE_DATABASE"):
        snowflake_settings_from_env({k: v for k, v in env.items() if not k.endswith("DATABASE")})


def test_an_unreachable_account_fails_within_the_outer_deadline():
    """A connect that hangs is abandoned at the deadline and retried, then fails with a clear message."""
    import time

    import snowflake.connector

    def hang(**_):
        time.sleep(30)

    settings = SnowflakeSettings(
        account="nowhere", user="u", database="d", password="p", connect_deadline_seconds=0.3, attempts=2
    )
    original, snowflake.connector.connect = snowflake.connector.connect, hang
    try:
        started = time.monotonic()
        with pytest.raises(
            KpiwatchError, match=r"Could not connect to Snowflake account nowhere within 0.3 s after 2 attempt"
        ):
            SnowflakeWarehouse(settings).connect()
        assert time.monotonic() - started < 5
    finally:
        snowflake.connector.connect = original
