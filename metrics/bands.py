"""The anomaly verdict of every watched series: the band dbt learnt for each day (expected value and
spread, dbt_project/macros/series_bands.sql), widened and judged by expectations/anomalies.yml. One query
in the warehouse serves the daily push and the backtest alike, so both give the same verdicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse, as_date
from metrics.anomaly_config import (
    CADENCE_DAYS,
    CHANNEL_SERIES,
    DECLARED_METRIC,
    SAMPLE_NOISE,
    AnomalyConfig,
    series_mart,
    series_metric,
)


@dataclass(frozen=True)
class Verdict:
    """One series on one day. Bounds are None until the series has its minimum training days (ready)."""

    day: dt.date
    metric: str
    series: str
    segment: str
    value: float | None
    lower: float | None
    expected: float | None
    upper: float | None
    score: float  # 0 inside the band; outside, how far beyond its edge in band half-widths (signed)
    ready: bool
    fired: str  # "drop" or "spike" when the verdict is an anomaly in a direction the series watches, else ""
    sample_size: float | None = None  # the denominator of a rate or cost (cohort signups, new customers)


def verdict_sql(config: AnomalyConfig, marts: Sequence[str]) -> str:
    """The verdicts of days [?, ?] (the pair repeated per mart) of the series in `marts`."""
    rules = "\n    union all\n    ".join(
        f"select '{name}' as series, {r.sensitivity!r} as sensitivity, {r.floor!r} as floor_value, "
        f"{r.relative_floor!r} as relative_floor, {1 if r.count_noise else 0} as count_noise, "
        f"'{r.direction}' as direction, '{SAMPLE_NOISE.get(name, '')}' as sample_noise, "
        f"{r.min_training_days} as min_training_days"
        for name, r in config.rules.items()
    )
    bands = "\n    union all\n    ".join(
        "select metric_date, metric as series, segment, value, sample_size, expected, spread, training_days "
        f"from {MARTS_SCHEMA}.{mart} where metric_date >= ? and metric_date <= ?"
        for mart in marts
    )
    return f"""
with rules as (
    {rules}
),
bands as (
    {bands}
),
widths as (
    select
        bands.*,
        rules.direction,
        case when bands.expected is not null and bands.training_days >= rules.min_training_days then 1 else 0 end
            as ready,
        greatest(
            rules.sensitivity * coalesce(bands.spread, 0),
            rules.floor_value,
            rules.relative_floor * abs(coalesce(bands.expected, 0)),
            rules.count_noise * rules.sensitivity * sqrt(abs(coalesce(bands.expected, 0))),
            -- With its denominator (metrics/anomaly_config.py SAMPLE_NOISE): at least the noise of the sample.
            case
                when not bands.sample_size > 0 or bands.expected is null then 0
                -- A rate of n: on the arcsine scale its noise is 1 / (2 sqrt(n)) whatever the rate, where the
                -- normal sqrt(p (1 - p) / n) overstates it near 0 (35 signups, 0 converted against 17 %
                -- is a 1-in-700 chance). The band reaches `sensitivity` of those below the expected rate.
                when rules.sample_noise = 'binomial' and bands.expected between 0 and 1
                    then bands.expected - power(sin(greatest(
                        0, asin(sqrt(bands.expected)) - rules.sensitivity / (2 * sqrt(bands.sample_size))
                    )), 2)
                when rules.sample_noise = 'per_count'
                    then rules.sensitivity * abs(bands.expected) / sqrt(bands.sample_size)
                else 0
            end,
            1e-9
        ) as half_width
    from bands
    inner join rules on rules.series = bands.series
),
scored as (
    select
        widths.*,
        case
            when ready = 0 or value is null then 0
            when value < expected - half_width then (value - (expected - half_width)) / half_width
            when value > expected + half_width then (value - (expected + half_width)) / half_width
            else 0
        end as score
    from widths
)
select
    metric_date, series, segment, value, sample_size, ready, score,
    case when ready = 1 then expected - half_width end as lower_bound,
    case when ready = 1 then expected end as expected_value,
    case when ready = 1 then expected + half_width end as upper_bound,
    case
        when score < 0 and direction in ('drop', 'both') then 'drop'
        when score > 0 and direction in ('spike', 'both') then 'spike'
        else ''
    end as fired
from scored
order by metric_date, series, segment
"""


def read_verdicts(
    warehouse: Warehouse,
    config: AnomalyConfig,
    start: dt.date,
    end: dt.date,
    withheld: Collection[str] = (),
    series: str | None = None,
) -> list[Verdict]:
    """Verdicts of the days start..end; the series of withheld metrics (their marts were not rebuilt) and,
    with `series`, all other series are left out."""
    wanted = {name for name in config.rules if series_metric(name) not in withheld and series in (None, name)}
    marts = list(dict.fromkeys(series_mart(name) for name in sorted(wanted)))
    if not marts:
        return []
    rows = warehouse.query(verdict_sql(config, marts), [start, end] * len(marts))
    return [
        Verdict(
            day=as_date(row["metric_date"]),
            metric=series_metric(row["series"]),
            series=row["series"],
            segment=row["segment"],
            value=_float(row["value"]),
            lower=_float(row["lower_bound"]),
            expected=_float(row["expected_value"]),
            upper=_float(row["upper_bound"]),
            score=float(row["score"]),
            ready=bool(row["ready"]),
            fired=row["fired"],
            sample_size=_float(row["sample_size"]),
        )
        for row in rows
        if row["series"] in wanted
    ]


def _float(value) -> float | None:
    return None if value is None else float(value)


def verdicts_of_day(
    warehouse: Warehouse, config: AnomalyConfig, day: dt.date, withheld: Collection[str] = ()
) -> list[Verdict]:
    """What a run as of `day` publishes: each daily series' verdict of that day, and each cohort series'
    newest cohort completed within its cadence (a week's conversion is judged on the day it completes and
    stays the newest for a week). A daily series without a row for `day` is missing, never an older day."""
    longest = max(CADENCE_DAYS.values(), default=1)
    newest: dict[tuple[str, str], Verdict] = {}
    for v in read_verdicts(warehouse, config, day - dt.timedelta(days=longest - 1), day, withheld):
        if (day - v.day).days < CADENCE_DAYS.get(v.series, 1):
            newest[(v.series, v.segment)] = v  # rows come in date order: the newest wins
    return sorted(newest.values(), key=lambda v: (v.series, v.segment))


def top_segments(verdicts: Sequence[Verdict], top_n: int) -> tuple[list[Verdict], list[Verdict]]:
    """(kept, left out): per channel series, `all` and the `top_n` channels that weigh most (largest sample:
    cohort signups, new customers; else largest expected value: daily signups, spend). Channel names come
    from the data, so the pushed labels are bounded here, never in the warehouse."""
    kept: list[Verdict] = []
    ranked: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if (v.series in CHANNEL_SERIES or v.metric == DECLARED_METRIC) and v.segment not in ("all", "other"):
            ranked.setdefault(v.series, []).append(v)
        else:
            kept.append(v)
    left_out: list[Verdict] = []
    for series_verdicts in ranked.values():
        series_verdicts.sort(key=lambda v: (-_weight(v), v.segment))
        kept += series_verdicts[:top_n]
        left_out += series_verdicts[top_n:]
    return sorted(kept, key=lambda v: (v.series, v.segment)), left_out


def _weight(v: Verdict) -> float:
    for candidate in (v.sample_size, v.expected, v.value):
        if candidate is not None:
            return abs(candidate)
    return 0.0
