"""The days one run evaluates: its daily partition (or partition range, for a backfill) and look-back.

Everything in a run (the raw checks, the dbt models, the push) reads the window from the run's partition
tags, so a scheduled run, `kpiwatch run`, a UI launch and a backfill all agree on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from dagster import DailyPartitionsDefinition

from kpiwatch.dbt_support.profile import window_environment
from kpiwatch.settings import parse_date

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Set on runs that rebuild the incremental models from all history: their raw checks read every row.
FULL_REFRESH_TAG = "kpiwatch/full_refresh"
AS_OF_TAG = "kpiwatch/as_of"
# When the process of a `kpiwatch run` started (epoch seconds): its start-up is the time until the run began.
PROCESS_STARTED_TAG = "kpiwatch/process_started"


def daily_partitions(start: dt.date) -> DailyPartitionsDefinition:
    """UTC days from `start` (KPIWATCH_PARTITIONS_START) up to today (today's partition is a partial day)."""
    return DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


@dataclass(frozen=True)
class RunWindow:
    start: dt.date  # first day of the partition range
    as_of: dt.date  # last day of the partition range: the evaluation date
    lookback_days: int

    @property
    def first_processed_day(self) -> dt.date:
        """Incremental models and the windowed raw checks start here."""
        return self.start - dt.timedelta(days=self.lookback_days)

    def dbt_env(self) -> dict[str, str]:
        """The run settings dbt reads (dbt_project/macros/evaluation_window.sql)."""
        return window_environment(self.start, self.as_of, self.lookback_days)


def window_from_tags(tags: Mapping[str, str], default_as_of: dt.date, lookback_days: int) -> RunWindow:
    """The run's partition range; a run without partitions evaluates default_as_of alone."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = parse_date(tags[RANGE_START_TAG], RANGE_START_TAG), parse_date(tags[RANGE_END_TAG], RANGE_END_TAG)
    elif PARTITION_TAG in tags:
        start = end = parse_date(tags[PARTITION_TAG], PARTITION_TAG)
    else:
        start = end = default_as_of
    return RunWindow(start=start, as_of=end, lookback_days=lookback_days)
