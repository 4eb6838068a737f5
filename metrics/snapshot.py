"""Read the few mart rows the business gauges need: one small query per mart, computed in the warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kpiwatch.settings import DEFAULT_SEGMENT_TOP_N
from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse, as_date
from metrics.catalog import RETENTION_MONTHS

BASELINE_MONTHS = 3
BASELINE_DAYS = 7


@dataclass(frozen=True)
class BusinessSnapshot:
    """The mart values behind every business gauge; None where a value is undefined."""

    as_of: dt.date
    current_month: dict[str, Any] | None = None  # fct_mrr_monthly row of the running month + previous_mrr_usd
    last_complete_month: dict[str, Any] | None = None  # fct_unit_economics_monthly row
    baseline_months: list[dict[str, Any]] = field(default_factory=list)  # the months before it, newest first
    cac_by_channel: dict[str, Any] = field(default_factory=dict)
    cac_baseline: dict[str, float] = field(default_factory=dict)
    channels_in_other: int = 0  # channels folded into channel="other" (beyond the top N by spend)
    # (dimension, segment) -> (MRR at the evaluation day's end, its change since the last month end); per
    # dimension the top N segments by MRR, the rest summed as 'other'
    mrr_by_segment: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    active_users: dict[str, Any] | None = None
    active_users_baseline: dict[str, Any] | None = None
    retention: dict[int, float] = field(default_factory=dict)
    adoption: dict[str, Any] = field(default_factory=dict)
    adoption_baseline: dict[str, Any] = field(default_factory=dict)
    conversion_cohort: dt.date | None = None  # newest signup month whose 30-day windows have all closed
    conversion: dict[str, Any] = field(default_factory=dict)  # per acquisition channel, capped, and 'all'
    conversion_baseline: dict[str, float] = field(default_factory=dict)  # the three cohorts before it


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def capped_segments_sql(table: str, period: str, segment: str, rank_by: str, sums: tuple[str, ...]) -> str:
    """Periods [?, ?] of a mart with one row per period and segment (plus 'all'), its segment label capped in the
    warehouse: ranked by `rank_by` in the newest period (the third ?), the top N (the fourth ?) keep their
    label and the rest are summed into 'other', so a rate computed from `sums` is their blended rate."""
    columns = ", ".join(sums)
    summed = ", ".join(f"sum({c}) as {c}" for c in sums)
    return f"""
with periods as (
    select {period} as period, {segment} as segment, {columns} from {table} where {period} <= ? and {period} >= ?
),
ranked as (
    select segment, row_number() over (order by {rank_by} desc, segment) as segment_rank
    from periods where period = ? and segment <> 'all'
),
labelled as (
    select
        periods.*,
        case
            when periods.segment = 'all' then 'all'
            when ranked.segment_rank <= ? then periods.segment
            else 'other'
        end as channel
    from periods left join ranked on ranked.segment = periods.segment
)
select period, channel, {summed}, count(distinct segment) as segments
from labelled
group by period, channel
"""


def read_snapshot(
    warehouse: Warehouse,
    as_of: dt.date,
    segment_top_n: int = DEFAULT_SEGMENT_TOP_N,
    withheld: Collection[str] = (),
) -> BusinessSnapshot:
    """The values of every metric (metrics.catalog.METRICS) but the `withheld` ones, whose marts this run
    did not rebuild (they may not even exist yet): those are not read at all."""
    m = MARTS_SCHEMA
    current_month = month_start(as_of)
    mrr_rows = (
        warehouse.query(
            f"select *, lag(mrr_usd) over (order by month) as previous_mrr_usd from {m}.fct_mrr_monthly "
            "where month >= ? and month <= ? order by month",
            [add_months(current_month, -1), current_month],
        )
        if "mrr" not in withheld
        else []
    )
    segment_rows = (
        warehouse.query(
            f"""
with ranked as (
    select dimension, segment, mrr_usd, net_new_mrr_usd,
        row_number() over (partition by dimension order by mrr_usd desc, segment) as segment_rank
    from {m}.fct_mrr_by_segment_monthly
    where month = ?
),
labelled as (
    select dimension, case when segment_rank <= ? then segment else 'other' end as label, mrr_usd, net_new_mrr_usd
    from ranked
)
select dimension, label as segment, sum(mrr_usd) as mrr_usd, sum(net_new_mrr_usd) as net_new_mrr_usd
from labelled
group by dimension, label
""",
            [current_month, segment_top_n],
        )
        if "mrr" not in withheld
        else []
    )
    # CAC is read for the last complete month of the unit economics, which share its lineage.
    economics = (
        warehouse.query(
            f"select e.* from {m}.fct_unit_economics_monthly e join {m}.fct_mrr_monthly r on r.month = e.month "
            "where r.is_complete order by e.month desc limit ?",
            [BASELINE_MONTHS + 1],
        )
        if not {"unit_economics", "cac"} & set(withheld)
        else []
    )
    last_month = economics[0]["month"] if economics else None
    cac_rows = (
        warehouse.query(
            capped_segments_sql(
                f"{m}.fct_cac_monthly", "month", "channel", "spend_usd", ("spend_usd", "new_customers")
            ),
            [last_month, add_months(last_month, -BASELINE_MONTHS), last_month, segment_top_n],
        )
        if last_month
        else []
    )
    for row in cac_rows:  # CAC of the capped labels: their spend over their new customers
        row["cac_usd"] = row["spend_usd"] / row["new_customers"] if row["new_customers"] else None
    folded = next((int(r["segments"]) for r in cac_rows if r["period"] == last_month and r["channel"] == "other"), 0)
    week_ago = as_of - dt.timedelta(days=BASELINE_DAYS)
    active = {
        r["activity_date"]: r
        for r in (
            warehouse.query(
                f"select activity_date, dau, wau, mau from {m}.fct_active_users_daily where activity_date in (?, ?)",
                [as_of, week_ago],
            )
            if "active_users" not in withheld
            else []
        )
    }
    adoption_rows = (
        warehouse.query(
            f"select activity_date, feature, adoption_rate from {m}.fct_feature_adoption_daily where "
            f"activity_date in (?, ?)",
            [as_of, week_ago],
        )
        if "feature_adoption" not in withheld
        else []
    )
    # Retention at N months of the newest cohort whose month N is complete (before the running month).
    cohorts = [(add_months(current_month, -(k + 1)), k) for k in RETENTION_MONTHS]
    condition = " or ".join("(cohort_month = ? and months_since_signup = ?)" for _ in cohorts)
    retention_rows = (
        warehouse.query(
            f"select months_since_signup, retention_rate from {m}.fct_retention_cohorts where {condition}",
            [value for pair in cohorts for value in pair],
        )
        if "retention" not in withheld
        else []
    )
    cohort, conversion_rows = None, []
    if "conversion" not in withheld:
        newest = warehouse.query(
            f"select max(signup_month) as cohort from {m}.fct_conversion_monthly "
            "where is_complete and acquisition_channel = 'all'"
        )
        cohort = as_date(newest[0]["cohort"]) if newest and newest[0]["cohort"] is not None else None
        if cohort:
            conversion_rows = warehouse.query(
                capped_segments_sql(
                    f"{m}.fct_conversion_monthly",
                    "signup_month",
                    "acquisition_channel",
                    "signups",
                    ("signups", "converted_30d"),
                ),
                [cohort, add_months(cohort, -BASELINE_MONTHS), cohort, segment_top_n],
            )
    return BusinessSnapshot(
        as_of=as_of,
        conversion_cohort=cohort,
        conversion=_pooled_rate([r for r in conversion_rows if as_date(r["period"]) == cohort]),
        conversion_baseline=_pooled_rate([r for r in conversion_rows if as_date(r["period"]) != cohort]),
        current_month=mrr_rows[-1] if mrr_rows and mrr_rows[-1]["month"] == current_month else None,
        last_complete_month=economics[0] if economics else None,
        baseline_months=economics[1:],
        cac_by_channel={r["channel"]: r["cac_usd"] for r in cac_rows if r["period"] == last_month},
        channels_in_other=folded,
        mrr_by_segment={
            (r["dimension"], r["segment"]): (float(r["mrr_usd"]), float(r["net_new_mrr_usd"])) for r in segment_rows
        },
        cac_baseline=_mean_by_channel([r for r in cac_rows if r["period"] != last_month]),
        active_users=active.get(as_of),
        active_users_baseline=active.get(week_ago),
        retention={int(r["months_since_signup"]): r["retention_rate"] for r in retention_rows},
        adoption={r["feature"]: r["adoption_rate"] for r in adoption_rows if r["activity_date"] == as_of},
        adoption_baseline={r["feature"]: r["adoption_rate"] for r in adoption_rows if r["activity_date"] == week_ago},
    )


def _pooled_rate(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Converted / signups per channel over all the rows' months: each signup weighs the same, so a small
    partial month (the first month of the data) does not move the baseline as much as a full one."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row["channel"], [0, 0])
        total[0] += int(row["converted_30d"] or 0)
        total[1] += int(row["signups"] or 0)
    return {channel: converted / signups for channel, (converted, signups) in totals.items() if signups}


def _mean_by_channel(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean CAC per channel over the baseline months; months with an undefined CAC are left out."""
    values: dict[str, list[float]] = {}
    for row in rows:
        if row["cac_usd"] is not None:
            values.setdefault(row["channel"], []).append(float(row["cac_usd"]))
    return {channel: sum(v) / len(v) for channel, v in values.items() if len(v) == BASELINE_MONTHS}
