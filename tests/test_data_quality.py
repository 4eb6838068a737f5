"""Bad data is caught by the right, named check; the run ends cleanly and metrics are not built from it."""

import datetime as dt
import shutil
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.quality.config import load_checks_config
from kpiwatch.quality.runner import run_raw_checks, run_table_checks
from kpiwatch.sample.faults import FAULTS, inject
from kpiwatch.sample.generate import GenerateOptions, generate
from kpiwatch.settings import load_settings
from kpiwatch.warehouse import DuckDBWarehouse
from orchestration.run_window import window_from_tags

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 5, 31)

# What each fault's failed check must say (a stable part of the description).
EXPECTED_MESSAGE = {
    "null_user_id": "rows fail expect_column_values_to_not_be_null(user_id)",
    "duplicate_event_id": "rows fail expect_no_unexpected_rows(no event_id appears more than once)",
    "negative_amount": "rows fail expect_column_values_to_be_between(amount)",
    "unknown_currency": '"currency": "XYZ"',
    "unknown_interval": "rows fail expect_column_values_to_be_in_set(billing_interval)",
    "ended_before_started": "rows fail expect_column_pair_values_a_to_be_greater_than_b(ended_at > started_at)",
    "future_events": "rows fail expect_column_values_to_be_between(occurred_at)",
    "missing_day": "1 day(s) without rows in raw.events",
    "stale_events": "h before the end of 2024-05-31 (allowed: 36 h)",
    "dropped_column": "column raw.events.event_name is missing",
    "wrong_type": "column raw.marketing_spend.amount has type VARCHAR, expected number",
    "empty_table": "raw.subscriptions has no rows.",
    "orphan_user_id": "rows fail expect_no_unexpected_rows(every event belongs to a known user)",
    "ancient_signup": "rows fail expect_column_values_to_be_between(created_at)",
    "ancient_event": "rows fail expect_column_values_to_be_between(occurred_at)",
    "overlapping_period": "overlapping pair(s) of priced periods in 1 subscription(s) of raw.subscriptions, e.g. ",
}


# Faults whose number of offending rows is known exactly.
COUNTED = {
    "null_user_id": 5,
    "duplicate_event_id": 6,
    "future_events": 3,
    "orphan_user_id": 1,
    "ancient_signup": 1,
    "ancient_event": 1,
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "clean.duckdb"
    generate(GenerateOptions(out=path, as_of=AS_OF, users=400, days=60, seed=11), progress=False, log=lambda _: None)
    return path


def raw_fingerprint(path):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"select count(*), sum(hash(t)) from raw.{t} t").fetchone()
            for t in ("users", "subscriptions", "events", "marketing_spend")
        }
    finally:
        con.close()


def test_clean_generated_data_passes_every_check(base):
    config = load_checks_config()
    warehouse = DuckDBWarehouse(base)
    failed = [
        o
        for table in ("users", "subscriptions", "events", "marketing_spend")
        for o in run_table_checks(warehouse, config, table, AS_OF)
        if not o.passed
    ]
    assert failed == []


def test_every_fault_has_an_expected_message():
    assert set(EXPECTED_MESSAGE) == set(FAULTS)


def existing_marts(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        query = "select table_name from information_schema.tables where table_schema = 'marts'"
        return {name for (name,) in con.execute(query).fetchall()}
    finally:
        con.close()


def broken_copy(base, tmp_path, fault):
    broken = tmp_path / "broken.duckdb"
    shutil.copy(base, broken)
    inject(broken, [fault])
    return broken


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_caught_by_its_check_with_an_actionable_message(fault, base, tmp_path):
    """The checks a run makes on the faulty table, with the window of that run (its first processed day)."""
    broken = broken_copy(base, tmp_path, fault)
    expected = FAULTS[fault]
    window = window_from_tags({}, AS_OF, load_settings({}).lookback_days)
    outcomes = run_raw_checks(
        DuckDBWarehouse(broken), load_checks_config(), [expected.table], AS_OF, window.first_processed_day
    )
    failed = {o.check: o for o in outcomes if not o.passed}
    assert expected.caught_by in failed, sorted(failed)
    outcome = failed[expected.caught_by]
    assert outcome.severity == "error"
    assert EXPECTED_MESSAGE[fault] in outcome.description, outcome.description
    if fault in COUNTED:
        assert outcome.description.startswith(f"{COUNTED[fault]} of "), outcome.description


# One real run per raw table: the failed check reaches the run's outcome and withholds what is built from it.
# raw.events's is the CLI's (test_an_error_check_from_the_cli_names_the_check_and_the_withheld_metrics_...).
CLI_FAULT_RUN = ("events", "orphan_user_id")
FAULT_RUN_PER_TABLE = {
    "subscriptions": "negative_amount",
    "users": "ancient_signup",
    "marketing_spend": "wrong_type",
}


def test_every_raw_table_has_a_fault_run():
    runs = {**FAULT_RUN_PER_TABLE, CLI_FAULT_RUN[0]: CLI_FAULT_RUN[1]}
    assert set(runs) == {fault.table for fault in FAULTS.values()}
    assert all(FAULTS[fault].table == table for table, fault in runs.items())


@pytest.mark.parametrize(("table", "fault"), sorted(FAULT_RUN_PER_TABLE.items()))
def test_a_fault_withholds_the_metrics_built_from_its_table_and_leaves_raw_data_alone(
    table, fault, base, tmp_path, job_settings
):
    """The faulty table's marts are not built (dbt lineage) and their metrics are withheld; the rest is fresh."""
    broken = broken_copy(base, tmp_path, fault)
    before = raw_fingerprint(broken) if fault not in ("dropped_column", "wrong_type") else None

    outcome = run_once(job_settings(broken, tmp_path / "home"), AS_OF)

    expected = FAULTS[fault]
    prefix = f"raw/{table} {expected.caught_by} (error): "
    matching = [c for c in outcome.failed_checks if c.startswith(prefix)]
    assert matching, outcome.failed_checks
    assert EXPECTED_MESSAGE[fault] in matching[0], matching[0]
    assert outcome.success, outcome.failures
    assert all(f"raw.{table} " in reason for reason in outcome.withheld), outcome.withheld
    withheld = {reason.split(" (")[0] for reason in outcome.withheld}
    marts = existing_marts(broken)  # a fresh copy: only what this run built exists
    # MRR is built from the users, subscriptions and spend tables; active users from raw.events alone.
    assert {"mrr", "unit_economics", "cac", "retention"} <= withheld and "active_users" not in withheld
    assert "fct_mrr_monthly" not in marts and "fct_active_users_daily" in marts
    if before is not None:
        assert raw_fingerprint(broken) == before  # checks never modify raw data


def test_a_warn_check_reports_without_blocking_and_the_cli_prints_no_traceback(base, tmp_path, cli_env):
    broken = tmp_path / "dupes.duckdb"
    shutil.copy(base, broken)
    inject(broken, ["duplicate_event_id"])
    config = tmp_path / "checks.yml"
    shipped = load_checks_config().path.read_text()
    config.write_text(shipped.replace("unique_event_id: {severity: error}", "unique_event_id: {severity: warn}"))
    env = cli_env(broken, tmp_path / "home", KPIWATCH_CHECKS_CONFIG=str(config))
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", str(AS_OF)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "raw/events unique_event_id (warn): 6 of" in done.stderr
    assert "succeeded" in done.stdout and "Headline metrics" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("push", ["on", "off"])
def test_an_error_check_from_the_cli_names_the_check_and_the_withheld_metrics_without_a_traceback(
    push, base, tmp_path, cli_env
):
    """The real run of a raw.events fault: named in one line each, active users withheld (their marts are not
    built, dbt lineage), MRR published fresh, raw data left alone. With publishing off
    (KPIWATCH_PUSHGATEWAY_URL=off) the run withholds and exits 1 the same way: it once said `succeeded`."""
    _, fault = CLI_FAULT_RUN
    broken = broken_copy(base, tmp_path, fault)
    before = raw_fingerprint(broken)
    env = cli_env(broken, tmp_path / "home", **({"KPIWATCH_PUSHGATEWAY_URL": "off"} if push == "off" else {}))
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "run", "--as-of", str(AS_OF)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "raw/events user_id_known (error): 1 of" in done.stderr
    assert "u_nobody" in done.stderr  # the offending key is shown
    assert "with metrics withheld:\n  Published fresh: mrr, unit_economics, cac, conversion\n" in done.stderr
    assert (
        "  Withheld: active_users, built from data that failed raw.events user_id_known (error); its marts keep "
        "their last values.\n"
    ) in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    marts = existing_marts(broken)  # a fresh copy: only what this run built exists
    assert "fct_active_users_daily" not in marts and "fct_mrr_monthly" in marts
    assert raw_fingerprint(broken) == before  # checks never modify raw data


def test_an_implausible_amount_warns_and_is_still_counted_exactly(base, tmp_path, job_settings):
    """An amount of 2.5e8 (DECIMAL(18) overflowed on it inside dbt) builds, is counted to the cent, and the
    amount_plausible warning names it: real for an enterprise deal, more often a misplaced decimal point."""
    big = tmp_path / "big.duckdb"
    shutil.copy(base, big)
    con = duckdb.connect(str(big))
    subscription, interval, currency = con.execute(
        "select subscription_id, billing_interval, currency from raw.subscriptions "
        "where ended_at is null and currency = 'USD' order by subscription_id limit 1"
    ).fetchone()
    con.execute("update raw.subscriptions set amount = 250000000.01 where subscription_id = ?", [subscription])
    con.close()

    outcome = run_once(job_settings(big, tmp_path / "home"), AS_OF)

    assert outcome.success, outcome.failures
    warned = [c for c in outcome.failed_checks if c.startswith("raw/subscriptions amount_plausible (warn): ")]
    assert warned and "250,000,000.01" in warned[0] and subscription in warned[0]
    con = duckdb.connect(str(big), read_only=True)
    mrr = con.execute(
        "select mrr_usd from intermediate.int_subscription_periods_usd where subscription_id = ? and ended_at is null",
        [subscription],
    ).fetchone()[0]
    con.close()
    expected = Decimal("250000000.01") / (12 if interval == "year" else 1)
    assert Decimal(mrr).quantize(Decimal("0.000001")) == expected.quantize(Decimal("0.000001"))


def test_a_backfill_over_bad_events_reprocesses_nothing_and_says_so(base, tmp_path, cli_env):
    broken = tmp_path / "dupes.duckdb"
    shutil.copy(base, broken)
    inject(broken, ["duplicate_event_id"])
    env = cli_env(broken, tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", "backfill", "--start", "2024-05-30", "--end", "2024-05-31"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "raw/events unique_event_id (error): " in done.stderr
    assert "raw.events failed an error check, so no day was re-processed; the models keep their values." in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
