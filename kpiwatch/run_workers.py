"""The workers a run may be handed (kpiwatch/prestart.py starts them for `kpiwatch run`). Only the type lives
here, so the Dagster definitions can take workers without importing the CLI's start-up code."""

from __future__ import annotations

from dataclasses import dataclass

from kpiwatch.dbt_support.worker import DbtWorker
from kpiwatch.quality.suite_worker import SuiteValidator


@dataclass(frozen=True)
class Prestarted:
    """The workers a run may use; runs started elsewhere (UI, daemon, tests) have none and work inline."""

    suites: SuiteValidator | None = None
    dbt: DbtWorker | None = None


NOTHING_PRESTARTED = Prestarted()
