"""History fingerprints: notice when raw history changes after it was processed.

A daily run reads its window of days; a change further back (a re-loaded file, a deleted day, a late event
older than the look-back, an edited row) would otherwise stay invisible until a full rebuild. Each run that
succeeds records, in the warehouse (`ledger.raw_fingerprints`), a fingerprint of every part of each raw
table it processed: the row count and an order-independent hash of the rows (the sum of per-row hashes),
per day for events and spend, per month for users and subscriptions. The next run computes the same
fingerprints for all of history in one grouped scan inside the warehouse, compares them, and names every
part that changed: added, removed or edited rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from kpiwatch.contract import Table
from kpiwatch.warehouse import Warehouse, relation_exists

FINGERPRINT_SCHEMA = "ledger"
FINGERPRINT_TABLE = f"{FINGERPRINT_SCHEMA}.raw_fingerprints"
DAILY_GRAIN = {"events", "marketing_spend"}  # the others are fingerprinted per month
# Tables with incremental models: a changed day there is re-processed; the others' models are rebuilt in full.
REPAIRED_TABLES = {"events"}
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


def current_fingerprints(warehouse: Warehouse, table: Table, cutoff: dt.datetime) -> dict[str, Fingerprint]:
    """Every part of the table before the cutoff, in one grouped scan inside the warehouse."""
    column = table.freshness_column
    hashed = ", ".join(c.name for c in table.columns if c.name not in UNHASHED.get(table.name, set()))
    part = f"cast({column} as date)" if grain(table.name) == "day" else f"cast(date_trunc('month', {column}) as date)"
    bound = cutoff.date() if table.column(column).family == "date" else cutoff
    rows = warehouse.query(
        f"select cast({part} as varchar) as part, count(*) as n, cast(sum(hash({hashed})) as varchar) as digest "
        f"from {table.qualified_name} where {column} < ? group by {part}",
        [bound],
    )
    return {str(r["part"]): Fingerprint(int(r["n"]), str(r["digest"])) for r in rows}


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
