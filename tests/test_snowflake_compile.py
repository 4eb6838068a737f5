"""Every dbt model compiles for the Snowflake target, offline, with dummy credentials."""

import json
import os
import subprocess

import pytest

from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow
SECRET = "pw-that-must-never-be-logged-7f3a"


def compile_for_snowflake(tmp_path, **sources):
    env = {
        **os.environ,
        "KPIWATCH_SNOWFLAKE_ACCOUNT": "dummy-account",
        "KPIWATCH_SNOWFLAKE_USER": "dummy",
        "KPIWATCH_SNOWFLAKE_PASSWORD": SECRET,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **sources,  # source adapters are disabled unless chosen
    }
    done = subprocess.run(
        [
            beside_interpreter("dbt"),
            "compile",
            "--target",
            "snowflake",
            "--no-introspect",
            "--no-populate-cache",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--vars",
            json.dumps({"as_of": "2024-05-20"}),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done, tmp_path / "target" / "compiled" / "kpiwatch" / "models"


def test_every_model_compiles_for_snowflake_without_an_account(tmp_path):
    done, compiled = compile_for_snowflake(
        tmp_path,
        KPIWATCH_SOURCE_SUBSCRIPTIONS="stripe_fivetran",
        KPIWATCH_SOURCE_USERS="stripe_fivetran",
        KPIWATCH_SOURCE_MARKETING_SPEND="ad_reporting",
        KPIWATCH_SOURCE_EVENTS="segment",
        KPIWATCH_SOURCE_STRIPE_FIVETRAN_SCHEMA="fivetran.stripe",
    )
    models = {p.stem for p in compiled.rglob("*.sql")}
    # One adapter per table at a time: the others compile in their own tests (test_stripe_airbyte.py,
    # test_event_trackers.py, on fakesnow), as do Segment's users.
    others = {"stripe_airbyte", "rudderstack", "snowplow", "segment__signups.sql"}
    sources = {p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql") if not others & set(p.parts)}
    assert sources <= models, sorted(sources - models)
    spine = (compiled / "intermediate" / "int_month_spine.sql").read_text()
    assert "table(generator(rowcount => 1200))" in spine  # Snowflake's own series, not DuckDB's range()
    stripe = (compiled / "sources" / "stripe_fivetran" / "stripe_fivetran__subscriptions.sql").read_text()
    assert "fivetran.stripe.invoice_line_item" in stripe and "convert_timezone('UTC', " in stripe
    logged = done.stdout + done.stderr + (tmp_path / "logs" / "dbt.log").read_text()
    assert SECRET not in logged


def test_the_airbyte_stripe_adapter_compiles_for_snowflake_with_its_variant_and_epoch_syntax(tmp_path):
    _, compiled = compile_for_snowflake(
        tmp_path, KPIWATCH_SOURCE_SUBSCRIPTIONS="stripe_airbyte", KPIWATCH_SOURCE_USERS="stripe_airbyte"
    )
    stripe = (compiled / "sources" / "stripe_airbyte" / "stripe_airbyte__subscriptions.sql").read_text()
    assert "cast(lines.period:start as varchar)" in stripe and "dateadd(second, cast(" in stripe
    assert (compiled / "sources" / "stripe_airbyte" / "stripe_airbyte__users.sql").exists()
