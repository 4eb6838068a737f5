"""Deterministic sample SaaS data written into the raw contract.

Small entities (users, subscription lifecycles, spend) are simulated in Python from one seeded
random stream; the large events table is generated inside DuckDB from per-user activity spans
with hash-based randomness, one chunk of days at a time, so 100M events never sit in Python.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES, raw_table_ddl
from kpiwatch.errors import KpiwatchError
from kpiwatch.sample.planted import Anomaly, plant
from kpiwatch.sample.shapes import SHAPE_SCHEMAS, reshape, shape_parts

COUNTRIES = (
    ("US", 0.38, "USD"),
    ("GB", 0.12, "GBP"),
    ("DE", 0.10, "EUR"),
    ("FR", 0.07, "EUR"),
    ("NL", 0.04, "EUR"),
    ("CA", 0.08, "CAD"),
    ("IN", 0.09, "USD"),
    ("BR", 0.06, "USD"),
    ("AU", 0.06, "AUD"),
)
# channel: (share of signups, trial conversion probability, spend per signup in the spend currency, currency)
CHANNELS = {
    "organic": (0.30, 0.20, 0.0, "USD"),
    "paid_search": (0.24, 0.17, 150.0, "USD"),
    "paid_social": (0.18, 0.11, 95.0, "USD"),
    "referral": (0.10, 0.30, 30.0, "USD"),
    "content": (0.12, 0.15, 55.0, "EUR"),
    "partner": (0.06, 0.24, 160.0, "USD"),
}
PLANS = ("starter", "growth", "scale")
PLAN_WEIGHTS = (0.55, 0.35, 0.10)
# Monthly list price per plan and currency; an annual plan costs ten months.
PRICE_BOOK = {
    "starter": {"USD": 29, "EUR": 27, "GBP": 23, "CAD": 39, "AUD": 45},
    "growth": {"USD": 99, "EUR": 92, "GBP": 79, "CAD": 135, "AUD": 149},
    "scale": {"USD": 299, "EUR": 279, "GBP": 239, "CAD": 409, "AUD": 449},
    "seats": {"USD": 15, "EUR": 14, "GBP": 12, "CAD": 20, "AUD": 23},
}
# Event names with their share of events, and the share of users who ever use each feature event.
EVENT_MIX = (
    ("login", 0.22, 1.0),
    ("page_view", 0.38, 1.0),
    ("dashboard_view", 0.15, 0.8),
    ("report_export", 0.07, 0.45),
    ("api_call", 0.09, 0.3),
    ("alert_created", 0.04, 0.35),
    ("integration_connected", 0.02, 0.25),
    ("invite_sent", 0.03, 0.4),
)

SIGNUP_GROWTH = 3.0  # the last day of the window sees three times the signups of the first
TRIAL_DAYS = 14
MONTHLY_CHURN, ANNUAL_CHURN, ADDON_CHURN = 0.035, 0.12, 0.05
UPGRADE, DOWNGRADE = 0.025, 0.012
ANNUAL_SHARE, LATE_CONVERSION_SHARE, ADDON_SHARE, REACTIVATION = 0.2, 0.08, 0.06, 0.18
CHUNK_DAYS = 14


@dataclass(frozen=True)
class GenerateOptions:
    out: Path
    as_of: dt.date
    users: int = 5000
    days: int = 365
    seed: int = 42
    force: bool = False
    anomalies: tuple[Anomaly, ...] = ()
    shape: str = "contract"  # or a connector's shape, or a billing and a tracking shape: "stripe_fivetran,segment"

    def validate(self) -> None:
        shape_parts(self.shape)
        if self.users < 1:
            raise KpiwatchError(f"--users must be at least 1, got {self.users}.")
        if self.days < 2:
            raise KpiwatchError(f"--days must be at least 2, got {self.days}.")
        first = self.as_of - dt.timedelta(days=self.days - 1)
        for anomaly in self.anomalies:
            if not first <= anomaly.day <= self.as_of:
                raise KpiwatchError(
                    f"--anomaly {anomaly}: {anomaly.day} is outside the generated days {first} .. {self.as_of}."
                )


@dataclass
class Simulation:
    """Rows for the small tables plus the activity spans that drive event generation."""

    users: list[tuple] = field(default_factory=list)
    subscriptions: list[tuple] = field(default_factory=list)
    spans: list[tuple] = field(default_factory=list)
    spend: list[tuple] = field(default_factory=list)


def add_months(ts: dt.datetime, months: int) -> dt.datetime:
    """Calendar month arithmetic that clips the day (31 Jan + 1 month = 28/29 Feb)."""
    index = ts.month - 1 + months
    year, month = ts.year + index // 12, index % 12 + 1
    day = min(ts.day, calendar.monthrange(year, month)[1])
    return ts.replace(year=year, month=month, day=day)


def _whole_seconds(ts: dt.datetime) -> dt.datetime:
    return ts.replace(microsecond=0)


def money(amount: float) -> str:
    """Exact decimal text with two places, so DuckDB stores the intended cents."""
    return f"{round(amount, 2):.2f}"


class _Simulator:
    def __init__(self, options: GenerateOptions):
        self.o = options
        self.rng = random.Random(options.seed)
        self.start = dt.datetime.combine(options.as_of, dt.time()) - dt.timedelta(days=options.days - 1)
        self.cutoff = dt.datetime.combine(options.as_of, dt.time()) + dt.timedelta(days=1)
        self.next_subscription = 0
        self.sim = Simulation()

    def day_of(self, ts: dt.datetime) -> int:
        return (ts - self.start).days

    def pick(self, items: Sequence, weights: Sequence[float]):
        return self.rng.choices(items, weights=weights)[0]

    def subscription_id(self) -> str:
        self.next_subscription += 1
        return f"s{self.next_subscription:09d}"

    def run(self) -> Simulation:
        n = self.o.users
        countries = [c for c, _, _ in COUNTRIES]
        country_weights = [w for _, w, _ in COUNTRIES]
        currency_of = {c: cur for c, _, cur in COUNTRIES}
        channels = list(CHANNELS)
        channel_weights = [v[0] for v in CHANNELS.values()]
        g = math.log(SIGNUP_GROWTH)
        for i in range(n):
            v = (i + self.rng.random()) / n
            day = min(self.o.days - 1, int(self.o.days * math.log(1 + v * (SIGNUP_GROWTH - 1)) / g))
            created_at = self.start + dt.timedelta(days=day, seconds=self.rng.randrange(86400))
            country = self.pick(countries, country_weights)
            channel = self.pick(channels, channel_weights)
            user_id = f"u{i:09d}"
            self.sim.users.append((user_id, created_at, country, channel))
            spans = self.customer_life(user_id, created_at, currency_of[country], CHANNELS[channel][1])
            engagement = self.rng.random()
            for start_day, end_day, p in self.clean_spans(spans):
                self.sim.spans.append(
                    (
                        i,
                        user_id,
                        start_day,
                        end_day,
                        p,
                        engagement,
                        day,
                        created_at.hour * 3600 + created_at.minute * 60 + created_at.second,
                    )
                )
        self.marketing_spend(n, g)
        return self.sim

    def customer_life(self, user_id: str, created_at: dt.datetime, currency: str, conversion: float) -> list:
        """Simulate trial, paid periods, churn and reactivation; return activity spans (day, day, p)."""
        c = self.day_of(created_at)
        if self.rng.random() >= conversion:
            return [(c, c + TRIAL_DAYS - 1, 0.5), (c + TRIAL_DAYS, c + 59, 0.07)]
        late = self.rng.random() < LATE_CONVERSION_SHARE
        delay = self.rng.uniform(31, 75) if late else self.rng.uniform(3, TRIAL_DAYS)
        start = _whole_seconds(created_at + dt.timedelta(days=delay))
        spans = [(c, self.day_of(start) - 1, 0.55)]
        paying_p = self.rng.uniform(0.3, 0.8)
        addon_done = False
        while start < self.cutoff:
            end = self.subscription(user_id, start, currency)
            last_day = self.day_of(end) - 1 if end else self.o.days - 1
            spans.append((self.day_of(start), last_day, paying_p))
            if not addon_done and self.rng.random() < ADDON_SHARE:
                self.addon(user_id, start, end, currency)
            addon_done = True
            if end is None:
                break
            spans.append((last_day + 1, last_day + 30, 0.05))
            if self.rng.random() >= REACTIVATION:
                break
            start = _whole_seconds(end + dt.timedelta(days=self.rng.uniform(20, 180)))
        return spans

    def subscription(self, user_id: str, start: dt.datetime, currency: str) -> dt.datetime | None:
        """Write the priced periods of one subscription; return its end, or None if still running."""
        sid = self.subscription_id()
        plan = self.pick(PLANS, PLAN_WEIGHTS)
        annual = self.rng.random() < ANNUAL_SHARE
        months_per_cycle = 12 if annual else 1
        period_start, cycle = start, 0
        while True:
            cycle_start = add_months(start, months_per_cycle * cycle)
            renewal = add_months(start, months_per_cycle * (cycle + 1))
            change_p = (UPGRADE + DOWNGRADE) * months_per_cycle / (3 if annual else 1)
            if self.rng.random() < change_p:
                up = self.rng.random() < UPGRADE / (UPGRADE + DOWNGRADE)
                rank = PLANS.index(plan) + (1 if up else -1)
                change_at = _whole_seconds(cycle_start + (renewal - cycle_start) * self.rng.uniform(0.05, 0.95))
                if 0 <= rank < len(PLANS) and change_at < self.cutoff:
                    self.period(sid, user_id, plan, annual, currency, period_start, change_at)
                    plan, period_start = PLANS[rank], change_at
            if renewal >= self.cutoff:
                self.period(sid, user_id, plan, annual, currency, period_start, None)
                return None
            if self.rng.random() < (ANNUAL_CHURN if annual else MONTHLY_CHURN):
                self.period(sid, user_id, plan, annual, currency, period_start, renewal)
                return renewal
            cycle += 1

    def addon(self, user_id: str, main_start: dt.datetime, main_end: dt.datetime | None, currency: str) -> None:
        """A second, concurrent subscription (extra seats) for some customers."""
        start = _whole_seconds(main_start + dt.timedelta(days=self.rng.uniform(10, 60)))
        limit = min(main_end or self.cutoff, self.cutoff)
        if start >= limit:
            return
        seats = self.rng.randint(1, 5)
        month = 1
        while add_months(start, month) < limit and self.rng.random() >= ADDON_CHURN:
            month += 1
        end = add_months(start, month)
        ended_at = end if end < limit else (main_end if main_end and main_end < self.cutoff else None)
        amount = money(PRICE_BOOK["seats"][currency] * seats)
        self.sim.subscriptions.append(
            (self.subscription_id(), user_id, "seats", "month", amount, currency, start, ended_at)
        )

    def period(self, sid, user_id, plan, annual, currency, started_at, ended_at) -> None:
        price = PRICE_BOOK[plan][currency] * (10 if annual else 1)
        interval = "year" if annual else "month"
        self.sim.subscriptions.append((sid, user_id, plan, interval, money(price), currency, started_at, ended_at))

    def clean_spans(self, spans: list) -> list:
        """Clip spans to the window and make them disjoint, so event ids stay unique."""
        cleaned, last_end = [], -1
        for start, end, p in spans:
            start, end = max(start, last_end + 1, 0), min(end, self.o.days - 1)
            if start <= end:
                cleaned.append((start, end, p))
                last_end = end
        return cleaned

    def marketing_spend(self, n: int, g: float) -> None:
        """Daily spend per paid channel, following expected signups with day-to-day noise."""
        days = self.o.days
        for day in range(days):
            density = g * math.exp(g * day / days) / (SIGNUP_GROWTH - 1) / days
            spend_date = (self.start + dt.timedelta(days=day)).date()
            for channel, (share, _, cost, currency) in CHANNELS.items():
                if cost > 0:
                    amount = cost * n * share * density * self.rng.uniform(0.8, 1.2)
                    self.sim.spend.append((spend_date, channel, money(amount), currency))


EVENTS_SQL = """
insert into raw.events
with active_days as (
    select user_idx, user_id, engagement, created_day, created_sec, day
    from (
        select *, unnest(range(greatest(start_day, $c0), least(end_day, $c1 - 1) + 1)) as day
        from spans where start_day < $c1 and end_day >= $c0
    )
    where u01($seed, user_idx, day, 0) < p * (case when isodow($start + to_days(day)) >= 6 then 0.45 else 1.0 end)
),
events as (
    select user_idx, user_id, day, k,
        case when day = created_day then created_sec else 0 end as lo,
        u01($seed, user_idx, day, k + 1000) as pick_u,
        u01($seed, user_idx, day, k + 2000) as time_u
    from active_days,
        unnest(range(cast(1 + floor(engagement * engagement * 10) + hash($seed, user_idx, day) % 3 as bigint))) t(k)
),
named as (
    select *, {event_case} as wanted from events
)
select
    'e' || user_idx || '-' || day || '-' || k as event_id,
    user_id,
    case when wanted in ({feature_list}) and u01($seed, user_idx, -1, {feature_index}) >= {feature_adoption}
         then 'page_view' else wanted end as event_name,
    $start + to_days(day) + to_microseconds(cast((lo + time_u * (86400 - lo)) * 1000000 as bigint)) as occurred_at
from named
order by occurred_at, event_id
"""


def _events_sql() -> str:
    """Expand EVENT_MIX into the CASE expressions of EVENTS_SQL."""
    bounds, cumulative = [], 0.0
    for name, share, _ in EVENT_MIX[:-1]:
        cumulative += share
        bounds.append(f"when pick_u < {cumulative:.4f} then '{name}'")
    event_case = f"case {' '.join(bounds)} else '{EVENT_MIX[-1][0]}' end"
    features = [(i, name, adoption) for i, (name, _, adoption) in enumerate(EVENT_MIX) if adoption < 1.0]
    feature_list = ", ".join(f"'{name}'" for _, name, _ in features)
    index_case = "case wanted " + " ".join(f"when '{n}' then {i}" for i, n, _ in features) + " end"
    adoption_case = "case wanted " + " ".join(f"when '{n}' then {a}" for _, n, a in features) + " end"
    return EVENTS_SQL.format(
        event_case=event_case, feature_list=feature_list, feature_index=index_case, feature_adoption=adoption_case
    )


def _arrow(rows: list[tuple], names: Sequence[str]) -> pa.Table:
    columns = list(zip(*rows, strict=False)) if rows else [[] for _ in names]
    return pa.table({name: pa.array(col) for name, col in zip(names, columns, strict=False)})


def generate(options: GenerateOptions, progress: bool = True, log: Callable[[str], None] = print) -> dict[str, int]:
    """Write the sample company into options.out; return the row count of each raw table."""
    options.validate()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(options.out))
    try:
        existing = con.execute(
            "select count(*) from information_schema.tables where table_schema = ?", [RAW_SCHEMA]
        ).fetchone()[0]
        if existing and not options.force:
            raise KpiwatchError(
                f"{options.out} already holds tables in schema {RAW_SCHEMA}; pass --force to replace them "
                "with generated data (nothing else in the file is touched)."
            )
        log(f"Simulating {options.users:,} users over {options.days} days (seed {options.seed})...")
        sim = _Simulator(options).run()
        for statement in raw_table_ddl():
            con.execute(statement)
        con.execute("create or replace temp macro u01(a, b, c, d) as (hash(a, b, c, d) % 1000000007) / 1000000007.0")
        _load(con, "users", sim.users, ["user_id", "created_at", "country", "acquisition_channel"])
        _load(
            con,
            "subscriptions",
            sim.subscriptions,
            ["subscription_id", "user_id", "plan", "billing_interval", "amount", "currency", "started_at", "ended_at"],
        )
        _load(con, "marketing_spend", sim.spend, ["spend_date", "channel", "amount", "currency"])
        spans = _arrow(
            sim.spans, ["user_idx", "user_id", "start_day", "end_day", "p", "engagement", "created_day", "created_sec"]
        )
        con.register("spans_arrow", spans)
        con.execute("create temp table spans as select * from spans_arrow order by user_idx, start_day")
        start = dt.datetime.combine(options.as_of, dt.time()) - dt.timedelta(days=options.days - 1)
        sql = _events_sql()
        chunks = range(0, options.days, CHUNK_DAYS)
        for c0 in tqdm(chunks, desc="events", unit="chunk", disable=not progress):
            c1 = min(c0 + CHUNK_DAYS, options.days)
            con.execute(sql, {"c0": c0, "c1": c1, "seed": options.seed, "start": start})
        for anomaly in options.anomalies:
            plant(con, anomaly, options.seed)
        reshape(con, options.shape, options.as_of)
        # The contract tables by name (in contract order), then a connector's tables by their qualified name.
        listed = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
        present = {name for (name,) in listed}
        names = [t.qualified_name for t in RAW_TABLES] + sorted(
            n for n in present if n.split(".")[0] in {SHAPE_SCHEMAS.get(part) for part in shape_parts(options.shape)}
        )
        counts = {
            name.removeprefix(f"{RAW_SCHEMA}."): con.execute(f"select count(*) from {name}").fetchone()[0]
            for name in names
            if name in present
        }
        con.execute("checkpoint")
        return counts
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], names: list[str]) -> None:
    """Insert Python rows through Arrow; column casts come from the contract DDL."""
    con.register("rows_arrow", _arrow(rows, names))
    con.execute(f"insert into {RAW_SCHEMA}.{table} select {', '.join(names)} from rows_arrow")
    con.unregister("rows_arrow")
