"""`kpiwatch init DIR`: a company's own project, small and commented, to keep in its own repository.

It holds what a company changes (settings, check thresholds, anomaly bands, its reference seeds, a dbt profile)
and nothing kpiwatch owns, so upgrading kpiwatch never touches it: files kpiwatch reads by convention are
copies of its defaults to edit, and a file deleted falls back to kpiwatch's own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from kpiwatch.errors import ConfigError
from kpiwatch.paths import DBT_PROJECT_DIR, DEFAULT_ANOMALIES_FILE, DEFAULT_CHECKS_FILE
from kpiwatch.project import NOT_IN_FILE, PREFIX, PROJECT_FILE, SECRET_SETTINGS
from kpiwatch.source_settings import SOURCE_VARIABLES

# What init copies from kpiwatch's defaults: project file name -> source.
COPIED = {
    "checks.yml": DEFAULT_CHECKS_FILE,
    "anomalies.yml": DEFAULT_ANOMALIES_FILE,
    "seeds/fx_rates.csv": DBT_PROJECT_DIR / "seeds" / "fx_rates.csv",
    "seeds/feature_map.csv": DBT_PROJECT_DIR / "seeds" / "feature_map.csv",
    "profiles.yml": DBT_PROJECT_DIR / "profiles.yml",
}
GITIGNORE = "# Written by runs: the warehouse, reports, dbt artifacts, the Dagster instance.\ndata/\n.dagster_home/\n"
# metrics/example.yml: one metric from declaration to query, commented out so a new project declares nothing.
EXAMPLE_METRICS = "metrics/example.yml"
EXAMPLE_METRICS_TEXT = """\
# Your own metrics, declared in dbt's semantic layer (MetricFlow, the legacy spec of dbt 1.11): semantic models
# over kpiwatch's marts or staging models, and simple, ratio, cumulative or derived metrics over their measures
# and kpiwatch's own metrics (`kpiwatch metrics list`). Uncomment to try, then:
#   kpiwatch metrics query report_exports,exports_per_active_user --start 2026-11-01
# What a declaration may contain: docs/metrics-as-code.md. This folder holds YAML only.
#
# semantic_models:
#   - name: product_events
#     description: One row per product event (kpiwatch's staging view of raw.events).
#     model: ref('stg_events')
#     defaults:
#       agg_time_dimension: activity_date
#     entities:
#       - name: product_event
#         type: primary
#         expr: event_id
#     dimensions:
#       - name: activity_date
#         type: time
#         type_params:
#           time_granularity: day
#       - name: event_name
#         type: categorical
#     measures:
#       - name: report_exports
#         agg: sum
#         expr: "case when event_name = 'report_export' then 1 else 0 end"
#
# metrics:
#   - name: report_exports
#     label: Report exports
#     description: Reports exported in the UTC day.
#     type: simple
#     type_params:
#       measure: report_exports
#   - name: exports_per_active_user
#     label: Exports per active user
#     description: Report exports divided by the day's active users (kpiwatch's dau).
#     type: ratio
#     type_params:
#       numerator: report_exports
#       denominator: dau
"""
# Settings written uncommented: a project starts on the embedded warehouse and says which environment it is.
ACTIVE = {"KPIWATCH_TARGET": "dev", "KPIWATCH_DUCKDB_PATH": "data/kpiwatch.duckdb"}

HEADER = """\
# kpiwatch project ({name}). `kpiwatch` uses this directory when started in it, with `--project {name}`, or
# with KPIWATCH_PROJECT_DIR set to it.
#
# Settings are the KPIWATCH_* environment variables in lower case without the prefix: `lookback_days: 5` is
# KPIWATCH_LOOKBACK_DAYS=5. One precedence: a variable set in the environment wins over this file, this file
# over kpiwatch's defaults. Relative paths are read from this directory. Secrets (passwords, keys, the Sentry
# DSN) are refused here: set them in the environment. `kpiwatch config` shows every value and where it came from.
#
# Files kpiwatch reads from this directory when they exist (delete one to use kpiwatch's own):
#   checks.yml            severities and thresholds of the data-quality checks (docs/checks.md)
#   anomalies.yml         when a business series is anomalous enough to alert (docs/alerts.md)
#   seeds/fx_rates.csv    USD per unit of every currency you bill in; seeds/feature_map.csv: event -> feature
#   metrics/              your own metrics in dbt's semantic layer YAML (metrics/example.yml; docs/metrics-as-code.md)
#   profiles.yml          the dbt profile (dev = DuckDB, snowflake); values come from KPIWATCH_SNOWFLAKE_* variables
#   data/                 the embedded warehouse, reports and dbt artifacts (ignored by git)
"""


SOURCES_SECTION = """
# Where each contract table comes from (docs/sources.md). Without this section every table is read as you load
# it into raw.<table> (docs/data-contract.md); an adapter reads a connector's own schema instead.
# sources:
#   subscriptions: stripe_fivetran    # Stripe as Fivetran syncs it: MRR on Stripe's own semantics
#   users: stripe_fivetran            # users from Stripe's customers
#   events: segment                   # or rudderstack, snowplow: events landed from the tracker day by day
#   marketing_spend: ad_reporting     # Fivetran's ad_reporting package (source_ad_reporting_channel above)
#   schemas:
#     stripe_fivetran: stripe         # the schema Fivetran writes to (or database.schema)
#     segment: segment                # your Segment source's schema
#     ad_reporting: ad_reporting      # where the ad_reporting models are built"""


def project_file_text(name: str, known: Mapping[str, str]) -> str:
    """kpiwatch.yml: the active settings, then every other setting commented out with what it does."""
    lines = [HEADER.format(name=name), "settings:"]
    lines += [f"  {key_of(variable)}: {value}" for variable, value in ACTIVE.items()]
    lines.append(f"  environment: {json.dumps(name)}  # the environment label of every pushed gauge")
    for variable, description in sorted(known.items()):
        if variable in ACTIVE or variable in NOT_IN_FILE or variable == "KPIWATCH_ENVIRONMENT":
            continue
        if variable in SOURCE_VARIABLES:  # in the sources: section below
            continue
        if variable in SECRET_SETTINGS:
            lines.append(f"  # ({key_of(variable)}: environment only, {variable})")
        else:
            lines.append(f"  # {key_of(variable)}:  # {description}")
    return "\n".join([*lines, SOURCES_SECTION]) + "\n"


def key_of(variable: str) -> str:
    return variable.removeprefix(PREFIX).lower()


def init_project(directory: Path, known: Mapping[str, str]) -> list[Path]:
    """Write the project; refuse, writing nothing, when any of its files already exists."""
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file; `kpiwatch init` needs a directory (new or empty of its files).")
    names = [PROJECT_FILE, *COPIED, EXAMPLE_METRICS, ".gitignore"]
    existing = [name for name in names if (directory / name).exists()]
    if existing:
        raise ConfigError(f"{directory / existing[0]} already exists; nothing was written (init never overwrites).")
    written = []
    for name, source in COPIED.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    (directory / EXAMPLE_METRICS).parent.mkdir(exist_ok=True)
    (directory / EXAMPLE_METRICS).write_text(EXAMPLE_METRICS_TEXT)
    (directory / ".gitignore").write_text(GITIGNORE)
    (directory / PROJECT_FILE).write_text(project_file_text(directory.name, known))
    return [directory / PROJECT_FILE, *written, directory / EXAMPLE_METRICS, directory / ".gitignore"]
