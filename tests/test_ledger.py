"""The ledger of published values and restatements, on a real DuckDB file and hand-made samples."""

import datetime as dt

import pytest

from kpiwatch.warehouse import DuckDBWarehouse
from metrics.ledger import (
    LedgerEntry,
    append_to_ledger,
    ledger_entries,
    previously_published,
    published_history,
    restatement_samples,
    restatements,
)
from metrics.samples import Sample

AS_OF, APRIL = dt.date(2024, 5, 20), dt.date(2024, 4, 1)


def test_each_sample_is_booked_for_the_period_it_describes():
    samples = [
        Sample("kpiwatch_mrr_usd", {}, 5000.0),
        Sample("kpiwatch_cac_usd", {"channel": "all"}, 310.0),
        Sample("kpiwatch_ltv_usd", {}, 1234.5),
        Sample("kpiwatch_run_success", {}, 1.0),  # not a business value: not in the ledger
    ]
    assert ledger_entries(samples, AS_OF, APRIL) == [
        LedgerEntry("mrr", "kpiwatch_mrr_usd", "", AS_OF, 5000.0),
        LedgerEntry("cac", "kpiwatch_cac_usd", "channel=all", APRIL, 310.0),
        LedgerEntry("unit_economics", "kpiwatch_ltv_usd", "", APRIL, 1234.5),
    ]


@pytest.mark.parametrize(
    ("before", "now", "restated"),
    [
        (1000.0, 1000.9, False),  # 0.09 %: within the 0.1 % tolerance
        (1000.0, 1001.5, True),  # 0.15 %
        (1000.0, 998.0, True),  # down as well as up
        (0.0, 0.0, False),
        (0.0, 0.01, True),  # from zero, any real change
    ],
)
def test_a_closed_month_is_restated_beyond_the_tolerance(before, now, restated):
    entry = LedgerEntry("unit_economics", "kpiwatch_ltv_usd", "", APRIL, now)
    found = restatements([entry], {entry.key: before}, 0.001)
    assert [(r.previous, r.entry.value) for r in found] == ([(before, now)] if restated else [])


def test_values_of_the_day_and_first_publications_are_never_restatements():
    day = LedgerEntry("mrr", "kpiwatch_mrr_usd", "", AS_OF, 6000.0)
    first = LedgerEntry("cac", "kpiwatch_cac_usd", "channel=ads", APRIL, 300.0)
    assert restatements([day, first], {day.key: 5000.0}, 0.001) == []


def test_a_restatement_is_pushed_with_both_values():
    entry = LedgerEntry("cac", "kpiwatch_cac_usd", "channel=all", APRIL, 320.0)
    samples = restatement_samples(restatements([entry], {entry.key: 300.0}, 0.001))
    labels = {"metric": "cac", "gauge": "kpiwatch_cac_usd", "labels": "channel=all", "period": "2024-04-01"}
    assert samples == [
        Sample("kpiwatch_restated_value", {**labels, "version": "previous"}, 300.0),
        Sample("kpiwatch_restated_value", {**labels, "version": "current"}, 320.0),
    ]


def test_the_ledger_is_appended_and_compares_with_the_latest_publication(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", read_only=False)
    ltv = LedgerEntry("unit_economics", "kpiwatch_ltv_usd", "", APRIL, 1200.0)
    assert previously_published(warehouse, [ltv]) == {}  # no ledger yet
    first, second = dt.datetime(2024, 5, 20, 6, 0), dt.datetime(2024, 5, 21, 6, 0)
    append_to_ledger(warehouse, "run-1", AS_OF, first, [ltv, LedgerEntry("mrr", "kpiwatch_mrr_usd", "", AS_OF, 5e3)])
    append_to_ledger(
        warehouse, "run-2", AS_OF + dt.timedelta(days=1), second, [LedgerEntry(**{**ltv.__dict__, "value": 1250.0})]
    )

    assert previously_published(warehouse, [ltv]) == {ltv.key: 1250.0}
    history = published_history(warehouse, "unit_economics", 10)
    assert [(r["run_id"], r["value"], r["period"]) for r in history] == [
        ("run-2", 1250.0, APRIL),
        ("run-1", 1200.0, APRIL),
    ]
    assert [r["run_id"] for r in published_history(warehouse, "mrr", 10)] == ["run-1"]
    assert len(published_history(warehouse, "unit_economics", 1)) == 1
