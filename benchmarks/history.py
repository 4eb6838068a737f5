"""Cost of the history comparison (issue 15) at 1M, 10M and 100M events.

    .venv/bin/python -m benchmarks.history [--sizes 1m,10m,100m] [--runs 3]

Every run fingerprints all of raw history (row count and summed row hashes per day of events and spend,
per month of users and subscriptions: one grouped scan per table inside DuckDB, kpiwatch/quality/history.py)
and compares it with what earlier runs recorded. On the cached datasets of benchmarks/run.py, in the same
session: (h) that scan of the four raw tables; the baselines, re-reading history: (r) benchmarks/floor.sql,
every metric computed from all history by hand-written SQL in one DuckDB process (the least a rebuild can
cost), and (f) `kpiwatch run --full-refresh`, the rebuild a change to history needed before (one run: it
takes a minute at 100M). Best of RUNS for (h) and (r). Writes the history section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Measurement, measure
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, PYTHON, dataset, machine, require

SECTION_START, SECTION_END = "<!-- history:begin -->", "<!-- history:end -->"


def scan(path: str, as_of_text: str) -> None:
    """The comparison's warehouse work, as a daily run does it: every table's fingerprints and the stored ones."""
    from kpiwatch.contract import RAW_TABLES
    from kpiwatch.quality.history import current_fingerprints, stored_fingerprints
    from kpiwatch.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(Path(path))
    cutoff = dt.datetime.combine(dt.date.fromisoformat(as_of_text) + dt.timedelta(days=1), dt.time())
    started = time.perf_counter()
    parts = 0
    for table in RAW_TABLES:
        parts += len(current_fingerprints(warehouse, table, cutoff))
        stored_fingerprints(warehouse, table.name)
    print(f"{parts} parts in {time.perf_counter() - started:.2f} s")


def best(command: list[str], env: dict[str, str], runs: int, step: str) -> Measurement:
    return min((require(step, measure(command, env)) for _ in range(runs)), key=lambda m: m.wall_s)


def full_rebuild(source: Path, work: Path, env: dict[str, str], size: str) -> Measurement:
    db = work / f"{size}.duckdb"
    shutil.copy(source, db)
    run_env = {
        **env,
        "KPIWATCH_DUCKDB_PATH": str(db),
        "DAGSTER_HOME": str(work / f"home_{size}"),
        "KPIWATCH_DBT_TARGET_DIR": str(work / "dbt_target"),
        "KPIWATCH_PUSHGATEWAY_URL": "off",
    }
    try:
        return require(
            f"[{size}] full rebuild",
            measure([str(BIN / "kpiwatch"), "run", "--as-of", AS_OF, "--full-refresh"], run_env),
        )
    finally:
        db.unlink(missing_ok=True)


def section(rows: list[tuple[str, Measurement, Measurement, Measurement]], runs: int) -> str:
    lines = [
        SECTION_START,
        "## History comparison (issue 15)",
        "",
        f"`python -m benchmarks.history` on {machine()}, best of {runs} runs each, in one session. (h) the "
        "fingerprint scan of all raw history that every run makes (four tables, one grouped scan each, "
        "`kpiwatch/quality/history.py`); (r) the baseline, re-reading history: benchmarks/floor.sql, every "
        "metric from all history in one DuckDB process; (f) `kpiwatch run --full-refresh` (one run), the rebuild a "
        "change to history needed before. Each cell: wall time / CPU time / peak memory.",
        "",
        "| events | (h) history comparison | (r) floor, all history | (f) kpiwatch full rebuild | h / r | h / f |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size, h, r, f in rows:
        lines.append(
            f"| {size} | {_cell(h)} | {_cell(r)} | {_cell(f)} "
            f"| {h.wall_s / r.wall_s:.2f}x | {h.wall_s / f.wall_s:.2f}x |"
        )
    lines += [
        "",
        "The daily run beside it is column (d3) of the table above (one new day with the 3-day look-back). The "
        "comparison reads every raw column once (the hash needs each value), so its cost grows with history; "
        "it reads no mart and writes nothing but the fingerprints of changed and new days.",
        SECTION_END,
    ]
    return "\n".join(lines)


def _cell(m: Measurement) -> str:
    return f"{m.wall_s:.2f} s / {m.cpu_s:.2f} s / {m.peak_mib / 1024:.2f} GiB"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--scan":
        scan(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m,100m")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="kpiwatch-history-") as tmp:
        for size in args.sizes.split(","):
            source = dataset(size, env)
            path = str(source)
            h = best([PYTHON, "-m", "benchmarks.history", "--scan", path, AS_OF], env, args.runs, f"[{size}] history")
            r = best([PYTHON, "-m", "benchmarks.floor", path, AS_OF], env, args.runs, f"[{size}] floor")
            f = full_rebuild(source, Path(tmp), env, size)
            print(
                f"[{size}] history {h.wall_s:.2f} s ({h.stdout.strip()}), floor {r.wall_s:.2f} s, "
                f"rebuild {f.wall_s:.1f} s",
                flush=True,
            )
            rows.append((size, h, r, f))
    text = section(rows, args.runs)
    write_section(text, SECTION_START, SECTION_END)
    print(text)


if __name__ == "__main__":
    main()
