"""What reading through a source adapter (docs/sources.md) adds to a daily run (issue 29: no more than 20 % at
10M events).

    .venv/bin/python -m benchmarks.sources [--sizes 10m]

On the cached dataset of benchmarks/run.py, each time against the dataset as it is (the baseline, in the contract
tables), converted with `kpiwatch generate --shape`'s conversion:
- subscriptions in Fivetran's Stripe schema, read by stripe_fivetran: `kpiwatch run --full-refresh`, then the
  daily run three times (the same day again), median; both must give the same MRR;
- events as Segment delivers them, landed by the segment adapter: a full build, then three new days (the same
  NEW_DAY_EVENTS events on each side, loaded into raw.events or into segment.tracks), each given its daily run,
  median; both must give the same daily active users.
Writes the sources section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import duckdb

from benchmarks.measure import Measurement, measure
from benchmarks.new_day import NEW_DAY_EVENTS, append_new_day
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, CACHE, dataset, machine, require, run_environment
from kpiwatch.sample.shapes import reshape

SECTION = ("<!-- sources:begin -->", "<!-- sources:end -->")
ADAPTED = {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_fivetran"}
# The segment shape writes users as identifies (no raw.users), so users are landed from them too.
TRACKED = {"KPIWATCH_SOURCE_EVENTS": "segment", "KPIWATCH_SOURCE_USERS": "segment"}
NEW_DAYS = 3
# A new day in Segment's tracks: every copy of the day's first NEW_DAY_EVENTS message ids (the events
# append_new_day copies into raw.events), one day later and under new ids, plus the day's spend.
_NEW_TRACKS_DAY = """
insert into segment.tracks
select * replace (
    'new-' || id as id, "timestamp" + interval 1 day as "timestamp",
    original_timestamp + interval 1 day as original_timestamp, sent_at + interval 1 day as sent_at,
    received_at + interval 1 day as received_at, uuid_ts + interval 1 day as uuid_ts
)
from segment.tracks
where id in (
    select distinct id from segment.tracks where "timestamp" >= $day and "timestamp" < $next order by id limit $n
)
"""
_NEW_SPEND_DAY = """
insert into raw.marketing_spend by name
select * replace (spend_date + 1 as spend_date) from raw.marketing_spend where spend_date = $day
"""


def shaped_copy(size: str, work: Path, env: dict[str, str], shape: str) -> Path:
    """A copy of the size's cached dataset in `shape` (`kpiwatch generate --shape`'s conversion)."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{size}.duckdb"
    shutil.copy(dataset(size, env), db)
    con = duckdb.connect(str(db))
    try:
        reshape(con, shape, dt.date.fromisoformat(AS_OF))
    finally:
        con.close()
    return db


def daily_runs(size: str, work: Path, env: dict[str, str], shape: str) -> tuple[list[Measurement], float]:
    """A full build, then three daily runs of the same day; their measurements and the day's MRR."""
    db = shaped_copy(size, work, env, shape)
    run_env = {**run_environment(env, work, size, db), **(ADAPTED if shape != "contract" else {})}
    command = [str(BIN / "kpiwatch"), "run", "--as-of", AS_OF]
    try:
        require(f"[{size}] {shape} full build", measure([*command, "--full-refresh"], run_env))
        runs = [require(f"[{size}] {shape} daily run", measure(command, run_env)) for _ in range(3)]
        con = duckdb.connect(str(db), read_only=True)
        try:
            (mrr,) = con.execute("select mrr_usd from marts.fct_mrr_monthly order by month desc limit 1").fetchone()
        finally:
            con.close()
        return runs, float(mrr)
    finally:
        db.unlink(missing_ok=True)


def append_tracked_day(db: Path, last_day: dt.date) -> dt.date:
    """append_new_day's new day, as Segment would load it."""
    new_day = last_day + dt.timedelta(days=1)
    con = duckdb.connect(str(db))
    try:
        params = {"day": last_day, "next": new_day, "n": NEW_DAY_EVENTS}
        con.execute(_NEW_TRACKS_DAY, params)
        con.execute(_NEW_SPEND_DAY, {"day": last_day})
    finally:
        con.close()
    return new_day


def new_day_runs(size: str, work: Path, env: dict[str, str], shape: str) -> tuple[list[Measurement], list[int]]:
    """A full build, then NEW_DAYS new days, each loaded and given its daily run: their measurements and each
    new day's daily active users."""
    db = shaped_copy(size, work, env, shape)
    run_env = {**run_environment(env, work, size, db), **(TRACKED if shape != "contract" else {})}
    kpiwatch = [str(BIN / "kpiwatch"), "run", "--as-of"]
    try:
        require(f"[{size}] {shape} full build", measure([*kpiwatch, AS_OF, "--full-refresh"], run_env))
        day, runs, active = dt.date.fromisoformat(AS_OF), [], []
        for _ in range(NEW_DAYS):
            day = append_new_day(db, day) if shape == "contract" else append_tracked_day(db, day)
            runs.append(require(f"[{size}] {shape} new day", measure([*kpiwatch, day.isoformat()], run_env)))
            con = duckdb.connect(str(db), read_only=True)
            try:
                sql = "select dau from marts.fct_active_users_daily where activity_date = ?"
                active.append(int(con.execute(sql, [day]).fetchone()[0]))
            finally:
                con.close()
        return runs, active
    finally:
        db.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    rows, event_rows = [], []
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpiwatch-sources-") as tmp:
        for size in args.sizes.split(","):
            base, base_mrr = daily_runs(size, Path(tmp) / "contract", env, "contract")
            adapted, adapted_mrr = daily_runs(size, Path(tmp) / "stripe", env, "stripe_fivetran")
            if abs(base_mrr - adapted_mrr) > 0.005:
                raise SystemExit(f"[{size}] MRR differs: {base_mrr} in contract shape, {adapted_mrr} through Stripe")
            base_s = statistics.median(m.wall_s for m in base)
            adapted_s = statistics.median(m.wall_s for m in adapted)
            rows.append((size, base_s, adapted_s, base_mrr))
            print(f"[{size}] daily run {base_s:.1f} s, subscriptions from Stripe {adapted_s:.1f} s", flush=True)
            base_days, base_dau = new_day_runs(size, Path(tmp) / "contract_days", env, "contract")
            tracked_days, tracked_dau = new_day_runs(size, Path(tmp) / "segment", env, "segment")
            if base_dau != tracked_dau:
                raise SystemExit(f"[{size}] DAU differs: {base_dau} in contract shape, {tracked_dau} through Segment")
            base_day = statistics.median(m.wall_s for m in base_days)
            tracked_day = statistics.median(m.wall_s for m in tracked_days)
            event_rows.append((size, base_day, tracked_day, base_dau))
            print(f"[{size}] new day {base_day:.1f} s, events from Segment {tracked_day:.1f} s", flush=True)
    lines = [
        SECTION[0],
        "## Subscriptions read from Stripe through the source adapter in a daily run (issue 29)",
        "",
        f"`python -m benchmarks.sources` on {machine()}: a daily run after a full build, median of 3, with "
        "subscriptions in `raw.subscriptions` and with the same subscriptions in Fivetran's Stripe schema read by "
        "the `stripe_fivetran` adapter (same MRR checked). Target: at most 1.20x.",
        "",
        "| events | daily run | subscriptions from Stripe | ratio | MRR (both) |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {size} | {base:.1f} s | {adapted:.1f} s | {adapted / base:.2f}x | {mrr:,.2f} |"
            for size, base, adapted, mrr in rows
        ),
        "",
        "## Events landed from Segment through the source adapter in a daily run (issue 29)",
        "",
        f"The same dataset, fully built, then {NEW_DAYS} new days of {NEW_DAY_EVENTS:,} events each (median of the "
        "daily runs): loaded into `raw.events`, and loaded as Segment delivers them (anonymous events, retries in "
        "later loads) into `segment.tracks`, landed incrementally by the `segment` adapter, users too (from its "
        "identifies; the newest landed load kept in the ledger), same daily active users checked. Target: at most "
        "1.20x.",
        "",
        "| events | new day | events from Segment | ratio | DAU of the new days (both) |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {size} | {base:.1f} s | {tracked:.1f} s | {tracked / base:.2f}x | {', '.join(map(str, dau))} |"
            for size, base, tracked, dau in event_rows
        ),
        SECTION[1],
    ]
    text = "\n".join(lines)
    write_section(text, *SECTION)
    print(text)


if __name__ == "__main__":
    main()
