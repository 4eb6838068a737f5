"""Work `kpiwatch run` starts before anything else: the GX worker first, so that GX's import (4 s of
CPU) runs on the second core while this process imports Dagster and checks the raw tables; then the dbt
worker, forked once dagster-dbt is imported so that it shares dbt-core instead of importing it again.

Only the standard library and light kpiwatch modules are imported at the top: starting the GX worker
must not wait for the imports it exists to overlap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import shutil
from collections.abc import Iterator

from kpiwatch.bulk_imports import bulk_imports
from kpiwatch.dbt_support.parse_state import seed_parse_state
from kpiwatch.dbt_support.profile import dbt_environment, project_arguments, window_environment
from kpiwatch.dbt_support.worker import DbtWorker
from kpiwatch.quality.suite_worker import SuiteWorker
from kpiwatch.run_workers import Prestarted
from kpiwatch.settings import DBT_WORKER, GX_WORKER, Settings


@contextlib.contextmanager
def prestarted_for_day(settings: Settings, as_of: dt.date) -> Iterator[Prestarted]:
    """The workers KPIWATCH_PRESTART names (both by default): a GX suite worker, and a dbt worker that also
    parses the project for the daily run of `as_of` (same environment as that run's `dbt build`, so the build
    reuses the parse)."""
    with contextlib.ExitStack() as stack:
        suites = stack.enter_context(SuiteWorker()) if GX_WORKER in settings.prestart else None
        dbt = stack.enter_context(_dbt_worker(settings, as_of)) if DBT_WORKER in settings.prestart else None
        yield Prestarted(suites, dbt)


@contextlib.contextmanager
def _dbt_worker(settings: Settings, as_of: dt.date) -> Iterator[DbtWorker]:
    warm_target = settings.dbt_target_dir / f"warm-{os.getpid()}"
    warm_target.mkdir(parents=True, exist_ok=True)
    seed_parse_state(settings.dbt_target_dir, warm_target, dbt_environment(settings))
    parse_env = {
        **os.environ,  # the environment the run's dbt child inherits, plus what kpiwatch adds
        **dbt_environment(settings),
        **window_environment(as_of, as_of, settings.lookback_days),
    }
    parse_argv = [
        "parse",
        *project_arguments(settings),
        "--target-path",
        str(warm_target),
        "--log-path",
        str(warm_target),
    ]
    try:
        # The run imports dagster-dbt next anyway; importing it before the dbt worker forks lets the
        # worker share the dbt-core it brings instead of importing dbt again (2 s of CPU).
        with bulk_imports():
            importlib.import_module("dagster_dbt")
        with DbtWorker(settings.target, parse_env, parse_argv) as dbt:
            yield dbt
    finally:
        shutil.rmtree(warm_target, ignore_errors=True)
