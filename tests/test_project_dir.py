"""A company's own project directory (kpiwatch/project.py, `kpiwatch init`): one precedence for settings
(environment over kpiwatch.yml over defaults), the project's own files used by convention, and every malformed
file, key or argument refused through the real CLI with exit 2 and one line. Fast: nothing here runs the job
(tests/test_wheel.py runs a project made by `kpiwatch init` end to end)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpiwatch.paths import DEFAULT_CHECKS_FILE
from kpiwatch.project_init import init_project
from kpiwatch.settings import KNOWN_VARIABLES, load_settings


def kpiwatch(*args: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "kpiwatch.cli", *args], capture_output=True, text=True, env={**env, **variables}, cwd=cwd
    )


@pytest.fixture
def project(tmp_path) -> Path:
    directory = tmp_path / "acme"
    init_project(directory, KNOWN_VARIABLES)
    return directory


def write_settings(project: Path, text: str) -> None:
    (project / "kpiwatch.yml").write_text(text)


def test_the_environment_wins_over_the_file_and_the_file_over_the_defaults(project, tmp_path):
    write_settings(project, "settings:\n  lookback_days: 5\n  segment_top_n: 7\n  report_dir: out/reports\n")
    from_file = load_settings({"KPIWATCH_PROJECT_DIR": str(project)})
    assert (from_file.lookback_days, from_file.segment_top_n) == (5, 7)
    assert from_file.report_dir == project / "out" / "reports"  # a relative path is read from the project
    both = load_settings({"KPIWATCH_PROJECT_DIR": str(project), "KPIWATCH_LOOKBACK_DAYS": "9"})
    assert (both.lookback_days, both.segment_top_n) == (9, 7)
    neither = load_settings({}, cwd=tmp_path)  # no kpiwatch.yml here: kpiwatch's own defaults
    assert (neither.lookback_days, neither.segment_top_n, neither.project.directory) == (3, 20, None)


def test_the_current_directory_is_the_project_when_it_holds_kpiwatch_yml(project):
    found = load_settings({}, cwd=project)
    assert found.project.directory == project
    # Its own files by convention, and its data under it.
    assert found.checks_config == project / "checks.yml"
    assert found.seeds_dir == project / "seeds"
    assert found.dbt_profiles_dir == project
    assert found.duckdb_path == project / "data" / "kpiwatch.duckdb"
    assert found.dagster_home == project / ".dagster_home"
    assert found.dbt_target_dir == project / "data" / "dbt_target"
    (project / "checks.yml").unlink()  # a file deleted falls back to kpiwatch's own
    assert load_settings({}, cwd=project).checks_config == DEFAULT_CHECKS_FILE


def test_config_names_each_value_and_where_it_came_from(project, tmp_path):
    write_settings(project, "settings:\n  lookback_days: 5\n  environment: acme\n")
    done = kpiwatch("--project", str(project), "config", cwd=tmp_path, KPIWATCH_ENVIRONMENT="staging")
    assert done.returncode == 0, done.stderr
    assert f"  lookback_days = 5   [{project / 'kpiwatch.yml'}]" in done.stdout
    assert "  environment = staging   [environment]" in done.stdout
    assert f"  seeds             {project / 'seeds'}" in done.stdout
    inside = kpiwatch("config", cwd=project)
    assert f"Project file: {project / 'kpiwatch.yml'}" in inside.stdout


def test_init_writes_a_project_whose_file_loads_and_never_overwrites(project, tmp_path):
    text = (project / "kpiwatch.yml").read_text()
    assert "  # lookback_days:  # days before" in text and "sentry_dsn: environment only" in text
    assert load_settings({"KPIWATCH_PROJECT_DIR": str(project)}).push.environment == "acme"
    assert {p.name for p in (project / "seeds").iterdir()} == {"fx_rates.csv", "feature_map.csv"}
    again = kpiwatch("init", str(project), cwd=tmp_path)
    assert (again.returncode, again.stdout) == (2, "")
    assert (
        again.stderr
        == f"kpiwatch: {project / 'kpiwatch.yml'} already exists; nothing was written (init never overwrites).\n"
    )


SECRET = "settings:\n  snowflake_password: hunter2\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings: [1, 2\n", "{file}: is not valid YAML at line 2."),
        ("- lookback_days\n", "{file}: must be a mapping with a `settings:` section."),
        (
            "setings:\n  lookback_days: 3\n",
            "{file}: unknown section 'setings'; the file holds `settings:` and `sources:`.",
        ),
        ("sources: stripe\n", "{file}: `sources:` must be a mapping of table: adapter (and `schemas:`)."),
        (
            "sources:\n  payments: stripe_fivetran\n",
            "{file}: sources: unknown table 'payments'; use users, subscriptions, events, marketing_spend "
            "(and schemas).",
        ),
        ("sources:\n  subscriptions: [stripe_fivetran]\n", "{file}: 'sources.subscriptions' must be a single name."),
        ("sources:\n  schemas:\n    chargebee: billing\n", "{file}: sources.schemas: unknown adapter 'chargebee'."),
        (
            "sources:\n  subscriptions: stripe\n",
            "{file}: source_subscriptions: KPIWATCH_SOURCE_SUBSCRIPTIONS='stripe' is not a known source; use one of: "
            "contract, stripe_fivetran, stripe_airbyte, ad_reporting, segment, rudderstack, snowplow.",
        ),
        ("settings: 3\n", "{file}: `settings:` must be a mapping of setting: value."),
        (
            "settings:\n  lookback_dayz: 3\n",
            "{file}: unknown setting 'lookback_dayz'; `kpiwatch config` lists every setting.",
        ),
        (
            "settings:\n  KPIWATCH_LOOKBACK_DAYS: 3\n",
            "{file}: unknown setting 'KPIWATCH_LOOKBACK_DAYS'; `kpiwatch config` lists every setting.",
        ),
        (
            SECRET,
            "{file}: 'snowflake_password' holds a secret; set KPIWATCH_SNOWFLAKE_PASSWORD in the environment, "
            "never in a file.",
        ),
        (
            "settings:\n  dagster_pg_host: db\n",
            "{file}: 'dagster_pg_host' is read by Dagster from the environment (KPIWATCH_DAGSTER_PG_HOST), "
            "not from this file.",
        ),
        ("settings:\n  lookback_days: [3]\n", "{file}: 'lookback_days' must be a single value (text, number or date)."),
        ("settings:\n  lookback_days:\n", "{file}: 'lookback_days' must be a single value (text, number or date)."),
        (
            "settings:\n  lookback_days: 400\n",
            "{file}: lookback_days: KPIWATCH_LOOKBACK_DAYS='400' is not a number of days from 0 to 366.",
        ),
        (
            "settings:\n  target: oracle\n",
            "{file}: target: KPIWATCH_TARGET='oracle' is not a known target; use one of: duckdb (dev), snowflake.",
        ),
        (
            "settings:\n  seeds_dir: nowhere\n",
            "{file}: seeds_dir: KPIWATCH_SEEDS_DIR='{project}/nowhere' is not a folder; it holds fx_rates.csv "
            "and feature_map.csv.",
        ),
    ],
)
def test_a_malformed_project_file_is_refused_naming_the_file_and_key(project, tmp_path, text, message):
    write_settings(project, text)
    done = kpiwatch("--project", str(project), "config", cwd=tmp_path)
    expected = message.format(file=project / "kpiwatch.yml", project=project)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"kpiwatch: {expected}\n")
    assert "hunter2" not in done.stderr


def test_a_bad_project_directory_or_seed_is_refused_in_one_line(project, tmp_path):
    missing = (
        f"Project directory '{tmp_path / 'none'}' does not exist; create one with `kpiwatch init {tmp_path / 'none'}`."
    )
    cases = [
        (
            ("--project", str(tmp_path / "none"), "config"),
            {},
            missing,
        ),
        (
            ("--project", str(tmp_path), "config"),
            {},
            f"Project directory '{tmp_path}' has no kpiwatch.yml; create one with `kpiwatch init {tmp_path}`.",
        ),
        (("--project", " ", "config"), {}, "--project needs a directory, e.g. --project ./analytics/kpiwatch."),
        (
            ("config",),
            {"KPIWATCH_PROJECT_DIR": str(tmp_path / "none")},
            missing,
        ),
        (
            ("init", str(project / "checks.yml")),
            {},
            f"{project / 'checks.yml'} is a file; `kpiwatch init` needs a directory (new or empty of its files).",
        ),
    ]
    for args, variables, message in cases:
        done = kpiwatch(*args, cwd=tmp_path, **variables)
        assert (done.returncode, done.stderr) == (2, f"kpiwatch: {message}\n"), args
    (project / "seeds" / "fx_rates.csv").unlink()
    done = kpiwatch("config", cwd=project)
    assert (done.returncode, done.stderr) == (
        2,
        f"kpiwatch: KPIWATCH_SEEDS_DIR='{project / 'seeds'}' has no fx_rates.csv; it holds fx_rates.csv and "
        "feature_map.csv.\n",
    )
    (project / "seeds" / "fx_rates.csv").write_text("code,rate\nEUR,1.1\n")
    done = kpiwatch("run", "--as-of", "2024-03-31", cwd=project)
    assert (done.returncode, done.stderr) == (
        2,
        f"kpiwatch: {project / 'seeds' / 'fx_rates.csv'}: expected a header `currency,usd_per_unit` and one row "
        "per currency.\n",
    )
