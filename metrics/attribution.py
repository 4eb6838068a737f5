"""Where a change came from: the change of MRR over a month or of active users over a week, split by movement
and by every segment of every dimension, ranked by contribution. One reading of the marts serves
`kpiwatch explain` and the contribution gauges the alerts quote, so both name the same segment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse, relation_exists

INTERMEDIATE_SCHEMA = "intermediate"
MRR_DIMENSIONS = ("plan", "billing_interval", "currency", "country", "acquisition_channel", "signup_cohort")
ACTIVE_USER_DIMENSIONS = ("country", "acquisition_channel", "signup_cohort")
# fct_mrr_by_segment_monthly column of each movement; moved_in/out net to 0 over a dimension.
MRR_MOVEMENTS = {
    "new": "new_mrr_usd",
    "expansion": "expansion_mrr_usd",
    "contraction": "contraction_mrr_usd",
    "churn": "churned_mrr_usd",
    "reactivation": "reactivation_mrr_usd",
    "moved_in": "moved_in_mrr_usd",
    "moved_out": "moved_out_mrr_usd",
}
NET = "net"  # the movement of a segment's whole contribution
EXPLAINED = ("mrr", "active_users")
TOP_PER_DIMENSION = 3  # contributions pushed per dimension (bounded labels)


@dataclass(frozen=True)
class Contribution:
    movement: str  # a movement, or NET for a segment's whole change
    dimension: str  # "all" for the company's movements
    segment: str
    value: float  # USD for mrr, users for active_users; signed
    share_of_change: float | None  # value / change; None when nothing changed
    before: float | None = None  # a segment's own value in the previous period (NET rows)


@dataclass(frozen=True)
class Explanation:
    metric: str
    period: str  # 2024-02 or 2024-03-06
    previous_period: str
    before: float
    after: float
    rows: tuple[Contribution, ...]  # movements first, then dimensions; each ranked by contribution

    @property
    def change(self) -> float:
        return self.after - self.before

    def segments(self, dimension: str) -> list[Contribution]:
        return [r for r in self.rows if r.dimension == dimension and r.movement == NET]

    def leader(self) -> Contribution | None:
        """Where the change is concentrated: the segment whose contribution most exceeds its fair share (its
        part of the previous period times the change), so a segment holding all customers (one billing
        interval, one currency) is not "where" just for being everything. Ties: the first dimension."""
        candidates = [r for r in self.rows if r.dimension != "all" and r.movement == NET]
        if not candidates or not self.change:
            return None
        sign = -1.0 if self.change < 0 else 1.0

        def excess(row: Contribution) -> float:
            fair = self.change * (row.before or 0.0) / self.before if self.before else 0.0
            return sign * (row.value - fair)

        return max(candidates, key=excess)  # max keeps the first of equals


class NothingToExplain(Exception):
    """The marts hold no value for the period asked (not built yet, or before the data)."""


def explain_mrr(warehouse: Warehouse, month: dt.date) -> Explanation:
    """MRR at the end of `month` (as of the evaluation cutoff for the running month) against the month before."""
    _require(warehouse, "fct_mrr_monthly", "fct_mrr_by_segment_monthly")
    company = warehouse.query(f"select * from {MARTS_SCHEMA}.fct_mrr_monthly where month = ?", [month])
    if not company:
        raise NothingToExplain(f"the marts hold no MRR for {month:%Y-%m}")
    row = company[0]
    after, net = float(row["mrr_usd"]), float(row["net_new_mrr_usd"])
    change = net
    columns = {m: c for m, c in MRR_MOVEMENTS.items() if not m.startswith("moved")}
    movements = [_row(m, "all", "all", row[c], change) for m, c in columns.items()]
    segments = warehouse.query(
        f"select * from {MARTS_SCHEMA}.fct_mrr_by_segment_monthly where month = ? order by dimension, segment", [month]
    )
    rows = [r for r in movements if r.value]
    for dimension in MRR_DIMENSIONS:
        of_dimension = [s for s in segments if s["dimension"] == dimension]
        rows += _ranked(
            [
                _row(NET, dimension, s["segment"], s["net_new_mrr_usd"], change, s["mrr_usd"] - s["net_new_mrr_usd"])
                for s in of_dimension
            ],
            change,
        )
        rows += _ranked(
            [
                _row(movement, dimension, s["segment"], s[column], change)
                for s in of_dimension
                for movement, column in MRR_MOVEMENTS.items()
                if s[column]
            ],
            change,
        )
    return Explanation("mrr", f"{month:%Y-%m}", f"{_previous_month(month):%Y-%m}", after - net, after, tuple(rows))


def explain_active_users(warehouse: Warehouse, day: dt.date) -> Explanation:
    """Daily active users on `day` against the same weekday a week before (weekday seasonality cancels out):
    users gained (active on the day, not the week before) and lost, in total and per segment."""
    _require(warehouse, "fct_active_users_daily", "fct_active_users_segment_daily")
    _require(warehouse, "int_user_activity_daily", "int_user_segments", schema=INTERMEDIATE_SCHEMA)
    week_before = day - dt.timedelta(days=7)
    company = {
        r["activity_date"]: float(r["dau"])
        for r in warehouse.query(
            f"select activity_date, dau from {MARTS_SCHEMA}.fct_active_users_daily where activity_date in (?, ?)",
            [day, week_before],
        )
    }
    if len(company) < 2:
        raise NothingToExplain(f"the marts hold no active users for both {day} and {week_before}")
    before, after = company[week_before], company[day]
    change = after - before
    movements = warehouse.query(_GAINED_LOST_SQL, [day, week_before, day, week_before])
    rows = [_row(m["movement"], m["dimension"], m["segment"], m["users"], change) for m in movements if m["users"]]
    company_rows = [r for r in rows if r.dimension == "all"]
    segment_dau = warehouse.query(
        f"select dimension, segment, "
        "sum(case when activity_date = ? then dau else 0 end) as after, "
        "sum(case when activity_date = ? then dau else 0 end) as before "
        f"from {MARTS_SCHEMA}.fct_active_users_segment_daily where activity_date in (?, ?) "
        "group by dimension, segment",
        [day, week_before, day, week_before],
    )
    ordered = [*company_rows]
    for dimension in ACTIVE_USER_DIMENSIONS:
        ordered += _ranked(
            [
                _row(NET, dimension, s["segment"], s["after"] - s["before"], change, s["before"])
                for s in segment_dau
                if s["dimension"] == dimension
            ],
            change,
        )
        ordered += _ranked([r for r in rows if r.dimension == dimension], change)
    return Explanation("active_users", day.isoformat(), week_before.isoformat(), before, after, tuple(ordered))


def explain_declared(warehouse: Warehouse, metric: str, dimension: str, day: dt.date) -> Explanation:
    """A declared metric split by its group_by (marts.fct_series_declared_daily) on `day` against the same weekday
    a week before: each value's own change, ranked. For a sum the values add up to the total; for a ratio each is
    the ratio within that value, so the shares need not add up."""
    from metrics.anomaly_config import DECLARED_MART

    _require(warehouse, DECLARED_MART)
    week_before = day - dt.timedelta(days=7)
    rows = warehouse.query(
        f"select metric_date, segment, value from {MARTS_SCHEMA}.{DECLARED_MART} "
        "where metric = ? and metric_date in (?, ?)",
        [metric, day, week_before],
    )
    values = {(r["metric_date"], r["segment"]): float(r["value"] or 0) for r in rows}
    if (day, "all") not in values or (week_before, "all") not in values:
        raise NothingToExplain(f"the marts hold no {metric} for both {day} and {week_before}")
    before, after = values[(week_before, "all")], values[(day, "all")]
    change = after - before
    segments = sorted({segment for _, segment in values} - {"all"})
    contributions = [
        _row(NET, dimension, s, values.get((day, s), 0.0) - values.get((week_before, s), 0.0), change,
             values.get((week_before, s), 0.0))
        for s in segments
    ]  # fmt: skip
    ranked = tuple(_ranked(contributions, change))
    return Explanation(metric, day.isoformat(), week_before.isoformat(), before, after, ranked)


def latest_changes(warehouse: Warehouse, day: dt.date, withheld: Collection[str] = ()) -> list[Explanation]:
    """What a run as of `day` attributes: MRR of the running month so far against the last month end, and
    DAU of the day against the same weekday before; a metric withheld or without the history is left out."""
    explanations = []
    for metric, explain, period in (
        ("mrr", explain_mrr, day.replace(day=1)),
        ("active_users", explain_active_users, day),
    ):
        if metric in withheld:
            continue
        try:
            explanations.append(explain(warehouse, period))
        except NothingToExplain:
            continue  # a first week or month: nothing before to compare with
    return explanations


def top_contributions(
    explanation: Explanation, per_dimension: int = TOP_PER_DIMENSION
) -> list[tuple[int, Contribution]]:
    """(rank, contribution): the segments that carry most of the change, per dimension, in its direction."""
    top: list[tuple[int, Contribution]] = []
    dimensions = MRR_DIMENSIONS if explanation.metric == "mrr" else ACTIVE_USER_DIMENSIONS
    for dimension in dimensions:
        top += list(enumerate(explanation.segments(dimension)[:per_dimension], start=1))
    return top


# Users active on the day (?) and not the week before (?), and the reverse, in total and per segment.
_SEGMENTED_MOVES = "".join(
    f"""
    union all
    select moves.movement, moves.users, '{dimension}' as dimension, coalesce(segments.{dimension}, 'unknown')
    from moves
    left join {INTERMEDIATE_SCHEMA}.int_user_segments as segments on segments.user_id = moves.user_id"""
    for dimension in ACTIVE_USER_DIMENSIONS
)
_GAINED_LOST_SQL = f"""
with activity as (
    select user_id, activity_date from {INTERMEDIATE_SCHEMA}.int_user_activity_daily where activity_date in (?, ?)
),
moves as (
    select
        coalesce(now_active.user_id, then_active.user_id) as user_id,
        case when then_active.user_id is null then 'gained' else 'lost' end as movement,
        case when then_active.user_id is null then 1 else -1 end as users
    from (select user_id from activity where activity_date = ?) as now_active
    full outer join (select user_id from activity where activity_date = ?) as then_active
        on then_active.user_id = now_active.user_id
    where now_active.user_id is null or then_active.user_id is null
),
segmented as (
    select moves.movement, moves.users, 'all' as dimension, 'all' as segment from moves{_SEGMENTED_MOVES}
)
select movement, dimension, segment, sum(users) as users from segmented group by movement, dimension, segment
"""


def _row(movement: str, dimension: str, segment: str, value, change: float, before=None) -> Contribution:
    number = float(value or 0)
    share = number / change if change else None
    return Contribution(movement, dimension, segment, number, share, None if before is None else float(before))


def _ranked(rows: list[Contribution], change: float) -> list[Contribution]:
    """Largest contribution in the direction of the change first (most negative for a fall)."""
    sign = -1.0 if change < 0 else 1.0
    return sorted(rows, key=lambda r: (-sign * r.value, r.segment))


def _previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _require(warehouse: Warehouse, *relations: str, schema: str = MARTS_SCHEMA) -> None:
    missing = [r for r in relations if not relation_exists(warehouse, schema, r)]
    if missing:
        raise NothingToExplain(
            f"the warehouse has no {', '.join(f'{schema}.{r}' for r in missing)} yet: run `kpiwatch run` first"
        )
