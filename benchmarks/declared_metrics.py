"""What ten watched declared metrics (dbt semantic layer, docs/metrics-as-code.md) add to a daily run (issue 28:
no more than 15 % at 10M events).

    .venv/bin/python -m benchmarks.declared_metrics [--sizes 10m]

On the cached dataset of benchmarks/run.py, twice: without declarations (the baseline) and with a metrics folder
declaring ten watched metrics (users of each of the six features a day, and four of them per active user, over
kpiwatch's int_user_feature_daily and its dau). Each: `kpiwatch run --full-refresh`, then the daily run three
times (the same day again: idempotent), median. Writes the declared section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.measure import Measurement, measure
from benchmarks.results import write_section
from benchmarks.run import AS_OF, BIN, CACHE, after_daily_run, machine, require

SECTION = ("<!-- declared:begin -->", "<!-- declared:end -->")
FEATURES = ("dashboards", "reporting", "api", "alerting", "integrations", "collaboration")
PER_ACTIVE_USER = FEATURES[:4]


def declarations() -> str:
    """Ten watched metrics: six simple ones and four ratios to kpiwatch's dau."""
    measures = "\n".join(
        f"      - name: {feature}_users\n        agg: sum\n"
        f"        expr: \"case when feature = '{feature}' then 1 else 0 end\""
        for feature in FEATURES
    )
    watch = "    config:\n      meta: {kpiwatch: {watch: true}}\n"
    simple = "".join(
        f"  - name: {feature}_users_daily\n    label: {feature} users\n    type: simple\n"
        f"    type_params:\n      measure: {feature}_users\n{watch}"
        for feature in FEATURES
    )
    ratios = "".join(
        f"  - name: {feature}_users_per_active_user\n    label: {feature} users per active user\n    type: ratio\n"
        f"    type_params:\n      numerator: {feature}_users_daily\n      denominator: dau\n{watch}"
        for feature in PER_ACTIVE_USER
    )
    return f"""semantic_models:
  - name: feature_user_days
    model: ref('int_user_feature_daily')
    defaults:
      agg_time_dimension: activity_date
    entities:
      - name: feature_user_day
        type: primary
        expr: "user_id || feature || cast(activity_date as varchar)"
    dimensions:
      - name: activity_date
        type: time
        type_params:
          time_granularity: day
      - name: feature
        type: categorical
    measures:
{measures}
metrics:
{simple}{ratios}"""


def daily_runs(size: str, work: Path, env: dict[str, str]) -> list[Measurement]:
    """The measured daily run of after_daily_run, and the same day twice more."""
    work.mkdir(parents=True, exist_ok=True)
    with after_daily_run(size, work, env) as (db, run_env, first):
        command = [str(BIN / "kpiwatch"), "run", "--as-of", AS_OF]
        runs = [first, *(require(f"[{size}] daily run", measure(command, run_env)) for _ in range(2))]
        expected = len(FEATURES) + len(PER_ACTIVE_USER) if "KPIWATCH_METRICS_DIR" in env else 0
        if declared_series(db) != expected:
            raise SystemExit(f"[{size}] expected {expected} declared series, found {declared_series(db)}")
        return runs


def declared_series(db: Path) -> int:
    """How many declared metrics have a value on the benchmark's day: proof the runs watched them."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        sql = "select count(distinct metric) from marts.fct_series_declared_daily where metric_date = ?"
        return con.execute(sql, [AS_OF]).fetchone()[0]
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10m")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    rows = []
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpiwatch-declared-") as tmp:
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        (metrics_dir / "bench.yml").write_text(declarations())
        for size in args.sizes.split(","):
            base = daily_runs(size, Path(tmp) / "base", env)
            declared = daily_runs(size, Path(tmp) / "declared", {**env, "KPIWATCH_METRICS_DIR": str(metrics_dir)})
            base_s = statistics.median(m.wall_s for m in base)
            declared_s = statistics.median(m.wall_s for m in declared)
            rows.append((size, base_s, declared_s))
            print(f"[{size}] daily run {base_s:.1f} s, with ten declared metrics {declared_s:.1f} s", flush=True)
    lines = [
        SECTION[0],
        "## Ten watched declared metrics in a daily run (issue 28)",
        "",
        f"`python -m benchmarks.declared_metrics` on {machine()}: a daily run after a full build, median of 3, without "
        "declarations and with ten watched metrics declared in dbt's semantic layer (six feature-user counts over "
        "int_user_feature_daily, four of them per active user). Target: at most 1.15x.",
        "",
        "| events | daily run | with ten declared metrics | ratio |",
        "| --- | --- | --- | --- |",
        *(f"| {size} | {base:.1f} s | {declared:.1f} s | {declared / base:.2f}x |" for size, base, declared in rows),
        SECTION[1],
    ]
    text = "\n".join(lines)
    write_section(text, *SECTION)
    print(text)


if __name__ == "__main__":
    main()
