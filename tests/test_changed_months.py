"""The MRR bridge by segment is rebuilt from the first month whose inputs changed (macros/changed_months.sql):
closed months stay as they are on an ordinary day, and back-dated changes rebuild what they touch, so every
mart equals a full rebuild."""

import datetime as dt
import shutil

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import differing_rows, execute_sql, parsed_in_full, query_one

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)
DAY = dt.timedelta(days=1)


BRIDGE = "marts.fct_mrr_by_segment_monthly"


SUBSCRIPTIONS_CHANGED_LATE = (
    # A cancellation entered 70 days late, and a billing correction of a period that ran from before November.
    "update raw.subscriptions set ended_at = timestamp '2024-01-21 10:00:00' where subscription_id = ("
    "select min(subscription_id) from raw.subscriptions where ended_at is null and started_at < '2024-01-01')",
    "update raw.subscriptions set amount = amount + 11 where subscription_id = (select max(subscription_id) "
    "from raw.subscriptions where started_at < '2023-11-15' and coalesce(ended_at, '2099-01-01') > '2023-12-01')",
)
# A paying customer's country corrected: every month of the bridge by country changes.
COUNTRY_CORRECTED = (
    "update raw.users set country = 'XX' where user_id = (select min(user_id) from raw.subscriptions)",
)


def test_the_segment_bridge_rebuilds_only_changed_months_and_equals_a_full_rebuild(
    tmp_path, job_settings, dbt_target_dir
):
    """The bridge by segment is rebuilt from the first month whose inputs changed (macros/changed_months.sql):
    a daily run keeps the closed months as they are (a marked row survives it), and back-dated changes to
    subscriptions and users rebuild the months they touch (the marked month among them), so every mart equals
    a full rebuild again. Runs alternate between the two warehouses, and each finds its own dbt parse state."""
    full, daily = tmp_path / "full.duckdb", tmp_path / "daily.duckdb"
    generate(GenerateOptions(out=full, as_of=AS_OF, users=200, days=200, seed=5), progress=False, log=lambda _: None)
    shutil.copy(full, daily)
    full_settings, daily_settings = job_settings(full, tmp_path / "home_full"), job_settings(daily, tmp_path / "home")
    assert_succeeded(run_once(daily_settings, AS_OF - DAY))
    marked = f"update {BRIDGE} set paying_customers = -999 where month = date '2023-12-01'"
    execute_sql(daily, marked)

    assert_succeeded(run_once(daily_settings, AS_OF))

    (kept,) = query_one(
        daily, f"select count(*) from {BRIDGE} where month = date '2023-12-01' and paying_customers = -999"
    )
    assert kept > 0  # a closed month whose inputs did not change is not rebuilt

    for changes in (SUBSCRIPTIONS_CHANGED_LATE, COUNTRY_CORRECTED):
        for db in (full, daily):
            execute_sql(db, *changes)
        assert_succeeded(run_once(full_settings, AS_OF, full_refresh=True))
        daily_run = run_once(daily_settings, AS_OF)
        assert_succeeded(daily_run)
        assert not parsed_in_full(dbt_target_dir, daily_run.run_id)  # after a run on the other warehouse

        differences = differing_rows(full, daily)
        if changes == COUNTRY_CORRECTED:
            # Past days of active users by segment keep the country they were counted in (docs/metrics.md).
            assert differences.pop("marts.fct_active_users_segment_daily") > 0
        assert differences and set(differences.values()) == {0}, {k: v for k, v in differences.items() if v}


def assert_succeeded(outcome):
    assert outcome.success, (outcome.failures, outcome.failed_checks)
