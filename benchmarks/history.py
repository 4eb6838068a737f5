"""Cost of the history comparison (issues 15 and 27) at 1M, 10M and 100M events.

    .venv/bin/python -m benchmarks.history [--sizes 1m,10m,100m] [--runs 3]

Every run compares raw history with the fingerprints earlier runs recorded (row count and summed row hashes
per day of events and spend, per month of users and subscriptions; kpiwatch/quality/history.py). On the
cached datasets of benchmarks/run.py, in the same session: (w) the full hash of every part of the four raw
tables, which a run makes every `full_scan_every_days` (a week) and on the first run; (h) the daily
comparison, which hashes the run's window and the 7 days before it, counts the rows of every older part and
compares with what the full hash recorded; the baselines, re-reading history: (r) benchmarks/floor.sql, every
metric computed from all history by hand-written SQL in one DuckDB process (the least a rebuild can cost), and
(f) `kpiwatch run --full-refresh`, the rebuild a change to history needed before issue 15 (one run). Best of
RUNS for (w), (h) and (r). Writes the history section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
LOOKBACK_DAYS, HASH_RECENT_DAYS = 3, 7  # the defaults of a daily run and of history_unchanged


def scan(path: str, as_of_text: str, mode: str, fingerprints_file: str) -> None:
    """The comparison's warehouse work, as a run does it. mode full: every part hashed, written to
    fingerprints_file; mode daily: the window and HASH_RECENT_DAYS before it hashed, older parts counted and
    compared with the file (what the last full hash recorded)."""
    from kpiwatch.contract import RAW_TABLES
    from kpiwatch.quality.history import Fingerprint, compare, current_fingerprints, hash_from, part_of
    from kpiwatch.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(Path(path))
    as_of = dt.date.fromisoformat(as_of_text)
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    first_processed = as_of - dt.timedelta(days=LOOKBACK_DAYS)
    recorded = {} if mode == "full" else json.loads(Path(fingerprints_file).read_text())
    started = time.perf_counter()
    parts, found = {}, 0
    for table in RAW_TABLES:
        if mode == "full":
            current = current_fingerprints(warehouse, table, cutoff)
        else:
            stored = {p: Fingerprint(*f) for p, f in recorded[table.name].items()}
            start = hash_from(as_of, first_processed, HASH_RECENT_DAYS)
            current = current_fingerprints(warehouse, table, cutoff, start, stored)
            found += len(compare(stored, current, part_of(table.name, first_processed), part_of(table.name, as_of)))
        parts[table.name] = {p: [f.rows, f.digest] for p, f in current.items()}
    elapsed = time.perf_counter() - started
    if mode == "full":
        Path(fingerprints_file).write_text(json.dumps(parts))
    elif found:
        raise SystemExit(f"{found} part(s) differ from the full hash of the same data")
    print(f"{sum(len(p) for p in parts.values())} parts in {elapsed:.2f} s")


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


def section(rows: list[tuple[str, Measurement, Measurement, Measurement, Measurement]], runs: int) -> str:
    lines = [
        SECTION_START,
        "## History comparison (issues 15 and 27)",
        "",
        f"`python -m benchmarks.history` on {machine()}, best of {runs} runs each, in one session. (h) the daily "
        "comparison every run makes: the window and the 7 days before it hashed, the rows of every older part "
        "counted (the time column alone) and compared with the recorded fingerprints; (w) the full hash of every "
        "part, made every `full_scan_every_days` (7) and on the first run (four tables, one grouped scan each, "
        "`kpiwatch/quality/history.py`); (r) the baseline, re-reading history: benchmarks/floor.sql, every "
        "metric from all history in one DuckDB process; (f) `kpiwatch run --full-refresh` (one run), the rebuild a "
        "change to history needed before issue 15. Each cell: wall time / CPU time / peak memory of the process "
        "(the Python start-up of (h) and (w) included).",
        "",
        "| events | (h) daily comparison | (w) weekly full hash | (r) floor, all history | (f) kpiwatch full rebuild "
        "| h / w | h(size) / h(1m) | w / r |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    first = rows[0][1].wall_s
    for size, h, w, r, f in rows:
        lines.append(
            f"| {size} | {_cell(h)} | {_cell(w)} | {_cell(r)} | {_cell(f)} "
            f"| {h.wall_s / w.wall_s:.2f}x | {h.wall_s / first:.2f}x | {w.wall_s / r.wall_s:.2f}x |"
        )
    lines += [
        "",
        "The daily comparison still reads the time column of every row (a count per part), so it grows with "
        "history, but slowly: no other column is read. The full hash reads every raw column once a week.",
        SECTION_END,
    ]
    return "\n".join(lines)


def _cell(m: Measurement) -> str:
    return f"{m.wall_s:.2f} s / {m.cpu_s:.2f} s / {m.peak_mib / 1024:.2f} GiB"


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--scan":
        scan(*sys.argv[2:])
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
            path, recorded = str(source), str(Path(tmp) / f"fingerprints_{size}.json")
            scan_command = [PYTHON, "-m", "benchmarks.history", "--scan", path, AS_OF]
            w = best([*scan_command, "full", recorded], env, args.runs, f"[{size}] full hash")
            h = best([*scan_command, "daily", recorded], env, args.runs, f"[{size}] daily comparison")
            r = best([PYTHON, "-m", "benchmarks.floor", path, AS_OF], env, args.runs, f"[{size}] floor")
            f = full_rebuild(source, Path(tmp), env, size)
            print(
                f"[{size}] daily {h.wall_s:.2f} s ({h.stdout.strip()}), full hash {w.wall_s:.2f} s, "
                f"floor {r.wall_s:.2f} s, rebuild {f.wall_s:.1f} s",
                flush=True,
            )
            rows.append((size, h, w, r, f))
    text = section(rows, args.runs)
    write_section(text, SECTION_START, SECTION_END)
    print(text)


if __name__ == "__main__":
    main()
