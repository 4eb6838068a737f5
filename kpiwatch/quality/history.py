"""History fingerprints: notice when raw history changes after it was processed.

A daily run reads its window of days; a change further back (a re-loaded file, a deleted day, a late event
older than the look-back, an edited row) would otherwise stay invisible until a full rebuild. Each run that
succeeds records, in the warehouse (`ledger.raw_fingerprints`), a fingerprint of every part of each raw
table it processed: the row count and an order-independent hash of the rows (the sum of per-row hashes),
per day for events and spend, per month for users and subscriptions. The next run compares, and names every
part that changed: added, removed or edited rows.

A daily run's cost must not grow with history, so it hashes only the recent parts (the processed window and
`hash_recent_days` before it) and counts the rows of every older part, a scan of the time column alone; an
old part whose count moved is then hashed on its own. Edits in place further back (same row count) are found
by the full hash of every part, made every `full_scan_every_days` (a week by default), on the first run and
on a full rebuild; the as-of date of the last one is kept in `ledger.history_scans`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from kpiwatch.contract import Table
from kpiwatch.warehouse import Warehouse, as_date, relation_exists

FINGERPRINT_SCHEMA = "ledger"
FINGERPRINT_TABLE = f"{FINGERPRINT_SCHEMA}.raw_fingerprints"
SCANS_TABLE = f"{FINGERPRINT_SCHEMA}.history_scans"
DAILY_GRAIN = {"events", "marketing_spend"}  # the others are fingerprinted per month
# Tables with incremental models: a changed day there is re-processed; the others' models are rebuilt in full.
REPAIRED_TABLES = {"events"}
# What a change to a table rebuilt in full does not reach: the daily marts that read it, for days already processed.
NOT_RESTATED = {
    "users": "active users by segment (fct_active_users_segment_daily) keep the segments their past days were "
    "counted in; a `kpiwatch backfill` of those days restates them",
}
# Columns left out of a table's fingerprint: a cancellation sets ended_at on an existing period, an ordinary
# edit of a running subscription; changes it makes to closed months show as restatements (metrics/ledger.py).
UNHASHED = {"subscriptions": {"ended_at"}}


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    digest: str


EMPTY = Fingerprint(0, "0")  # a part without rows (a deleted day is recorded so)


@dataclass(frozen=True)
class Change:
    part: str  # "2024-01-05" (a day) or "2024-01-01" (a month)
    kind: str  # added | removed | edited
    row_delta: int

    def __str__(self) -> str:
        return f"{self.part} ({self.kind}, {self.row_delta:+,} rows)"


def grain(table: str) -> str:
    return "day" if table in DAILY_GRAIN else "month"


def part_of(table: str, day: dt.date) -> str:
    return (day if grain(table) == "day" else day.replace(day=1)).isoformat()


def current_fingerprints(
    warehouse: Warehouse,
    table: Table,
    cutoff: dt.datetime,
    hash_from: dt.date | None = None,
    stored: Mapping[str, Fingerprint] | None = None,
) -> dict[str, Fingerprint]:
    """Every part of the table before the cutoff. hash_from None: every part hashed, one grouped scan. Else
    parts from hash_from's part on are hashed, older ones counted; an older part whose count equals the stored
    one keeps its stored digest (unchanged as far as a count can tell), one whose count moved is hashed."""
    if hash_from is None or not stored:
        return _fingerprints(warehouse, table, cutoff)
    recent = part_of(table.name, hash_from)
    current = _fingerprints(warehouse, table, cutoff, since=dt.date.fromisoformat(recent))
    counts = _part_counts(warehouse, table, min(cutoff, dt.datetime.fromisoformat(recent)))
    moved = sorted(p for p, n in counts.items() if stored.get(p, EMPTY).rows != n)
    for start in range(0, len(moved), 500):  # bounded statements, whatever the history's length
        current.update(_fingerprints(warehouse, table, cutoff, parts=moved[start : start + 500]))
    current.update({p: Fingerprint(n, stored[p].digest) for p, n in counts.items() if p not in current})
    return current


def _part_expression(table: Table) -> str:
    column = table.freshness_column
    return f"cast({column} as date)" if grain(table.name) == "day" else f"cast(date_trunc('month', {column}) as date)"


def _bound(table: Table, value: dt.datetime) -> dt.date | dt.datetime:
    return value.date() if table.column(table.freshness_column).family == "date" else value


def _fingerprints(
    warehouse: Warehouse,
    table: Table,
    cutoff: dt.datetime,
    since: dt.date | None = None,
    parts: list[str] | None = None,
) -> dict[str, Fingerprint]:
    """Row count and summed row hashes per part before the cutoff: all parts, those from `since`, or `parts`
    (bounded by their first and last day, so the warehouse prunes by the time column first)."""
    column, part = table.freshness_column, _part_expression(table)
    hashed = ", ".join(c.name for c in table.columns if c.name not in UNHASHED.get(table.name, set()))
    where, params = f"{column} < ?", [_bound(table, cutoff)]
    if since is not None:
        where, params = where + f" and {column} >= ?", [*params, _bound(table, dt.datetime.combine(since, dt.time()))]
    if parts:
        last = _part_end(table.name, dt.date.fromisoformat(parts[-1]))
        where += f" and {column} >= ? and {column} < ? and cast({part} as varchar) in ({', '.join('?' for _ in parts)})"
        params += [_bound(table, dt.datetime.fromisoformat(parts[0])), _bound(table, last), *parts]
    rows = warehouse.query(
        f"select cast({part} as varchar) as part, count(*) as n, cast(sum(hash({hashed})) as varchar) as digest "
        f"from {table.qualified_name} where {where} group by {part}",
        params,
    )
    return {str(r["part"]): Fingerprint(int(r["n"]), str(r["digest"])) for r in rows}


def _part_counts(warehouse: Warehouse, table: Table, before: dt.datetime) -> dict[str, int]:
    """Rows per part before `before`: the time column alone is read."""
    column, part = table.freshness_column, _part_expression(table)
    rows = warehouse.query(
        f"select cast({part} as varchar) as part, count(*) as n from {table.qualified_name} "
        f"where {column} < ? group by {part}",
        [_bound(table, before)],
    )
    return {str(r["part"]): int(r["n"]) for r in rows}


def _part_end(table: str, start: dt.date) -> dt.datetime:
    """The instant after the part starting at `start`."""
    if grain(table) == "day":
        return dt.datetime.combine(start + dt.timedelta(days=1), dt.time())
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(following, dt.time())


def hash_from(as_of: dt.date, first_processed_day: dt.date | None, recent_days: int) -> dt.date | None:
    """The first day a daily run hashes: recent_days before its first processed day; None hashes all."""
    return None if first_processed_day is None else min(first_processed_day, as_of) - dt.timedelta(days=recent_days)


def last_full_scan(warehouse: Warehouse, table: str) -> dt.date | None:
    """The as-of date of the newest run that hashed every part of the table and succeeded."""
    if not relation_exists(warehouse, FINGERPRINT_SCHEMA, "history_scans"):
        return None
    rows = warehouse.query(f"select max(as_of) as as_of from {SCANS_TABLE} where table_name = ?", [table])
    return as_date(rows[0]["as_of"]) if rows and rows[0]["as_of"] is not None else None


def full_scan_due(last: dt.date | None, as_of: dt.date, every_days: int) -> bool:
    """A run hashes all history when none did within every_days of its as-of date (0: every run)."""
    return every_days == 0 or last is None or abs((as_of - last).days) >= every_days


def record_full_scan(warehouse: Warehouse, table: str, as_of: dt.date, run_id: str, at: dt.datetime) -> None:
    warehouse.query(f"create schema if not exists {FINGERPRINT_SCHEMA}")
    warehouse.query(
        f"create table if not exists {SCANS_TABLE} (table_name varchar, as_of date, scanned_at timestamp, "
        "run_id varchar)"
    )
    warehouse.query(f"insert into {SCANS_TABLE} values (?, ?, ?, ?)", [table, as_of, at, run_id])


def stored_fingerprints(warehouse: Warehouse, table: str) -> dict[str, Fingerprint] | None:
    """What the last successful runs recorded; None before the first one."""
    if not relation_exists(warehouse, FINGERPRINT_SCHEMA, "raw_fingerprints"):
        return None
    rows = warehouse.query(f"select part, row_count, row_hash from {FINGERPRINT_TABLE} where table_name = ?", [table])
    return {str(r["part"]): Fingerprint(int(r["row_count"]), str(r["row_hash"])) for r in rows} or None


def compare(
    stored: Mapping[str, Fingerprint], current: Mapping[str, Fingerprint], before: str, last: str
) -> list[Change]:
    """Parts before `before` (the run's first processed part) that differ; parts after `last` (the evaluation
    day's part) belong to runs of later dates and are not compared."""
    changes = []
    for part in sorted(stored.keys() | current.keys()):
        if part >= before or part > last:
            continue
        old, new = stored.get(part, EMPTY), current.get(part, EMPTY)
        if old == new:
            continue
        delta = new.rows - old.rows
        changes.append(Change(part, "added" if delta > 0 else "removed" if delta < 0 else "edited", delta))
    return changes


def to_record(stored: Mapping[str, Fingerprint] | None, current: Mapping[str, Fingerprint], last: str) -> str:
    """The parts whose fingerprint this run records once it has processed them (JSON for the check's
    metadata): those new or different, up to the evaluation day's part."""
    stored = stored or {}
    changed = {p: [f.rows, f.digest] for p, f in current.items() if p <= last and stored.get(p) != f}
    # A part that vanished entirely is recorded as empty, so the change is reported once, not every run.
    changed.update(
        {p: [EMPTY.rows, EMPTY.digest] for p in stored if p <= last and p not in current and stored[p] != EMPTY}
    )
    return json.dumps(changed, sort_keys=True)


def record(warehouse: Warehouse, table: str, parts_json: str, run_id: str, at: dt.datetime) -> int:
    """Replace the recorded fingerprints of the parts a successful run processed; the number of parts."""
    parts = json.loads(parts_json or "{}")
    warehouse.query(f"create schema if not exists {FINGERPRINT_SCHEMA}")
    warehouse.query(
        f"create table if not exists {FINGERPRINT_TABLE} (table_name varchar, part varchar, row_count bigint, "
        "row_hash varchar, recorded_at timestamp, run_id varchar)"
    )
    if not parts:
        return 0
    names = sorted(parts)
    for start in range(0, len(names), 500):  # bounded statements, whatever the history's length
        chunk = names[start : start + 500]
        warehouse.query(
            f"delete from {FINGERPRINT_TABLE} where table_name = ? and part in ({', '.join('?' for _ in chunk)})",
            [table, *chunk],
        )
        values = [v for p in chunk for v in (table, p, parts[p][0], parts[p][1], at, run_id)]
        warehouse.query(
            f"insert into {FINGERPRINT_TABLE} values {', '.join('(?, ?, ?, ?, ?, ?)' for _ in chunk)}", values
        )
    return len(names)
