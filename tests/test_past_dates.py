"""A run of a past date, after runs of later dates, gives that date's numbers: every mart equals a full
rebuild as of the same date (docs/metrics.md promises that a past date reproduces that day's run)."""

import datetime as dt
import shutil

import pytest

from kpiwatch.hosting.launch import run_once
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import differing_rows

pytestmark = pytest.mark.slow
LATER, PAST = dt.date(2024, 3, 5), dt.date(2024, 2, 10)
DAY_COLUMNS = ("activity_date", "metric_date")  # the day column of the daily marts and the watched series


def test_a_past_date_after_a_later_run_equals_its_full_rebuild(tmp_path, job_settings):
    rerun, rebuilt = tmp_path / "rerun.duckdb", tmp_path / "rebuilt.duckdb"
    generate(GenerateOptions(out=rerun, as_of=LATER, users=500, days=100, seed=5), progress=False, log=lambda _: None)
    shutil.copy(rerun, rebuilt)
    rerun_settings = job_settings(rerun, tmp_path / "home_rerun")
    for as_of in (LATER, PAST):
        outcome = run_once(rerun_settings, as_of)
        assert outcome.success, (outcome.failures, outcome.failed_checks)
    outcome = run_once(job_settings(rebuilt, tmp_path / "home_rebuilt"), PAST, full_refresh=True)
    assert outcome.success, (outcome.failures, outcome.failed_checks)

    # Daily marts keep the days after PAST that the later run built; only days up to PAST are PAST's numbers.
    differences = differing_rows(
        rerun,
        rebuilt,
        ("marts",),
        lambda columns: next((f"{c} <= date '{PAST}'" for c in DAY_COLUMNS if c in columns), ""),
    )

    assert len(differences) >= 9 and set(differences.values()) == {0}, differences
