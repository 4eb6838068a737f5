"""The pipeline watched like the numbers: a real `kpiwatch run` pushes each dbt model's time and success, each
check's time (SQL check, dbt test, GX suite) and the run's phases, which add up to no more than the run took."""

import datetime as dt
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kpiwatch.sample.generate import GenerateOptions, generate

pytestmark = pytest.mark.slow
KPIWATCH = str(Path(sys.executable).with_name("kpiwatch"))
AS_OF = dt.date(2024, 3, 31)


def pushed(gateway: str, environment: str) -> dict[tuple[str, frozenset], float]:
    """{(gauge, labels): value} of one environment's group on the gateway."""
    with urllib.request.urlopen(f"{gateway}/metrics") as response:
        lines = response.read().decode().splitlines()
    values = {}
    for line in lines:
        if not line.startswith("kpiwatch_") or f'environment="{environment}"' not in line:
            continue
        name_labels, value = line.rsplit(" ", 1)
        name, _, labels = name_labels.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").replace('"', "").split(",") if p)
        values[(name, frozenset((k, v) for k, v in pairs if k not in ("job", "instance", "environment")))] = float(
            value
        )
    return values


def test_a_run_pushes_model_check_and_phase_timings(tmp_path, cli_env, job_env):
    db = tmp_path / "w.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=200, days=40, seed=6), progress=False, log=lambda _: None)
    environment = "timings-test"
    env = cli_env(db, tmp_path / "home", KPIWATCH_ENVIRONMENT=environment, KPIWATCH_SLOW_MODEL_FACTOR="4")
    started = time.monotonic()
    done = subprocess.run([KPIWATCH, "run", "--as-of", str(AS_OF)], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    values = pushed(job_env["KPIWATCH_PUSHGATEWAY_URL"], environment)

    model = frozenset({("node", "fct_mrr_monthly"), ("resource_type", "model")})
    assert values[("kpiwatch_dbt_node_duration_seconds", model)] > 0
    assert values[("kpiwatch_dbt_node_success", model)] == 1
    assert values[("kpiwatch_slow_model_factor", frozenset())] == 4
    phases = {dict(labels)["phase"]: v for (name, labels), v in values.items() if name == "kpiwatch_run_phase_seconds"}
    assert set(phases) == {"startup", "checks", "dbt", "publishing"} and all(v > 0 for v in phases.values())
    assert sum(phases.values()) < wall  # the phases are parts of the run, not more than it
    checks = {
        (dict(labels)["asset"], dict(labels)["check"]): v
        for (name, labels), v in values.items()
        if name == "kpiwatch_check_duration_seconds"
    }
    assert checks[("raw/events", "freshness")] > 0  # a SQL check
    assert checks[("raw/events", "gx_suite")] > 0  # the table's GX suite, once
    assert checks[("marts/fct_mrr_monthly", "unique_fct_mrr_monthly_month")] > 0  # a dbt test
    assert not [key for key in checks if key[1] == "unique_event_id"]  # a GX check: counted in its suite

    # What the run cost DuckDB: its own counts over the dbt build's statements, and the busy time of dbt's nodes.
    assert values[("kpiwatch_warehouse_bytes_read", frozenset())] > 0
    assert values[("kpiwatch_warehouse_peak_memory_bytes", frozenset())] > 0
    assert 0 < values[("kpiwatch_warehouse_dbt_busy_seconds", frozenset())] <= phases["dbt"]
    assert values[("kpiwatch_cost_spike_factor", frozenset())] == 2
    assert not [key for key in values if key[0] == "kpiwatch_warehouse_credits_estimated"]  # Snowflake only
    # dbt-duckdb reports the rows a seed loaded, not those a model's statement wrote.
    rows = {
        dict(labels)["node"]: v for (name, labels), v in values.items() if name == "kpiwatch_dbt_node_rows_affected"
    }
    seed_rows = len((Path(__file__).parents[1] / "dbt_project/seeds/fx_rates.csv").read_text().splitlines()) - 1
    assert rows["fx_rates"] == seed_rows and "fct_mrr_monthly" not in rows
