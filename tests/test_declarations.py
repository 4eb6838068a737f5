"""A company's own metrics, declared in its project's metrics/ folder (dbt semantic layer YAML): one declared
metric queried through the real CLI with numbers worked out by hand, and every bad declaration refused before
dbt runs with exit 2 and one sentence naming the file, the metric and the field."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kpiwatch.project_init import EXAMPLE_METRICS
from kpiwatch.settings import KNOWN_VARIABLES

pytestmark = pytest.mark.slow


def kpiwatch(project: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    command = [sys.executable, "-m", "kpiwatch.cli", "--project", str(project), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**env, **variables}, cwd=project.parent)


def uncommented(text: str) -> str:
    """metrics/example.yml with its declaration uncommented (the lines after the blank comment line)."""
    body = text.split("#\n", 1)[1]
    return "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines()) + "\n"


@pytest.fixture
def project(tmp_path) -> Path:
    from kpiwatch.project_init import init_project

    directory = tmp_path / "acme"
    init_project(directory, KNOWN_VARIABLES)
    return directory


def test_a_declared_ratio_over_a_staging_model_and_a_shipped_metric_is_queried_by_day(project, activity_world_db):
    """activity_world: one report_export (u1, 2024-01-05, the only active user that day); 01-01 and 01-02 have
    one active user and no export; 01-03 has no event at all, so DAU is 0 and the ratio has no value."""
    example = project / EXAMPLE_METRICS
    example.write_text(uncommented(example.read_text()))
    warehouse = project / "data" / "kpiwatch.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(activity_world_db, warehouse)

    listed = kpiwatch(project, "metrics", "list")
    assert listed.returncode == 0, listed.stderr
    assert "exports_per_active_user  ratio       Exports per active user" in listed.stdout

    done = kpiwatch(
        project, "metrics", "query", "report_exports,exports_per_active_user", "--start", "2024-01-01",
        "--end", "2024-01-05", "--format", "csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "day,report_exports,exports_per_active_user",
        "2024-01-01,0,0",
        "2024-01-02,0,0",
        "2024-01-03,,",
        "2024-01-04,,",
        "2024-01-05,1,1",
    ]


EXAMPLE = uncommented(
    (Path(__file__).parents[1] / "kpiwatch" / "project_init.py")
    .read_text()
    .split('EXAMPLE_METRICS_TEXT = """\\\n')[1]
    .split('"""')[0]
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("measure: report_exports\n  - name: exports_per", "measure: report_exportz\n  - name: exports_per"),
            "metric 'report_exports': type_params.measure 'report_exportz' is not a declared measure.",
        ),
        (
            ("denominator: dau", "denominator: active_users"),
            "metric 'exports_per_active_user': type_params.denominator 'active_users' is not a declared metric.",
        ),
        (
            ("- name: exports_per_active_user", "- name: mrr"),
            "metric 'mrr': name clashes with kpiwatch's built-in 'mrr'; rename it.",
        ),
        (
            ("- name: exports_per_active_user", "- name: signups"),
            "metric 'signups': name clashes with kpiwatch's built-in 'signups'; rename it.",
        ),
        (("    label: Exports per active user\n", ""), "metric 'exports_per_active_user': label is required"),
        (
            ("agg: sum", "agg: total"),
            "semantic model 'product_events': measure 'report_exports': agg 'total' is not one of sum, min, max,",
        ),
        (
            ("type: ratio", "type: funnel"),
            "metric 'exports_per_active_user': type 'funnel' is not one of simple, ratio, cumulative, derived,",
        ),
        (
            ("time_granularity: day", "time_granularity: fortnight"),
            "semantic model 'product_events': dimension 'activity_date': type_params.time_granularity must be one of",
        ),
        (("model: ref('stg_events')", "model: stg_events"), "model must be ref('a_model'), got 'stg_events'."),
        (("- name: event_name", "- name: Event Name"), "name must be lower_snake_case"),
        (("metrics:\n", "metrics:\n  - oops\n"), "metrics: must be a list of mappings, each with a name."),
        (("semantic_models:", "sources:\nsemantic_models:"), "unknown section 'sources'"),
        (
            ("numerator: report_exports\n      denominator: dau", "numerator: mrr\n      denominator: stickiness"),
            "a ratio of mrr (usd) to stickiness (percent) divides a percentage: incompatible units;",
        ),
        (
            (
                "numerator: report_exports\n      denominator: dau\n",
                "numerator: mrr\n      denominator: dau\n    config:\n      meta: {kpiwatch: {unit: percent}}\n",
            ),
            "config.meta.kpiwatch.unit 'percent' does not follow from mrr (usd) / dau (count): incompatible units; "
            "a ratio of usd to count is usd.",
        ),
        (
            (
                "      denominator: dau\n",
                "      denominator: dau\n    config:\n      meta: {kpiwatch: {watch: true, top_n: 5}}\n",
            ),
            "config.meta.kpiwatch.top_n is not a setting; kpiwatch reads watch, seasonality, unit and group_by.",
        ),
        (
            (
                "      denominator: dau\n",
                "      denominator: dau\n    config:\n      meta: {kpiwatch: {watch: true, group_by: product_event}}\n",
            ),
            "group_by 'product_event' is an entity or a time dimension: one series per value is unbounded",
        ),
        (
            (
                "      denominator: dau\n",
                "      denominator: dau\n    config:\n      meta: {kpiwatch: {watch: true, group_by: event_name}}\n",
            ),
            "group_by 'event_name' is not a categorical dimension of a declared semantic model",
        ),
        (
            (
                "      denominator: dau\n",
                "      denominator: dau\n    config:\n      meta: {kpiwatch: {watch: yes please}}\n",
            ),
            "config.meta.kpiwatch.watch must be true or false, got 'yes please'.",
        ),
        (
            (
                "      denominator: dau\n",
                "      denominator: dau\n    config:\n      meta: {kpiwatch: {seasonality: monthly}}\n",
            ),
            "config.meta.kpiwatch.seasonality must be one of weekday, level.",
        ),
    ],
)
def test_a_bad_declaration_is_one_sentence_naming_file_metric_and_field(project, change, message):
    old, new = change
    assert old in EXAMPLE
    example = project / EXAMPLE_METRICS
    example.write_text(EXAMPLE.replace(old, new, 1))
    done = kpiwatch(project, "metrics", "list")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"kpiwatch: {example}: ") and message in done.stderr, done.stderr


def test_files_that_are_not_declarations_are_refused_before_dbt(project):
    (project / "metrics" / "exports.sql").write_text("select 1")
    done = kpiwatch(project, "metrics", "list")
    assert (done.returncode, done.stderr) == (
        2,
        f"kpiwatch: KPIWATCH_METRICS_DIR={str(project / 'metrics')!r} holds exports.sql; it holds metric "
        "declarations (.yml) only: build tables in your own dbt project and declare them here.\n",
    )
    (project / "metrics" / "exports.sql").unlink()
    (project / EXAMPLE_METRICS).write_text("semantic_models: [\n")
    done = kpiwatch(project, "metrics", "list")
    assert (done.returncode, done.stderr) == (
        2,
        f"kpiwatch: {project / EXAMPLE_METRICS}: is not valid YAML at line 2.\n",
    )


def test_what_only_dbt_finds_is_still_one_line(project):
    """A semantic model on a model that does not exist passes kpiwatch's checks; dbt's error comes out whole,
    on one line, exit 2."""
    example = project / EXAMPLE_METRICS
    example.write_text(EXAMPLE.replace("ref('stg_events')", "ref('stg_clicks')"))
    done = kpiwatch(project, "metrics", "list")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("kpiwatch: dbt could not parse the project: ")
    assert "stg_clicks" in done.stderr
