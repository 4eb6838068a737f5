"""What reading subscriptions through the stripe_fivetran source adapter (docs/sources.md) adds to a daily run
(issue 29: no more than 20 % at 10M events).

    .venv/bin/python -m benchmarks.sources [--sizes 10m]

On the cached dataset of benchmarks/run.py, twice: as it is (the baseline, subscriptions in raw.subscriptions)
and with its subscriptions turned into Fivetran's Stripe schema (`kpiwatch generate --shape`'s conversion) and
read through the adapter. Each: `kpiwatch run --full-refresh`, then the daily run three times (the same day
again), median. Both must give the same MRR. Writes the sources section of benchmarks/RESULTS.md.
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
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, CACHE, dataset, machine, require, run_environment
from kpiwatch.sample.shapes import reshape

SECTION = ("<!-- sources:begin -->", "<!-- sources:end -->")
ADAPTED = {"KPIWATCH_SOURCE_SUBSCRIPTIONS": "stripe_fivetran"}


def daily_runs(size: str, work: Path, env: dict[str, str], shape: str) -> tuple[list[Measurement], float]:
    """A full build, then three daily runs of the same day; their measurements and the day's MRR."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{size}.duckdb"
    shutil.copy(dataset(size, env), db)
    con = duckdb.connect(str(db))
    try:
        reshape(con, shape, dt.date.fromisoformat(AS_OF))
    finally:
        con.close()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    rows = []
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
        SECTION[1],
    ]
    text = "\n".join(lines)
    write_section(text, *SECTION)
    print(text)


if __name__ == "__main__":
    main()
