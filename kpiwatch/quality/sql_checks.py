"""Checks that are not row expectations: contract schema, drift, emptiness, freshness, volume, gaps.

Each reads aggregates computed in the warehouse (one small result set per check) and works unchanged on
DuckDB and Snowflake: date boundaries are computed here and passed as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from kpiwatch.contract import Table, table_problems
from kpiwatch.quality import history
from kpiwatch.quality.config import CheckSettings
from kpiwatch.quality.outcome import CheckOutcome
from kpiwatch.warehouse import Warehouse, as_date


class TableFacts:
    """What several checks of one table share, each fetched once: one summary query (rows, newest
    timestamp) and one per-day count over the widest window any check of the table needs."""

    def __init__(
        self,
        warehouse: Warehouse,
        table: Table,
        columns: Mapping[str, str],
        as_of: dt.date,
        history_days: int = 8,
        first_processed_day: dt.date | None = None,
    ):
        """first_processed_day: the first day the run processes; None for a full rebuild (every day)."""
        self.warehouse = warehouse
        self.first_processed_day = first_processed_day
        self.table = table
        self.columns = {c.lower(): t for c, t in columns.items()}
        self.as_of = as_of
        self.cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
        self.history_start = as_of - dt.timedelta(days=history_days - 1)
        self._summary: dict | None = None
        self._daily: dict[dt.date, int] | None = None

    @property
    def exists(self) -> bool:
        return bool(self.columns)

    @property
    def time_column(self) -> str:
        return self.table.freshness_column

    @property
    def time_column_present(self) -> bool:
        return self.time_column in self.columns

    def _summary_row(self) -> dict:
        if self._summary is None:
            newest = f", max({self.time_column}) as newest" if self.time_column_present else ""
            self._summary = self.warehouse.query(f"select count(*) as n{newest} from {self.table.qualified_name}")[0]
        return self._summary

    def row_count(self) -> int:
        return int(self._summary_row()["n"])

    def newest(self):
        return self._summary_row().get("newest")

    def daily_counts(self, first_day: dt.date) -> dict[dt.date, int]:
        """Rows per UTC day from first_day to the evaluation date (days without rows are absent)."""
        if self._daily is None or first_day < self.history_start:
            start = min(first_day, self.history_start)
            column, family = self.time_column, self.table.column(self.time_column).family
            rows = self.warehouse.query(
                f"select cast({column} as date) as day, count(*) as n from {self.table.qualified_name} "
                f"where {column} >= ? and {column} < ? group by cast({column} as date)",
                [_bound(start, family), _bound(self.cutoff, family)],
            )
            self._daily, self.history_start = {as_date(r["day"]): int(r["n"]) for r in rows}, start
        return {day: n for day, n in self._daily.items() if day >= first_day}


def _bound(value: dt.date | dt.datetime, family: str) -> dt.date | dt.datetime:
    """A parameter of the column's own type, so engines compare without implicit casts."""
    if family == "date":
        return value.date() if isinstance(value, dt.datetime) else value
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())


def schema_matches_contract(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    problems = table_problems(facts.table, facts.columns if facts.exists else None)
    expected = [c.name for c in facts.table.columns]
    metadata = {"expected_columns": ", ".join(expected), "observed_columns": ", ".join(sorted(facts.columns))}
    if problems:
        text = "; ".join(problems)
        return _outcome(facts, settings, False, f"{text}. See docs/data-contract.md.", metadata)
    return _outcome(facts, settings, True, f"{facts.table.qualified_name} matches the contract.", metadata)


def schema_drift(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    expected = {c.name for c in facts.table.columns}
    extra = sorted(set(facts.columns) - expected)
    if extra:
        listed = ", ".join(f"{facts.table.qualified_name}.{c} ({facts.columns[c]})" for c in extra)
        return _outcome(
            facts,
            settings,
            False,
            f"columns not in the contract appeared: {listed}.",
            {"unexpected_columns": ", ".join(extra)},
        )
    return _outcome(facts, settings, True, "no columns beyond the contract.", {"unexpected_columns": ""})


def not_empty(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    rows = facts.row_count()
    if rows == 0:
        return _outcome(facts, settings, False, f"{facts.table.qualified_name} has no rows.", {"rows": 0})
    return _outcome(facts, settings, True, f"{facts.table.qualified_name} has {rows:,} rows.", {"rows": rows})


def freshness(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    column = facts.time_column
    newest = facts.newest()
    max_lag = float(settings.params["max_lag_hours"]) * 3600
    if newest is None:
        return _outcome(
            facts,
            settings,
            False,
            f"{facts.table.qualified_name} has no rows, so no {column}.",
            {"max_lag_seconds": max_lag},
        )
    # A date covers its whole day: spend dated yesterday is complete at today's midnight.
    newest_instant = (
        newest if isinstance(newest, dt.datetime) else dt.datetime.combine(newest + dt.timedelta(days=1), dt.time())
    )
    lag = (facts.cutoff - newest_instant).total_seconds()
    metadata = {
        "newest": str(newest),
        "lag_seconds": lag,
        "max_lag_seconds": max_lag,
        "evaluated_at": str(facts.cutoff),
    }
    hours = lag / 3600
    if lag > max_lag:
        text = (
            f"newest {column} in {facts.table.qualified_name} is {newest}, {hours:.1f} h before the end of "
            f"{facts.as_of} (allowed: {max_lag / 3600:g} h)."
        )
        return _outcome(facts, settings, False, text, metadata)
    return _outcome(facts, settings, True, f"newest {column} is {newest} ({hours:.1f} h old).", metadata)


def volume(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    counts = facts.daily_counts(facts.as_of - dt.timedelta(days=7))
    latest = counts.get(facts.as_of, 0)
    trailing = [counts.get(facts.as_of - dt.timedelta(days=i), 0) for i in range(1, 8)]
    mean = sum(trailing) / 7
    low, high = float(settings.params["min_ratio"]), float(settings.params["max_ratio"])
    metadata = {"latest_day_rows": latest, "trailing_7d_mean_rows": mean, "min_ratio": low, "max_ratio": high}
    if mean == 0:
        return _outcome(
            facts, settings, True, "no rows in the previous 7 days: not enough history to compare.", metadata
        )
    ratio = latest / mean
    metadata["ratio"] = ratio
    text = f"{facts.as_of} has {latest:,} rows, {ratio:.2f} x the trailing 7-day mean of {mean:,.1f}"
    if not low <= ratio <= high:
        return _outcome(facts, settings, False, f"{text} (allowed {low:g} to {high:g}).", metadata)
    return _outcome(facts, settings, True, f"{text}.", metadata)


def missing_days(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    lookback = int(settings.params["lookback_days"])
    counts = facts.daily_counts(facts.as_of - dt.timedelta(days=lookback - 1))
    if not counts:
        return _outcome(
            facts,
            settings,
            False,
            f"no rows in the {lookback} days up to {facts.as_of}.",
            {"missing_days": lookback, "lookback_days": lookback},
        )
    # The series starts at the first day with data inside the window, so a young table is not "missing" its past.
    first = min(counts)
    span = (facts.as_of - first).days + 1
    missing = [first + dt.timedelta(days=i) for i in range(span) if first + dt.timedelta(days=i) not in counts]
    metadata = {"missing_days": len(missing), "lookback_days": lookback, "sample": ", ".join(map(str, missing[:10]))}
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        return _outcome(
            facts,
            settings,
            False,
            f"{len(missing)} day(s) without rows in {facts.table.qualified_name} between {first} and "
            f"{facts.as_of}: {shown}.",
            metadata,
        )
    return _outcome(facts, settings, True, f"a row on every day from {first} to {facts.as_of}.", metadata)


def amount_plausible(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    """Amounts above max_amount (in the row's own currency): possible, but more often a misplaced decimal point
    or cents loaded as units, which would multiply MRR or spend without failing anything else."""
    limit = float(settings.params["max_amount"])
    keys = ", ".join(KEY_COLUMNS[facts.table.name])
    table = facts.table.qualified_name
    if table_problems(facts.table, facts.columns):  # e.g. amount loaded as text: cannot be compared
        return _outcome(
            facts,
            settings,
            False,
            f"not evaluated: {table} does not match the contract (see schema_matches_contract).",
            {},
        )
    found = facts.warehouse.query(
        f"select count(*) as n, max(amount) as largest from {table} where amount > ?", [limit]
    )[0]
    count = int(found["n"])
    metadata = {"max_amount": limit, "rows_above": count, "largest": float(found["largest"] or 0)}
    if count:
        sample = facts.warehouse.query(
            f"select {keys}, amount, currency from {table} where amount > ? order by amount desc limit 5", [limit]
        )
        metadata["sample"] = ", ".join(str(row) for row in sample)
        return _outcome(
            facts,
            settings,
            False,
            f"{count:,} row(s) of {table} have an amount above {limit:,.0f} (largest {float(found['largest']):,.2f}), "
            f"e.g. {sample[0]}. Check for a misplaced decimal point.",
            metadata,
        )
    return _outcome(facts, settings, True, f"no amount above {limit:,.0f}.", metadata)


def periods_do_not_overlap(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    """Two priced periods of one subscription that overlap (half-open [started_at, ended_at)) would both be
    counted in MRR; (subscription_id, started_at) stays unique, so no other check sees a shifted copy."""
    table = facts.table.qualified_name
    if table_problems(facts.table, facts.columns):
        return _outcome(
            facts,
            settings,
            False,
            f"not evaluated: {table} does not match the contract (see schema_matches_contract).",
            {},
        )
    # Each later period of the same subscription that starts before an earlier one ends (or while an
    # earlier one is still running).
    overlaps = (
        f"from {table} as earlier join {table} as later on later.subscription_id = earlier.subscription_id "
        "and later.started_at > earlier.started_at "
        "and (earlier.ended_at is null or earlier.ended_at > later.started_at)"
    )
    found = facts.warehouse.query(
        f"select count(*) as n, count(distinct earlier.subscription_id) as subscriptions {overlaps}"
    )[0]
    count, subscriptions = int(found["n"]), int(found["subscriptions"])
    metadata = {"overlapping_pairs": count, "subscriptions": subscriptions}
    if count:
        sample = facts.warehouse.query(
            "select earlier.subscription_id as subscription_id, earlier.started_at as started_at, "
            f"earlier.ended_at as ended_at, later.started_at as overlapped_by {overlaps} "
            "order by earlier.subscription_id, earlier.started_at, later.started_at limit 5"
        )
        shown = [
            f"{r['subscription_id']} [{r['started_at']}, {r['ended_at'] or 'running'}) overlapped by the period "
            f"starting {r['overlapped_by']}"
            for r in sample
        ]
        metadata["sample"] = "; ".join(shown)
        return _outcome(
            facts,
            settings,
            False,
            f"{count:,} overlapping pair(s) of priced periods in {subscriptions:,} subscription(s) of {table}, "
            f"e.g. {shown[0]}. MRR would count both; close the earlier period when the later one starts.",
            metadata,
        )
    return _outcome(facts, settings, True, "no two periods of a subscription overlap.", metadata)


def history_unchanged(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    """Every part of history before the run's window against the fingerprint recorded when it was processed
    (kpiwatch/quality/history.py). Changed days of events are re-processed in this run, up to
    repair_max_days back; further back the check fails as an error naming the backfill to run."""
    table = facts.table
    if table_problems(table, facts.columns):
        return _outcome(
            facts,
            settings,
            False,
            f"not evaluated: {table.qualified_name} does not match the contract (see schema_matches_contract).",
            {},
        )
    stored = history.stored_fingerprints(facts.warehouse, table.name)
    full_scan = history.full_scan_due(
        history.last_full_scan(facts.warehouse, table.name), facts.as_of, int(settings.params["full_scan_every_days"])
    )
    hash_from = (
        None
        if full_scan
        else history.hash_from(facts.as_of, facts.first_processed_day, int(settings.params["hash_recent_days"]))
    )
    current = history.current_fingerprints(facts.warehouse, table, facts.cutoff, hash_from, stored)
    last = history.part_of(table.name, facts.as_of)
    unit = history.grain(table.name)
    metadata: dict = {
        "parts": len(current),
        "record": history.to_record(stored, current, last),
        "hashed_from": "all history" if hash_from is None else history.part_of(table.name, hash_from),
    }
    if hash_from is None:
        metadata["full_scan"] = facts.as_of.isoformat()
    if stored is None:
        text = f"no fingerprints recorded yet: this run records {len(current):,} {unit}(s) of history."
        return _outcome(facts, settings, True, text, metadata)
    if facts.first_processed_day is None:
        text = f"full rebuild: all {len(current):,} {unit}(s) are processed and their fingerprints recorded again."
        return _outcome(facts, settings, True, text, metadata)
    before = history.part_of(table.name, facts.first_processed_day)
    changes = history.compare(stored, current, before, last)
    compared = sum(1 for part in current if part < before)
    if not changes:
        how = "hashed" if hash_from is None else f"counted, those from {metadata['hashed_from']} hashed"
        text = f"all {compared:,} {unit}(s) before {before} are as they were when processed ({how})."
        return _outcome(facts, settings, True, text, metadata)
    shown = ", ".join(str(c) for c in changes[:5]) + (" ..." if len(changes) > 5 else "")
    metadata.update(
        changed_parts=len(changes),
        rows_added=sum(c.row_delta for c in changes if c.row_delta > 0),
        rows_removed=-sum(c.row_delta for c in changes if c.row_delta < 0),
        parts_edited=sum(1 for c in changes if c.kind == "edited"),
        sample=", ".join(str(c) for c in changes[:10]),
    )
    text = f"{len(changes):,} {unit}(s) of {table.qualified_name} changed after they were processed: {shown}."
    if table.name not in history.REPAIRED_TABLES:
        text += " The models built from it are rebuilt every run, so this run includes the change"
        text += f", except: {history.NOT_RESTATED[table.name]}." if table.name in history.NOT_RESTATED else "."
        return _outcome(facts, settings, False, text, metadata)
    repair_from = dt.date.fromisoformat(changes[0].part)
    span = (facts.as_of - repair_from).days + 1
    limit = int(settings.params["repair_max_days"])
    if span <= limit:
        metadata["repair_from"] = repair_from.isoformat()
        text += f" This run re-processes {repair_from} to {facts.as_of} ({span} days) so the marts include it."
        return _outcome(facts, settings, False, text, metadata)
    text += (
        f" Re-processing {span} days is beyond repair_max_days ({limit}): run "
        f"`kpiwatch backfill --start {repair_from} --end {facts.as_of}`, then `kpiwatch run --as-of {facts.as_of}`."
    )
    return CheckOutcome(table.name, settings.name, "error", False, text, metadata)


def _outcome(
    facts: TableFacts, settings: CheckSettings, passed: bool, description: str, metadata: dict
) -> CheckOutcome:
    return CheckOutcome(facts.table.name, settings.name, settings.severity, passed, description, metadata)


SQL_CHECKS: dict[str, Callable[[TableFacts, CheckSettings], CheckOutcome]] = {
    "schema_matches_contract": schema_matches_contract,
    "schema_drift": schema_drift,
    "not_empty": not_empty,
    "freshness": freshness,
    "volume": volume,
    "missing_days": missing_days,
    "amount_plausible": amount_plausible,
    "periods_do_not_overlap": periods_do_not_overlap,
    "history_unchanged": history_unchanged,
}

# Columns that identify a row in a sample shown to a person.
KEY_COLUMNS = {
    "users": ["user_id"],
    "subscriptions": ["subscription_id", "started_at"],
    "events": ["event_id"],
    "marketing_spend": ["spend_date", "channel"],
}

# Checks that need the table and its time column to exist; others report the schema problem instead.
NEEDS_TIME_COLUMN = {"freshness", "volume", "missing_days", "history_unchanged"}


def run_sql_check(facts: TableFacts, settings: CheckSettings) -> CheckOutcome:
    if settings.name != "schema_matches_contract" and not facts.exists:
        return _outcome(facts, settings, False, f"not evaluated: table {facts.table.qualified_name} is missing.", {})
    if settings.name in NEEDS_TIME_COLUMN and not facts.time_column_present:
        return _outcome(
            facts,
            settings,
            False,
            f"not evaluated: column {facts.table.qualified_name}.{facts.time_column} is missing.",
            {},
        )
    return SQL_CHECKS[settings.name](facts, settings)
