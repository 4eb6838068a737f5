"""Start-up of `kpiwatch run`: the fixed cost of a run on a company too small for its data to matter.

    .venv/bin/python -m benchmarks.startup [--runs 5]

A 50-user, 30-day company; after one warm-up run (it creates the instance and the tables), RUNS runs
with the workers pre-started (the default) and RUNS with KPIWATCH_PRESTART=off (the baseline: GX and
dbt import inside the run, one after the other), alternating, measured in the same session. Writes the
medians, ranges and their ratio into the start-up section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.measure import measure
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, free_port, machine, require
from kpiwatch.stack import Stack, StackSettings

SECTION_START, SECTION_END = "<!-- startup:begin -->", "<!-- startup:end -->"


def timed_runs(env: dict[str, str], runs: int) -> dict[str, list[float]]:
    command = [str(BIN / "kpiwatch"), "run", "--as-of", AS_OF]
    require("warm-up run", measure(command, env))
    walls: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(runs):
        for mode in ("on", "off"):
            result = require(f"run with KPIWATCH_PRESTART={mode}", measure(command, {**env, "KPIWATCH_PRESTART": mode}))
            walls[mode].append(result.wall_s)
    return walls


def section(walls: dict[str, list[float]]) -> str:
    on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
    return "\n".join(
        [
            SECTION_START,
            "## Start-up (issue 13)",
            "",
            f"`python -m benchmarks.startup` on {machine()}: `kpiwatch run` on 50 users / 30 days, "
            f"{len(walls['on'])} runs of each mode, alternating, after one warm-up run.",
            "",
            "| mode | median | range |",
            "| --- | --- | --- |",
            f"| workers pre-started (default) | {on:.1f} s | {min(walls['on']):.1f} to {max(walls['on']):.1f} s |",
            f"| baseline, KPIWATCH_PRESTART=off | {off:.1f} s | {min(walls['off']):.1f} to {max(walls['off']):.1f} s |",
            "",
            f"Pre-started / baseline: **{on / off:.2f}x**. Before issue 13 the same run took 14.4 s (median, "
            "2026-11-24, table above) and 14.1 s (median of 3 on 2026-11-28, before any change). Since "
            "2026-11-29 the run also builds the anomaly bands (four models and their tests, the verdict query) and "
            "the segment marts of issue 17 (five models and their tests, the attribution query), and the dbt "
            "worker is forked after dagster-dbt's import instead of importing dbt again. Since issues 18 and 19 "
            "it also counts DuckDB's I/O and keeps each node's adapter response (no measurable cost: 1.00x in its "
            "benchmark below), and "
            "ends by writing the HTML report (about 0.3 s).",
            SECTION_END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kpiwatch-startup-") as tmp:
        work = Path(tmp)
        stack = Stack(StackSettings(data_dir=work / "stack", pushgateway_port=free_port()))
        stack.up(services=("pushgateway",))
        try:
            db = work / "tiny.duckdb"
            env = {
                **os.environ,
                "KPIWATCH_PUSHGATEWAY_URL": stack.settings.url("pushgateway"),
                "KPIWATCH_DUCKDB_PATH": str(db),
                "DAGSTER_HOME": str(work / "home"),
                "KPIWATCH_DBT_TARGET_DIR": str(work / "dbt_target"),
            }
            env.pop("KPIWATCH_AS_OF", None)
            generate = [str(BIN / "kpiwatch"), "generate", "--out", str(db), "--as-of", AS_OF, "--users", "50"]
            require("generate tiny", measure([*generate, "--days", "30"], env))
            walls = timed_runs(env, args.runs)
        finally:
            stack.down(services=("pushgateway",))
    text = section(walls)
    write_section(text, SECTION_START, SECTION_END)
    print(text)


if __name__ == "__main__":
    main()
