"""Generate + run times at several data sizes, against plain `dbt build` on the same data as baseline.

    .venv/bin/python benchmarks/scale.py --sizes 1m,10m

Datasets are cached in benchmarks/cache/ (git-ignored). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from kpiwatch.paths import DBT_PROJECT_DIR, REPO_ROOT

CACHE = REPO_ROOT / "benchmarks" / "cache"
AS_OF = "2024-06-30"
EVENTS_PER_USER = 90  # measured: 365 days of the default generator give ~90 events per signup
BIN = Path(sys.executable).parent


def parse_size(text: str) -> int:
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text.rstrip("kmKM")) * factor)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB."""
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return time.perf_counter() - started, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated event counts, e.g. 1m,10m,100m")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    print("| events | generate s | dbt build alone s | kpiwatch run s | run / dbt build |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes.split(","):
        events = parse_size(size)
        db = CACHE / f"events_{size}.duckdb"
        env = {**os.environ, "KPIWATCH_DUCKDB_PATH": str(db), "DAGSTER_HOME": str(CACHE / f"home_{size}")}
        generate_s = float("nan")
        if not db.exists():
            generate_s, _ = timed([str(BIN / "kpiwatch"), "generate", "--out", str(db), "--as-of", AS_OF,
                                   "--users", str(events // EVENTS_PER_USER), "--days", "365"], env)  # fmt: skip
        dbt_s, _ = timed([str(BIN / "dbt"), "build", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                          str(DBT_PROJECT_DIR), "--vars", json.dumps({"as_of": AS_OF})], env)  # fmt: skip
        run_s, _ = timed([str(BIN / "kpiwatch"), "run", "--as-of", AS_OF], env)
        print(f"| {size} | {generate_s:.1f} | {dbt_s:.1f} | {run_s:.1f} | {run_s / dbt_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
