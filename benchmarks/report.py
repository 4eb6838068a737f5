"""What the HTML report costs at 10M events (issue 19).

    .venv/bin/python -m benchmarks.report [--sizes 10m]

On the cached dataset of benchmarks/run.py: one `kpiwatch run --full-refresh`, then a daily run (d), which now
ends by writing the report; then the report of the same day built in-process, best of 3 (r): the gauges'
queries (snapshot, verdicts of the day and of 90 days), the bridge, the Dagster instance and the page. r / d is
the report's share of a daily run. Writes the report section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from benchmarks.results import write_section
from benchmarks.run import AS_OF, after_daily_run, machine

START, END = "<!-- report:begin -->", "<!-- report:end -->"


def bench(size: str, work: Path, env: dict[str, str]) -> tuple[float, float, int]:
    from kpiwatch.report import build_report
    from kpiwatch.settings import load_settings

    with after_daily_run(size, work, env) as (_, run_env, daily):
        settings = load_settings(run_env)
        day, out = dt.date.fromisoformat(AS_OF), work / "bench.html"
        build_report(settings, day, out)  # warm: imports
        timings, size_bytes = [], 0
        for _ in range(3):
            started = time.perf_counter()
            size_bytes = len(build_report(settings, day, out).encode())
            timings.append(time.perf_counter() - started)
        return daily.wall_s, min(timings), size_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "KPIWATCH_AS_OF"}
    lines = [
        START,
        "## The HTML report (issue 19)",
        "",
        f"`python -m benchmarks.report` on {machine()}: a daily run (d, which ends by writing the report) after a "
        "full build; the report of the same day built in-process, best of 3 (r); r / d its share of the run.",
        "",
        "| events | (d) daily run | (r) report | r / d | page size |",
        "| --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="kpiwatch-report-") as tmp:
        for size in args.sizes.split(","):
            daily, report, page = bench(size, Path(tmp), env)
            lines.append(f"| {size} | {daily:.1f} s | {report:.2f} s | {report / daily:.1%} | {page / 1024:.0f} KiB |")
            print(lines[-1], flush=True)
    lines.append(END)
    text = "\n".join(lines)
    write_section(text, START, END)
    print(text)


if __name__ == "__main__":
    main()
