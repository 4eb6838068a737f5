"""The real Dagster UI: the asset graph over GraphQL, and a run launched from it."""

import datetime as dt
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kpiwatch.contract import RAW_TABLES
from kpiwatch.errors import KpiwatchError
from kpiwatch.hosting.webserver import descendants, graphql, stop_tree
from kpiwatch.processes import alive
from kpiwatch.quality.config import load_checks_config
from kpiwatch.sample.generate import GenerateOptions, generate
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
RUN_ENDED = ("SUCCESS", "FAILURE", "CANCELED")
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status startTime endTime } } }"
RUN_ERRORS = """
query Errors($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection { events { __typename
  ... on MessageEvent { message level } ... on ExecutionStepFailureEvent { error { message } } } } } } }
"""
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
      status startTime endTime tags { key value } } } }
}
"""


class UI:
    """`kpiwatch ui` as a user starts it, with a GraphQL client."""

    def __init__(self, url: str):
        self.url = url

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, cli_env):
    """The one UI of the suite: `.venv/bin/kpiwatch ui` typed in a terminal whose PATH lacks the venv (dbt is found
    beside the interpreter), serving the webserver and the daemon. Stopping it with SIGTERM must stop its whole
    tree (dagster dev, webserver, daemon, code servers): checked when the module is done with it."""
    work = tmp_path_factory.mktemp("ui")
    db = work / "warehouse.duckdb"
    generate(GenerateOptions(out=db, as_of=AS_OF, users=800, days=60, seed=4), progress=False, log=lambda _: None)
    # Runs launched together take turns on the warehouse: a loaded machine may keep one waiting past the default.
    env = {**cli_env(db, work / "dagster_home", KPIWATCH_RUN_LOCK_WAIT_SECONDS="600"), "PATH": "/usr/bin:/bin"}
    port, log = free_port(), work / "ui.log"
    kpiwatch = str(Path(sys.executable).with_name("kpiwatch"))
    with open(log, "wb") as output:
        process = subprocess.Popen([kpiwatch, "ui", "--port", str(port)], env=env, stdout=output, stderr=output)
    server = UI(f"http://127.0.0.1:{port}")
    try:

        def answers():
            try:
                return server.graphql(ASSET_GRAPH)["assetNodes"]
            except (OSError, KpiwatchError):
                return None

        wait_until(answers, timeout=240, every=1, what=f"the UI at {server.url} (log: {log})")
        tree = descendants(process.pid)
        assert len(tree) >= 3, tree  # dagster dev, its webserver and daemon (and code servers)
        yield server
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 130
        wait_until(lambda: not [pid for pid in tree if alive(pid)], timeout=30, what="every process of the UI to stop")
    finally:
        if process.poll() is None:
            stop_tree(process)


def is_dbt_asset(node: dict) -> bool:
    """A model or seed that is a relation in the warehouse (an ephemeral model is a CTE of the models using it); a
    source adapter is run before the checks, not as an asset (orchestration/source_views.py)."""
    return (
        node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized") != "ephemeral"
        and "source_adapter" not in node["tags"]
    )


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
    # Ordered after the dbt step through the seeds and MetricFlow's time spine, which every dbt step builds: a
    # dependency on a mart that a run withholds would skip publishing altogether (orchestration/publish.py).
    # The marts it reads are named.
    assert deps["prometheus_push"] == {"reference/feature_map", "reference/fx_rates", "semantic/metricflow_time_spine"}
    assert "fct_unit_economics_monthly" in nodes["prometheus_push"]["description"]
    assert nodes["prometheus_push"]["groupName"] == "publishing"


def errors_of(ui: UI, run_id: str) -> list[str]:
    """A failed run's error events, so that a failure says why rather than only that it failed."""
    events = ui.graphql(RUN_ERRORS, {"id": run_id})["runOrError"]["eventConnection"]["events"]
    return [
        (e.get("error") or {}).get("message") or e.get("message", "")
        for e in events
        if e.get("level") in ("ERROR", "CRITICAL") or e["__typename"] == "ExecutionStepFailureEvent"
    ]


def wait_for(ui: UI, query: str, variables: dict, status_of, done: tuple[str, ...], timeout: float) -> dict:
    """Poll a run's or a backfill's status over GraphQL until it is one of `done`."""
    return wait_until(
        lambda: (found := status_of(ui.graphql(query, variables))) and found["status"] in done and found,
        timeout=timeout,
        every=1,
        what=f"{variables} to reach one of {done}",
    )


def test_runs_and_a_backfill_launched_through_the_ui_take_turns_the_backfill_in_one_run(ui):
    """The launch dialog of the daily job, twice at once, and the UI's backfill dialog on the daily event
    models: one run for the whole range (single-run policy). DuckDB lets one process write, so Dagster's queue
    starts them one at a time (the instance's max_concurrent_runs): each succeeds and none overlaps another.
    Launched together, two runs would both start on the daemon's next loop and one would fail on the lock."""
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
    backfill_params = {"assetSelection": daily, "partitionNames": days, "fromFailure": False}
    backfill = ui.graphql(BACKFILL, {"params": backfill_params})["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    run_params = {
        "selector": {
            "repositoryLocationName": "orchestration.definitions",
            "repositoryName": "__repository__",
            "jobName": "kpiwatch_daily",
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": AS_OF.isoformat()}]},
    }
    launched = [ui.graphql(LAUNCH, {"params": run_params})["launchRun"] for _ in range(2)]
    assert all(one["__typename"] == "LaunchRunSuccess" for one in launched), launched

    runs = []
    for run_id in (one["run"]["runId"] for one in launched):
        run = wait_for(ui, RUN_STATUS, {"id": run_id}, lambda a: a["runOrError"], RUN_ENDED, timeout=300)
        assert run["status"] == "SUCCESS", errors_of(ui, run_id)
        runs.append(run)
    ended = wait_for(
        ui,
        BACKFILL_STATUS,
        {"id": backfill["backfillId"]},
        lambda a: a["partitionBackfillOrError"],
        ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"),
        timeout=300,
    )
    assert len(ended["runs"]) == 1, ended
    assert ended["runs"][0]["status"] == "SUCCESS", errors_of(ui, ended["runs"][0]["runId"])
    assert ended["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), ended
    tags = {t["key"]: t["value"] for t in ended["runs"][0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        days[0],
        days[-1],
    )
    spans = sorted((run["startTime"], run["endTime"]) for run in [*runs, ended["runs"][0]])
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), spans


def test_the_ui_from_a_shell_without_the_venv_loads_every_asset(ui, dbt_target_dir):
    keys = {"/".join(n["assetKey"]["path"]) for n in ui.graphql(ASSET_GRAPH)["assetNodes"]}
    manifest = json.loads((dbt_target_dir / "manifest.json").read_text())
    dbt_assets = {f"{n['schema']}/{n['name']}" for n in manifest["nodes"].values() if is_dbt_asset(n)}
    assert keys == dbt_assets | {f"raw/{t.name}" for t in RAW_TABLES} | {"prometheus_push"}
