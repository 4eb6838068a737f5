"""Read the few mart rows the business gauges need: one small query per mart, computed in the warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kpiwatch.settings import DEFAULT_SEGMENT_TOP_N
from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse
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


# Channels of the last complete month ranked by spend; the top N keep their label, the rest are summed
# into `other` (spend and new customers, so other's CAC is their blended CAC), in the warehouse.
CAPPED_CAC_SQL = """
with months as (
    select month, channel, spend_usd, new_customers from {marts}.fct_cac_monthly where month <= ? and month >= ?
),
ranked as (
    select channel, row_number() over (order by spend_usd desc, channel) as spend_rank
    from months where month = ? and channel <> 'all'
),
labelled as (
    select
        months.month,
        months.channel as source_channel,
        case
            when months.channel = 'all' then 'all'
            when ranked.spend_rank <= ? then months.channel
            else 'other'
        end as channel,
        months.spend_usd,
        months.new_customers
    from months left join ranked on ranked.channel = months.channel
)
select
    month,
    channel,
    sum(spend_usd) / nullif(sum(new_customers), 0) as cac_usd,
    count(distinct source_channel) as channels
from labelled
group by month, channel
"""


# Acquisition channels of the newest complete signup cohort ranked by signups; the top N keep their label,
# the rest are summed into `other` (signups and conversions, so other's rate is their blended rate).
CAPPED_CONVERSION_SQL = """
with cohorts as (
    select signup_month, acquisition_channel as channel, signups, converted_30d
    from {marts}.fct_conversion_monthly where signup_month <= ? and signup_month >= ?
),
ranked as (
    select channel, row_number() over (order by signups desc, channel) as signup_rank
    from cohorts where signup_month = ? and channel <> 'all'
),
labelled as (
    select
        cohorts.signup_month,
        case
            when cohorts.channel = 'all' then 'all'
            when ranked.signup_rank <= ? then cohorts.channel
            else 'other'
        end as channel,
        cohorts.signups,
        cohorts.converted_30d
    from cohorts left join ranked on ranked.channel = cohorts.channel
)
select signup_month, channel, sum(signups) as signups, sum(converted_30d) as converted
from labelled
group by signup_month, channel
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
            CAPPED_CAC_SQL.format(marts=m),
            [last_month, add_months(last_month, -BASELINE_MONTHS), last_month, segment_top_n],
        )
        if last_month
        else []
    )
    folded = next((int(r["channels"]) for r in cac_rows if r["month"] == last_month and r["channel"] == "other"), 0)
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
        cohort = _as_date(newest[0]["cohort"]) if newest and newest[0]["cohort"] is not None else None
        if cohort:
            conversion_rows = warehouse.query(
                CAPPED_CONVERSION_SQL.format(marts=m),
                [cohort, add_months(cohort, -BASELINE_MONTHS), cohort, segment_top_n],
            )
    return BusinessSnapshot(
        as_of=as_of,
        conversion_cohort=cohort,
        conversion=_pooled_rate([r for r in conversion_rows if _as_date(r["signup_month"]) == cohort]),
        conversion_baseline=_pooled_rate([r for r in conversion_rows if _as_date(r["signup_month"]) != cohort]),
        current_month=mrr_rows[-1] if mrr_rows and mrr_rows[-1]["month"] == current_month else None,
        last_complete_month=economics[0] if economics else None,
        baseline_months=economics[1:],
        cac_by_channel={r["channel"]: r["cac_usd"] for r in cac_rows if r["month"] == last_month},
        channels_in_other=folded,
        cac_baseline=_mean_by_channel([r for r in cac_rows if r["month"] != last_month]),
        active_users=active.get(as_of),
        active_users_baseline=active.get(week_ago),
        retention={int(r["months_since_signup"]): r["retention_rate"] for r in retention_rows},
        adoption={r["feature"]: r["adoption_rate"] for r in adoption_rows if r["activity_date"] == as_of},
        adoption_baseline={r["feature"]: r["adoption_rate"] for r in adoption_rows if r["activity_date"] == week_ago},
    )


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _pooled_rate(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Converted / signups per channel over all the rows' months: each signup weighs the same, so a small
    partial month (the first month of the data) does not move the baseline as much as a full one."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row["channel"], [0, 0])
        total[0] += int(row["converted"] or 0)
        total[1] += int(row["signups"] or 0)
    return {channel: converted / signups for channel, (converted, signups) in totals.items() if signups}


def _mean_by_channel(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean CAC per channel over the baseline months; months with an undefined CAC are left out."""
    values: dict[str, list[float]] = {}
    for row in rows:
        if row["cac_usd"] is not None:
            values.setdefault(row["channel"], []).append(float(row["cac_usd"]))
    return {channel: sum(v) / len(v) for channel, v in values.items() if len(v) == BASELINE_MONTHS}
