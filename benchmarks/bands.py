"""Cost of the anomaly bands (issue 16) in a daily run, at 10M and 100M events.

    .venv/bin/python -m benchmarks.bands [--sizes 10m,100m]

On the cached datasets of benchmarks/run.py: one `kpiwatch run --full-refresh`, then a daily run (the
evaluation day and its 3-day look-back re-processed), measured. From that run's dbt log, the execution time of
the three series-with-bands models and their test, (b); in-process, the verdict query the push makes for the
day, best of 3, (v). Their share of the daily run, (b + v) / (d), is an upper bound: dbt runs two models at
once, so node times overlap the run's wall time. Writes the bands section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Measurement, measure
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, dataset, machine, require

SECTION_START, SECTION_END = "<!-- bands:begin -->", "<!-- bands:end -->"
BAND_NODES = re.compile(r"fct_series_(activity|revenue|acquisition|conversion)_daily")


def band_node_seconds(target_dir: Path) -> float:
    """Execution time of the series models and their tests in the newest run's dbt log."""
    newest = max(target_dir.glob("run-*/dbt.log"), key=lambda p: p.stat().st_mtime)
    total = 0.0
    for line in newest.read_text().splitlines():
        event = json.loads(line)
        data = event.get("data", {})
        node = data.get("node_info", {}).get("unique_id", "")
        if event["info"]["name"] in ("LogModelResult", "LogTestResult") and BAND_NODES.search(node):
            total += float(data.get("execution_time") or 0)
    return total


def verdict_seconds(db: Path) -> float:
    from kpiwatch.warehouse import DuckDBWarehouse
    from metrics.anomaly_config import load_anomaly_config
    from metrics.bands import verdicts_of_day

    warehouse, config, day = DuckDBWarehouse(db), load_anomaly_config(), dt.date.fromisoformat(AS_OF)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        verdicts_of_day(warehouse, config, day)
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench(size: str, work: Path, env: dict[str, str]) -> tuple[Measurement, float, float]:
    db = work / f"{size}.duckdb"
    shutil.copy(dataset(size, env), db)
    run_env = {
        **env,
        "KPIWATCH_DUCKDB_PATH": str(db),
        "DAGSTER_HOME": str(work / f"home_{size}"),
        "KPIWATCH_DBT_TARGET_DIR": str(work / f"dbt_target_{size}"),
        "KPIWATCH_PUSHGATEWAY_URL": "off",
    }
    command = [str(BIN / "kpiwatch"), "run", "--as-of", AS_OF]
    try:
        require(f"[{size}] full build", measure([*command, "--full-refresh"], run_env))
        daily = require(f"[{size}] daily run", measure(command, run_env))
        return daily, band_node_seconds(work / f"dbt_target_{size}"), verdict_seconds(db)
    finally:
        db.unlink(missing_ok=True)


def section(rows: list[tuple[str, Measurement, float, float]]) -> str:
    lines = [
        SECTION_START,
        "## Anomaly bands in a daily run (issue 16)",
        "",
        f"`python -m benchmarks.bands` on {machine()}: a daily run (d) after a full build, the dbt execution time "
        "of the three series-with-bands models and their test in that run (b), and the verdict query of the push "
        "(v, best of 3). (b + v) / d is an upper bound of the bands' share (dbt runs two nodes at once).",
        "",
        "| events | (d) daily run | (b) band models | (v) verdicts | (b + v) / d |",
        "| --- | --- | --- | --- | --- |",
    ]
    for size, daily, models, verdicts in rows:
        share = (models + verdicts) / daily.wall_s
        lines.append(f"| {size} | {daily.wall_s:.1f} s | {models:.2f} s | {verdicts:.3f} s | {share:.1%} |")
    lines.append(SECTION_END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m,100m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "KPIWATCH_AS_OF"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bands-") as tmp:
        for size in args.sizes.split(","):
            daily, models, verdicts = bench(size, Path(tmp), env)
            rows.append((size, daily, models, verdicts))
            print(
                f"[{size}] daily {daily.wall_s:.1f} s, band models {models:.2f} s, verdicts {verdicts:.3f} s",
                flush=True,
            )
    text = section(rows)
    write_section(text, SECTION_START, SECTION_END)
    print(text)


if __name__ == "__main__":
    main()
