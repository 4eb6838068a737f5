"""The sample-data generator: deterministic, realistic enough to exercise every metric, contract-shaped."""

import datetime as dt

import duckdb
import pytest

from kpiwatch.errors import KpiwatchError
from kpiwatch.sample.generate import GenerateOptions, add_months, generate
from kpiwatch.warehouse import DuckDBWarehouse, ensure_raw_contract

AS_OF = dt.date(2024, 6, 30)


def fingerprint(path) -> dict:
    """Order-independent content hash of every raw table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"select count(*), sum(hash(t)) from raw.{t} t").fetchone()
            for t in ("users", "subscriptions", "events", "marketing_spend")
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "a.duckdb"
    generate(GenerateOptions(out=path, as_of=AS_OF, users=1500, days=200, seed=7), progress=False, log=lambda _: None)
    return path


def test_same_seed_gives_the_same_data(sample, tmp_path):
    again = tmp_path / "b.duckdb"
    generate(GenerateOptions(out=again, as_of=AS_OF, users=1500, days=200, seed=7), progress=False, log=lambda _: None)
    assert fingerprint(again) == fingerprint(sample)


def test_another_seed_gives_other_data(sample, tmp_path):
    other = tmp_path / "c.duckdb"
    generate(GenerateOptions(out=other, as_of=AS_OF, users=1500, days=200, seed=8), progress=False, log=lambda _: None)
    assert fingerprint(other)["events"] != fingerprint(sample)["events"]


def test_generated_tables_satisfy_the_contract(sample):
    ensure_raw_contract(DuckDBWarehouse(sample))


def test_generated_company_has_every_lifecycle_the_metrics_need(sample):
    con = duckdb.connect(str(sample), read_only=True)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    try:
        assert one("select count(distinct currency) from raw.subscriptions") >= 4
        assert one("select count(*) from raw.subscriptions where billing_interval = 'year'") > 0
        assert (
            one("select count(*) from (select subscription_id from raw.subscriptions group by 1 having count(*) > 1)")
            > 0
        )
        assert one("select count(*) from raw.subscriptions where ended_at is not null") > 0
        # Reactivation: a user with two main-plan subscriptions, the first ended before the second began.
        assert (
            one("""select count(*) from raw.subscriptions a join raw.subscriptions b
                      on a.user_id = b.user_id and a.subscription_id < b.subscription_id
                      and a.plan <> 'seats' and b.plan <> 'seats' and a.ended_at <= b.started_at""")
            > 0
        )
        assert one("select count(*) from raw.subscriptions where plan = 'seats'") > 0
        assert one("select count(distinct channel) from raw.marketing_spend") == 5
        assert (
            one("select count(*) from raw.events e join raw.users u using (user_id) where e.occurred_at < u.created_at")
            == 0
        )
        assert one("select count(*) - count(distinct event_id) from raw.events") == 0
        assert one("select max(occurred_at) < timestamp '2024-07-01' from raw.events")
        weekday, weekend = con.execute(
            "select avg(n) filter (where isodow(d) < 6), avg(n) filter (where isodow(d) >= 6) "
            "from (select cast(occurred_at as date) d, count(*) n from raw.events group by 1)"
        ).fetchone()
        assert weekend < 0.7 * weekday
    finally:
        con.close()


def test_existing_raw_tables_are_not_replaced_without_force(sample):
    with pytest.raises(KpiwatchError, match="pass --force to replace them"):
        generate(GenerateOptions(out=sample, as_of=AS_OF, users=10, days=10), progress=False, log=lambda _: None)


def test_month_arithmetic_clips_to_the_last_day():
    assert add_months(dt.datetime(2024, 1, 31, 12), 1) == dt.datetime(2024, 2, 29, 12)
    assert add_months(dt.datetime(2023, 11, 30), 3) == dt.datetime(2024, 2, 29)
