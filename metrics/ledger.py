"""The ledger of published values, and restatements.

Every business value a run pushes is appended, with the run id and the evaluation date, to a table in the
warehouse (`ledger.published_values`), never updated in place: what kpiwatch told people, and when. A value
of a closed month (metrics.catalog.CLOSED_MONTH_GAUGES) that differs from the one published before for the
same month by more than the tolerance is a restatement (a billing correction, a late refund): pushed as
kpiwatch_restated_value, previous and current, for KpiwatchMetricRestated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kpiwatch.warehouse import Warehouse, as_date, relation_exists
from metrics.catalog import CLOSED_MONTH_GAUGES, METRIC_OF_GAUGE
from metrics.samples import Sample

LEDGER_SCHEMA = "ledger"
LEDGER_TABLE = f"{LEDGER_SCHEMA}.published_values"
LEDGER_COLUMNS = ("run_id", "evaluation_date", "published_at", "metric", "gauge", "labels", "period", "value")
# Differences below this are float noise of values stored exactly in the marts, whatever the tolerance.
NOISE = 1e-9


@dataclass(frozen=True)
class LedgerEntry:
    metric: str
    gauge: str
    labels: str  # "channel=all"; "" for a gauge without labels
    period: dt.date  # the closed month a CLOSED_MONTH_GAUGES value describes, else the evaluation date
    value: float

    @property
    def key(self) -> tuple[str, str, dt.date]:
        return self.gauge, self.labels, self.period


@dataclass(frozen=True)
class Restatement:
    entry: LedgerEntry
    previous: float


def labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def ledger_entries(samples: Iterable[Sample], as_of: dt.date, closed_month: dt.date | None) -> list[LedgerEntry]:
    """The business samples of a push as ledger entries, each with the period it describes."""
    entries = []
    for sample in samples:
        if sample.name not in METRIC_OF_GAUGE:
            continue
        closed = sample.name in CLOSED_MONTH_GAUGES
        if closed and closed_month is None:
            continue
        period = closed_month if closed else as_of
        entries.append(
            LedgerEntry(METRIC_OF_GAUGE[sample.name], sample.name, labels_text(sample.labels), period, sample.value)
        )
    return entries


def ensure_ledger(warehouse: Warehouse) -> None:
    warehouse.query(f"create schema if not exists {LEDGER_SCHEMA}")
    warehouse.query(
        f"create table if not exists {LEDGER_TABLE} (run_id varchar, evaluation_date date, published_at timestamp, "
        "metric varchar, gauge varchar, labels varchar, period date, value double)"
    )


def previously_published(warehouse: Warehouse, entries: Sequence[LedgerEntry]) -> dict[tuple, float]:
    """The latest value published before for each closed-month entry's gauge, labels and period."""
    closed = [e for e in entries if e.gauge in CLOSED_MONTH_GAUGES]
    if not closed or not relation_exists(warehouse, LEDGER_SCHEMA, "published_values"):
        return {}
    periods = sorted({e.period for e in closed})
    rows = warehouse.query(
        "select gauge, labels, period, value from (select gauge, labels, period, value, row_number() over "
        "(partition by gauge, labels, period order by published_at desc) as newest "
        f"from {LEDGER_TABLE} where period in ({', '.join('?' for _ in periods)})) as latest where newest = 1",
        periods,
    )
    return {(r["gauge"], r["labels"], as_date(r["period"])): float(r["value"]) for r in rows}


def restatements(
    entries: Iterable[LedgerEntry], previous: Mapping[tuple, float], tolerance: float
) -> list[Restatement]:
    """Closed-month values that moved by more than `tolerance` (relative) from what was published before."""
    found = []
    for entry in entries:
        before = previous.get(entry.key)
        if before is None or entry.gauge not in CLOSED_MONTH_GAUGES:
            continue
        change = abs(entry.value - before)
        if change > NOISE and change > tolerance * abs(before):
            found.append(Restatement(entry, before))
    return found


def restatement_samples(found: Iterable[Restatement]) -> list[Sample]:
    samples = []
    for restatement in found:
        e = restatement.entry
        labels = {"metric": e.metric, "gauge": e.gauge, "labels": e.labels, "period": e.period.isoformat()}
        samples.append(Sample("kpiwatch_restated_value", {**labels, "version": "previous"}, restatement.previous))
        samples.append(Sample("kpiwatch_restated_value", {**labels, "version": "current"}, e.value))
    return samples


def append_to_ledger(
    warehouse: Warehouse, run_id: str, as_of: dt.date, published_at: dt.datetime, entries: Sequence[LedgerEntry]
) -> None:
    """Append the run's published values; nothing is ever updated or deleted."""
    ensure_ledger(warehouse)
    if not entries:
        return
    row = "(" + ", ".join("?" for _ in LEDGER_COLUMNS) + ")"
    values: list[Any] = []
    for e in entries:
        values += [run_id, as_of, published_at, e.metric, e.gauge, e.labels, e.period, e.value]
    warehouse.query(
        f"insert into {LEDGER_TABLE} ({', '.join(LEDGER_COLUMNS)}) values {', '.join(row for _ in entries)}", values
    )


def published_history(warehouse: Warehouse, metric: str, limit: int) -> list[dict[str, Any]]:
    """A metric's published values, newest first; [] before the first publishing run."""
    if not relation_exists(warehouse, LEDGER_SCHEMA, "published_values"):
        return []
    return warehouse.query(
        f"select {', '.join(LEDGER_COLUMNS)} from {LEDGER_TABLE} where metric = ? "
        "order by published_at desc, gauge, labels, period limit ?",
        [metric, limit],
    )
