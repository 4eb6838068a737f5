"""The real Dagster UI: the asset graph over GraphQL, and a run launched from it."""

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpiwatch.contract import RAW_TABLES
from kpiwatch.errors import KpiwatchError
from kpiwatch.generate import GenerateOptions, generate
from kpiwatch.hosting.instance import write_instance_config
from kpiwatch.hosting.webserver import Webserver, descendants, graphql, stop_tree
from kpiwatch.quality.config import load_checks_config
from orchestration.gating import FEEDS_METRICS
from tests.monitoring_helpers import free_port, wait_until

pytestmark = pytest.mark.slow
AS_OF = dt.date(2024, 3, 31)

ASSET_GRAPH = """
{ assetNodes { assetKey { path } isExecutable groupName description dependencyKeys { path }
               assetChecksOrError { ... on AssetChecks { checks { name } } } } }
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"
BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status runs(limit: 10) { runId
      status tags { key value } } } }
}
"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory, cli_env, dbt_target_dir):
    """The webserver and daemon started from a shell whose PATH lacks the venv (as a user's other terminal)."""
    work = tmp_path_factory.mktemp("ui")
    db = work / "warehouse.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=800, days=60, seed=4), progress=False, log=lambda _: None)
    home = work / "dagster_home"
    write_instance_config(home)
    env = {**cli_env(db, home), "PATH": "/usr/bin:/bin"}
    with Webserver(free_port(), env, work / "webserver.log", daemon=True) as server:
        yield server


def is_dbt_asset(node: dict) -> bool:
    """A model or seed that is a relation in the warehouse (an ephemeral model is a CTE of the models using it)."""
    return node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "ephemeral"


def test_asset_graph_has_every_raw_table_model_check_and_the_push(ui, dbt_target_dir):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in ui.graphql(ASSET_GRAPH)["assetNodes"]}
    deps = {key: {"/".join(d["path"]) for d in n["dependencyKeys"]} for key, n in nodes.items()}
    checks = {key: {c["name"] for c in n["assetChecksOrError"].get("checks", [])} for key, n in nodes.items()}

    for table in RAW_TABLES:
        key = f"raw/{table.name}"
        assert not nodes[key]["isExecutable"] and nodes[key]["groupName"] == "raw"
        # Every configured check, and the table's summary (whether it feeds this run's models).
        assert checks[key] == {c.name for c in load_checks_config().for_table(table.name)} | {FEEDS_METRICS}
        assert deps[f"staging/stg_{table.name}"] == {key}
    manifest = json.loads((dbt_target_dir / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if is_dbt_asset(node):
            assert f"{node['schema']}/{node['name']}" in nodes, node["name"]
    dbt_tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert sum(len(c) for k, c in checks.items() if not k.startswith("raw/")) == len(dbt_tests)
    assert deps["marts/fct_mrr_monthly"] == {"marts/fct_customer_mrr_monthly", "intermediate/int_month_spine"}
    # Ordered after the dbt step through the seeds, which every dbt step builds: a dependency on a mart that a
    # run withholds would skip publishing altogether (orchestration/publish.py). The marts it reads are named.
    assert deps["prometheus_push"] == {"reference/feature_map", "reference/fx_rates"}
    assert "fct_unit_economics_monthly" in nodes["prometheus_push"]["description"]
    assert nodes["prometheus_push"]["groupName"] == "publishing"


def test_a_run_launched_through_the_ui_succeeds(ui):
    location = "orchestration.definitions"
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "kpiwatch_daily",
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": AS_OF.isoformat()}]},
    }
    launched = ui.graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 240
    status = None
    while time.monotonic() < deadline:
        status = ui.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"


def test_a_backfill_launched_through_the_ui_runs_the_range_in_one_run(ui):
    """The UI's backfill dialog on the daily event models: one run for the whole range (single-run policy)."""
    nodes = ui.graphql(ASSET_GRAPH)["assetNodes"]
    daily = [
        n["assetKey"]
        for n in nodes
        if n["assetKey"]["path"][-1]
        in (
            "stg_events",
            "int_user_activity_daily",
            "int_user_feature_daily",
            "fct_active_users_daily",
            "fct_feature_adoption_daily",
        )
    ]
    assert len(daily) == 5
    days = [(AS_OF - dt.timedelta(days=n)).isoformat() for n in range(6, 0, -1)]
    params = {"assetSelection": daily, "partitionNames": days, "fromFailure": False}
    launched = ui.graphql(BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 300
    backfill = None
    while time.monotonic() < deadline:
        backfill = ui.graphql(BACKFILL_STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"]
        if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(2)
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    assert len(backfill["runs"]) == 1 and backfill["runs"][0]["status"] == "SUCCESS", backfill
    tags = {t["key"]: t["value"] for t in backfill["runs"][0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        days[0],
        days[-1],
    )


def test_kpiwatch_ui_from_a_shell_without_the_venv_loads_everything_and_stops_its_whole_tree(tmp_path, cli_env):
    """`.venv/bin/kpiwatch ui` typed in another terminal: the code location loads every asset (dbt is found
    beside the interpreter, not on PATH), and SIGTERM stops dagster dev, its webserver, daemon and code servers."""
    port = free_port()
    env = {**cli_env(tmp_path / "unused.duckdb", tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    log = open(tmp_path / "ui.log", "wb")
    kpiwatch = str(Path(sys.executable).with_name("kpiwatch"))
    process = subprocess.Popen([kpiwatch, "ui", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def asset_keys():
            try:
                return {"/".join(n["assetKey"]["path"]) for n in graphql(url, ASSET_GRAPH)["assetNodes"]}
            except (OSError, KpiwatchError):
                return None

        keys = wait_until(asset_keys, timeout=240, every=1, what=f"the UI at {url} (log: {tmp_path / 'ui.log'})")
        manifest = json.loads((Path(env["KPIWATCH_DBT_TARGET_DIR"]) / "manifest.json").read_text())
        dbt_assets = {f"{n['schema']}/{n['name']}" for n in manifest["nodes"].values() if is_dbt_asset(n)}
        assert keys == dbt_assets | {f"raw/{t.name}" for t in RAW_TABLES} | {"prometheus_push"}
        tree = descendants(process.pid)
        assert len(tree) >= 3, tree  # dagster dev, its webserver and daemon (and code servers)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 130
        wait_until(
            lambda: not [pid for pid in tree if Path(f"/proc/{pid}").exists() and is_running(pid)],
            timeout=30,
            what="every process of the UI to stop",
        )
    finally:
        if process.poll() is None:
            stop_tree(process)
        log.close()


def is_running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
