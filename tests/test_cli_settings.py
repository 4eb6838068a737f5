"""Settings and arguments added with the runtime redesign, given malformed values through the real CLI:
exit code 2 and one line naming the setting, never a traceback. Fast: each fails before any run starts."""

import os
import subprocess
import sys

import pytest

from kpiwatch.settings import load_settings
from tests.monitoring_helpers import free_port


def kpiwatch(*args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", *args], capture_output=True, text=True, env={**env, **variables}
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"KPIWATCH_PRESTART": "sometimes"}, "kpiwatch: KPIWATCH_PRESTART='sometimes' must be on, off, gx or dbt.\n"),
        (
            {"KPIWATCH_PUSHGATEWAY_URL": "gw:9091"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_URL='gw:9091' must start with http:// or https:// (or be 'off').\n",
        ),
        (
            {"KPIWATCH_PUSHGATEWAY_ATTEMPTS": "many"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_ATTEMPTS='many' must be a whole number from 1 to 10.\n",
        ),
        (
            {"KPIWATCH_PUSHGATEWAY_ATTEMPTS": "2.7"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_ATTEMPTS='2.7' must be a whole number from 1 to 10.\n",
        ),
        (
            {"KPIWATCH_PUSHGATEWAY_ATTEMPTS": "20"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_ATTEMPTS='20' must be a whole number from 1 to 10.\n",
        ),
        (
            {"KPIWATCH_SEGMENT_TOP_N": "0"},
            "kpiwatch: KPIWATCH_SEGMENT_TOP_N='0' must be a whole number from 1 to 500.\n",
        ),
        (
            {"KPIWATCH_SEGMENT_TOP_N": "all"},
            "kpiwatch: KPIWATCH_SEGMENT_TOP_N='all' must be a whole number from 1 to 500.\n",
        ),
        (
            {"KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS": "3600"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS='3600' must be between 0.1 and 300.\n",
        ),
        (
            {"KPIWATCH_PUSHGATEWAY_URL": "http://kpi:s3cret-pw@127.0.0.1:9091"},
            "kpiwatch: KPIWATCH_PUSHGATEWAY_URL contains credentials (user:password@); put them in "
            "KPIWATCH_PUSHGATEWAY_USERNAME and KPIWATCH_PUSHGATEWAY_PASSWORD instead.\n",
        ),
        (
            {"KPIWATCH_RESTATEMENT_TOLERANCE": "1%"},
            "kpiwatch: KPIWATCH_RESTATEMENT_TOLERANCE='1%' is not a number.\n",
        ),
        (
            {"KPIWATCH_RESTATEMENT_TOLERANCE": "-0.01"},
            "kpiwatch: KPIWATCH_RESTATEMENT_TOLERANCE='-0.01' must be between 0 and 1.\n",
        ),
        (
            {"KPIWATCH_SLOW_MODEL_FACTOR": "3x"},
            "kpiwatch: KPIWATCH_SLOW_MODEL_FACTOR='3x' is not a number.\n",
        ),
        (
            {"KPIWATCH_SLOW_MODEL_FACTOR": "1"},
            "kpiwatch: KPIWATCH_SLOW_MODEL_FACTOR='1' must be between 1.1 and 100.\n",
        ),
        (
            {"KPIWATCH_COST_SPIKE_FACTOR": "double"},
            "kpiwatch: KPIWATCH_COST_SPIKE_FACTOR='double' is not a number.\n",
        ),
        (
            {"KPIWATCH_COST_SPIKE_FACTOR": "0.5"},
            "kpiwatch: KPIWATCH_COST_SPIKE_FACTOR='0.5' must be between 1.1 and 100.\n",
        ),
        (
            {
                "KPIWATCH_TARGET": "snowflake",
                "KPIWATCH_SNOWFLAKE_ACCOUNT": "acme-x1",
                "KPIWATCH_SNOWFLAKE_USER": "kpiwatch",
                "KPIWATCH_SNOWFLAKE_DATABASE": "KPIWATCH",
                "KPIWATCH_SNOWFLAKE_PASSWORD": "not-shown-anywhere",
                "KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE": "huge",
            },
            "kpiwatch: KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE='huge' is not a Snowflake warehouse size; use one of: "
            "X-SMALL, SMALL, MEDIUM, LARGE, X-LARGE, 2X-LARGE, 3X-LARGE, 4X-LARGE, 5X-LARGE, 6X-LARGE.\n",
        ),
        (
            {"KPIWATCH_LOG_FORMAT": "xml"},
            "kpiwatch: KPIWATCH_LOG_FORMAT='xml' must be text or json.\n",
        ),
        (
            {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe"},
            "kpiwatch: KPIWATCH_SOURCE_SUBSCRIPTIONS='stripe' is not a known source; use one of: contract, "
            "stripe_fivetran, stripe_airbyte, ad_reporting, segment, rudderstack, snowplow.\n",
        ),
        (
            {"KPIWATCH_SOURCE_EVENTS": "stripe_fivetran"},
            "kpiwatch: KPIWATCH_SOURCE_EVENTS=stripe_fivetran: the stripe_fivetran adapter does not provide "
            "raw.events (it provides subscriptions, users).\n",
        ),
        (
            {"KPIWATCH_SOURCE_USERS": "stripe_fivetran", "KPIWATCH_SOURCE_STRIPE_FIVETRAN_SCHEMA": "stripe; drop"},
            "kpiwatch: KPIWATCH_SOURCE_STRIPE_FIVETRAN_SCHEMA='stripe; drop' is not a schema name; use letters, "
            "digits and _ (e.g. stripe, or fivetran.stripe).\n",
        ),
        (
            {"KPIWATCH_SOURCE_EVENTS": "segmnt"},
            "kpiwatch: KPIWATCH_SOURCE_EVENTS='segmnt' is not a known source; use one of: contract, "
            "stripe_fivetran, stripe_airbyte, ad_reporting, segment, rudderstack, snowplow.\n",
        ),
        (
            {"KPIWATCH_SOURCE_USERS": "snowplow"},
            "kpiwatch: KPIWATCH_SOURCE_USERS=snowplow: the snowplow adapter does not provide raw.users "
            "(it provides events).\n",
        ),
        (
            {"KPIWATCH_SOURCE_EVENTS": "snowplow", "KPIWATCH_SOURCE_SNOWPLOW_SCHEMA": "atomic.events.x"},
            "kpiwatch: KPIWATCH_SOURCE_SNOWPLOW_SCHEMA='atomic.events.x' is not a schema name; use letters, "
            "digits and _ (e.g. stripe, or fivetran.stripe).\n",
        ),
        (
            {"KPIWATCH_SOURCE_MARKETING_SPEND": "ad_reporting", "KPIWATCH_SOURCE_AD_REPORTING_CHANNEL": "adgroup"},
            "kpiwatch: KPIWATCH_SOURCE_AD_REPORTING_CHANNEL='adgroup' must be platform or campaign.\n",
        ),
        (
            {"KPIWATCH_SOURCE_MARKETING_SPEND": "ad_reporting", "KPIWATCH_SOURCE_AD_REPORTING_CURRENCY": "dollars"},
            "kpiwatch: KPIWATCH_SOURCE_AD_REPORTING_CURRENCY='dollars' is not an ISO 4217 code (e.g. USD).\n",
        ),
        (
            {"KPIWATCH_TARGET": "oracle"},
            "kpiwatch: KPIWATCH_TARGET='oracle' is not a known target; use one of: duckdb (dev), snowflake.\n",
        ),
    ],
)
def test_a_malformed_setting_stops_the_run_with_one_line(variables, message):
    done = kpiwatch("run", **variables)
    assert (done.returncode, done.stderr, done.stdout) == (2, message, "")


def test_a_dbt_target_dir_that_is_a_file_is_reported(tmp_path):
    file = tmp_path / "target"
    file.write_text("not a directory")
    done = kpiwatch("run", KPIWATCH_DBT_TARGET_DIR=str(file))
    assert done.returncode == 2
    assert done.stderr == (
        f"kpiwatch: KPIWATCH_DBT_TARGET_DIR='{file}' is a file; point it at a directory (it is created if missing).\n"
    )


def test_an_unknown_variable_is_reported_before_the_command_goes_on(tmp_path):
    done = kpiwatch("run", KPIWATCH_LOOKBAK_DAYS="3", KPIWATCH_DUCKDB_PATH=str(tmp_path / "none.duckdb"))
    assert done.returncode == 2
    first, second = done.stderr.splitlines()
    assert first == "kpiwatch: warning: ignoring unknown variables: KPIWATCH_LOOKBAK_DAYS"
    assert second.startswith(f"kpiwatch: DuckDB file {tmp_path / 'none.duckdb'} does not exist.")


def test_variables_read_by_the_postgres_instance_config_are_known(tmp_path):
    done = kpiwatch("run", KPIWATCH_DAGSTER_PG_HOST="127.0.0.1", KPIWATCH_DUCKDB_PATH=str(tmp_path / "none.duckdb"))
    assert "unknown variables" not in done.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://127.0.0.1:9093",
            "kpiwatch: --url 'ftp://127.0.0.1:9093' must start with http:// or https://, e.g. http://127.0.0.1:9093.\n",
        ),
        ("not a url", "kpiwatch: --url 'not a url' must start with http:// or https://, e.g. http://127.0.0.1:9093.\n"),
    ],
)
def test_alerts_rejects_a_malformed_url(url, message):
    done = kpiwatch("alerts", "--url", url)
    assert (done.returncode, done.stderr) == (2, message)


def test_alerts_names_an_alertmanager_that_does_not_answer():
    url = f"http://127.0.0.1:{free_port()}"
    done = kpiwatch("alerts", "--url", url)
    assert done.returncode == 2
    assert done.stderr.startswith(f"kpiwatch: Alertmanager at {url} did not answer (")
    assert done.stderr.endswith("start the local stack with `kpiwatch stack up` or pass --url.\n")
    assert len(done.stderr.splitlines()) == 1


def test_stack_rejects_an_unknown_action():
    done = kpiwatch("stack", "sideways")
    assert done.returncode == 2
    assert "invalid choice: 'sideways'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("value", "workers"),
    [("", {"gx", "dbt"}), ("on", {"gx", "dbt"}), ("OFF", set()), ("gx", {"gx"}), (" dbt ", {"dbt"})],
)
def test_prestart_names_the_workers_a_run_starts_first(value, workers):
    """Each worker on its own is for measuring what it buys (benchmarks/startup.py)."""
    assert load_settings({"KPIWATCH_PRESTART": value}).prestart == workers


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--shape", "stripe"],
            "kpiwatch: --shape 'stripe' is not a known shape; use one of: contract, stripe_fivetran, stripe_airbyte, "
            "segment, rudderstack, snowplow.\n",
        ),
        (
            ["--shape", "stripe_fivetran,segmnt"],
            "kpiwatch: --shape 'segmnt' is not a known shape; use one of: contract, stripe_fivetran, stripe_airbyte, "
            "segment, rudderstack, snowplow.\n",
        ),
        (
            ["--shape", "segment,snowplow"],
            "kpiwatch: --shape 'segment,snowplow' names two shapes of the same data; combine at most one of "
            "stripe_fivetran / stripe_airbyte with one of segment / rudderstack / snowplow.\n",
        ),
        (
            ["--shape", "contract,segment"],
            "kpiwatch: --shape 'contract,segment': contract is every table as it is; it combines with no other "
            "shape.\n",
        ),
        (
            ["--shape", "stripe_fivetran", "--inject", "negative_amount"],
            "kpiwatch: --inject breaks the contract tables: use it without --shape (or --shape contract).\n",
        ),
    ],
)
def test_generate_refuses_an_unknown_shape_in_one_line(tmp_path, arguments, message):
    done = kpiwatch("generate", "--out", str(tmp_path / "w.duckdb"), "--users", "5", "--days", "3", *arguments)
    assert (done.returncode, done.stderr, done.stdout) == (2, message, "")
    assert not (tmp_path / "w.duckdb").exists()
