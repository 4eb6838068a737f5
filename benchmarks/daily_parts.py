"""What two parts cost in a daily run, at 10M and 100M events: the anomaly bands (issue 16) and the segment
marts with change attribution (issue 17).

    .venv/bin/python -m benchmarks.daily_parts [--sizes 10m,100m]

On the cached datasets of benchmarks/run.py: one `kpiwatch run --full-refresh`, then a daily run (the
evaluation day and its 3-day look-back re-processed), measured (d). From that run's dbt log, the execution
time of each part's models and their tests (m); in-process, the query the push makes for it, best of 3 (q):
the verdicts of the day, or the attribution of the day's changes. A part's share of the daily run,
(m + q) / d, is an upper bound: dbt runs two nodes at once, so node times overlap the run's wall time. Writes
the bands and segments sections of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Measurement
from benchmarks.results import write_section
from benchmarks.run import AS_OF, after_daily_run, machine

SECTIONS = {
    "bands": ("<!-- bands:begin -->", "<!-- bands:end -->"),
    "segments": ("<!-- segments:begin -->", "<!-- segments:end -->"),
}
PART_NODES = {
    "bands": re.compile(r"fct_series_(activity|revenue|acquisition|conversion)_daily"),
    "segments": re.compile(
        r"int_user_segments|int_customer_mrr_changes|fct_mrr_by_segment_monthly"
        r"|fct_mrr_movements_daily|fct_active_users_segment_daily"
    ),
}


def node_seconds(target_dir: Path, nodes: re.Pattern) -> float:
    """Execution time of the matching models and their tests in the newest run's dbt log."""
    newest = max(target_dir.glob("run-*/dbt.log"), key=lambda p: p.stat().st_mtime)
    total = 0.0
    for line in newest.read_text().splitlines():
        event = json.loads(line)
        data = event.get("data", {})
        node = data.get("node_info", {}).get("unique_id", "")
        if event["info"]["name"] in ("LogModelResult", "LogTestResult") and nodes.search(node):
            total += float(data.get("execution_time") or 0)
    return total


def query_seconds(db: Path, part: str) -> float:
    """Best of 3 of what the push asks the warehouse for the part, as of the benchmark's day."""
    from kpiwatch.warehouse import DuckDBWarehouse
    from metrics.anomaly_config import load_anomaly_config
    from metrics.attribution import latest_changes
    from metrics.bands import verdicts_of_day

    warehouse, day = DuckDBWarehouse(db), dt.date.fromisoformat(AS_OF)
    config = load_anomaly_config()
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        if part == "bands":
            verdicts_of_day(warehouse, config, day)
        else:
            latest_changes(warehouse, day)
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench(size: str, work: Path, env: dict[str, str]) -> tuple[Measurement, dict[str, tuple[float, float]]]:
    with after_daily_run(size, work, env) as (db, _, daily):
        target = work / f"dbt_target_{size}"
        return daily, {part: (node_seconds(target, PART_NODES[part]), query_seconds(db, part)) for part in SECTIONS}


TITLES = {
    "bands": (
        "## Anomaly bands in a daily run (issue 16)",
        "the four series-with-bands models and their tests (m), and the verdict query of the push (q)",
    ),
    "segments": (
        "## Segment marts and change attribution in a daily run (issue 17)",
        "the six segment models (user segments, customer MRR by segment and by change, the bridge by segment, "
        "event-level movements, active users by segment) and their tests (m), and the attribution the push "
        "reads (q: MRR of the month and DAU of the day, by movement and segment)",
    ),
}


def section(part: str, rows: list[tuple[str, Measurement, dict[str, tuple[float, float]]]]) -> str:
    start, end = SECTIONS[part]
    title, what = TITLES[part]
    lines = [
        start,
        title,
        "",
        f"`python -m benchmarks.daily_parts` on {machine()}: a daily run (d) after a full build, the dbt execution "
        f"time of {what}, best of 3. (m + q) / d is an upper bound of the part's share (dbt runs two nodes at once).",
        "",
        "| events | (d) daily run | (m) models and tests | (q) push query | (m + q) / d |",
        "| --- | --- | --- | --- | --- |",
    ]
    for size, daily, parts in rows:
        models, query = parts[part]
        share = (models + query) / daily.wall_s
        lines.append(f"| {size} | {daily.wall_s:.1f} s | {models:.2f} s | {query:.3f} s | {share:.1%} |")
    lines.append(end)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m,100m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "KPIWATCH_AS_OF"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="kpiwatch-parts-") as tmp:
        for size in args.sizes.split(","):
            daily, parts = bench(size, Path(tmp), env)
            rows.append((size, daily, parts))
            summary = ", ".join(f"{part} {m:.2f} s + {q:.3f} s" for part, (m, q) in parts.items())
            print(f"[{size}] daily {daily.wall_s:.1f} s; {summary}", flush=True)
    for part, (start, end) in SECTIONS.items():
        text = section(part, rows)
        write_section(text, start, end)
        print(text)


if __name__ == "__main__":
    main()
