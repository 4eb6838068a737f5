"""`kpiwatch generate --shape`: the sample company as the connectors deliver it, Stripe billing and a tracker's events
together as a real company holds them, read through the source adapters, gives every raw table and mart of the
same company in contract shape (same seed), month by month and day by day.

Each billing shape and each tracker with its own landing rules (Segment / RudderStack share theirs) is covered by
one of the two combined companies; the contract company is built once for both."""

import datetime as dt

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import differing_rows, query_one

pytestmark = pytest.mark.slow
COMPANY = {"users": 300, "days": 200, "seed": 8}
AS_OF = dt.date(2024, 3, 31)


def generated_and_run(directory, shape: str, env: dict[str, str], job_settings):
    """The company generated in `shape` and run once through `env`'s adapters."""
    options = GenerateOptions(out=directory / "company.duckdb", shape=shape, as_of=AS_OF, **COMPANY)
    generate(options, progress=False, log=lambda _: None)
    outcome = run_once(job_settings(options.out, directory / "home", env=env), AS_OF)
    assert outcome.success, (shape, outcome.failures, outcome.failed_checks)
    return options.out


@pytest.fixture(scope="module")
def contract_company(tmp_path_factory, job_settings):
    return generated_and_run(tmp_path_factory.mktemp("contract"), "contract", {}, job_settings)


@pytest.mark.parametrize(
    ("shape", "env", "billing_table", "tracked_table"),
    [
        (
            "stripe_fivetran,segment",
            {
                "KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_fivetran",
                "KPIWATCH_SOURCE_EVENTS": "segment",
                "KPIWATCH_SOURCE_USERS": "segment",
            },
            "stripe.invoice_line_item",
            "segment.tracks",
        ),
        (
            "stripe_airbyte,snowplow",
            {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_airbyte", "KPIWATCH_SOURCE_EVENTS": "snowplow"},
            "stripe.invoice_line_items",
            "atomic.events",
        ),
    ],
)
def test_a_company_generated_in_connector_shapes_gives_the_marts_of_its_contract_shape(
    shape, env, billing_table, tracked_table, contract_company, tmp_path, job_settings
):
    """Subscriptions as Fivetran's Stripe schema or Airbyte's streams (no Fivetran table left beside them), events
    as the tracker delivers them (anonymous events, retries in later loads), Segment's users as its identifies:
    landed through the adapters they are the contract's events and users, one for one, and every mart is equal."""
    shaped = generated_and_run(tmp_path, shape, env, job_settings)
    assert query_one(shaped, f"select count(*) from {billing_table}")[0]
    if "airbyte" in shape:
        assert query_one(shaped, "select count(*) from information_schema.tables where table_name = 'price'") == (0,)
    delivered, anonymous = query_one(shaped, f"select count(*), count(*) - count(user_id) from {tracked_table}")
    assert delivered > query_one(contract_company, "select count(*) from raw.events")[0] and anonymous > 0
    differences = differing_rows(contract_company, shaped, ("raw", "marts"))
    # Through a Stripe adapter raw.subscriptions has a row per priced period (an invoice line), the contract's
    # generator a row per plan held: the same revenue, cut differently; the marts built from it must be equal.
    assert differences.pop("raw.subscriptions") > 0
    assert {"raw.events", "raw.users", "marts.fct_active_users_daily", "marts.fct_mrr_monthly"} <= set(differences)
    assert "marts.fct_customer_mrr_monthly" in differences
    assert set(differences.values()) == {0}, {k: v for k, v in differences.items() if v}
