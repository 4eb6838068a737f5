"""What a run costs the warehouse, worked by hand: busy time with overlapping threads, Snowflake credits with
the 60-second minimum, the adapter's own responses (dbt-snowflake's, made offline by fakesnow) on each node's
event, and DuckDB's counts through the dbt-duckdb plugin."""

import warnings

import pytest

from kpiwatch.dbt_support.duckdb_usage import Plugin
from kpiwatch.dbt_support.node_results import NodeResultRecorder, node_result, read_node_results
from kpiwatch.snowflake_sizes import warehouse_size
from metrics.samples import NodeTiming, warehouse_samples
from metrics.warehouse_cost import DuckDBUsage, busy_seconds, read_duckdb_usage, snowflake_credits


def test_busy_seconds_count_overlapping_threads_once():
    assert busy_seconds([]) == 0
    assert busy_seconds([(0, 10), (5, 15), (20, 22)]) == 17  # 0..15 and 20..22
    assert busy_seconds([(0, 10), (2, 3), (10, 11)]) == 11  # nested, then touching
    assert busy_seconds([(5, 6), (0, 1)]) == 2  # in any order


def test_credits_follow_the_size_and_bill_a_minute_at_least():
    assert snowflake_credits(42, "SMALL") == pytest.approx(2 * 60 / 3600)  # under a minute: billed a minute
    assert snowflake_credits(122, "MEDIUM") == pytest.approx(4 * 122 / 3600)
    assert snowflake_credits(3600, "6X-LARGE") == 512


@pytest.mark.parametrize(
    ("spelling", "size"),
    [("x-small", "X-SMALL"), ("XSMALL", "X-SMALL"), (" Medium ", "MEDIUM"), ("2x-large", "2X-LARGE"),
     ("XXLARGE", "2X-LARGE"), ("4XLARGE", "4X-LARGE"), ("huge", None), ("7X-LARGE", None), ("", None)],
)  # fmt: skip
def test_warehouse_sizes_in_every_spelling_snowflake_accepts(spelling, size):
    assert warehouse_size(spelling) == size


def test_run_cost_samples_worked_by_hand():
    nodes = [
        NodeTiming("fct_a", "model", 10, True, started_at=1000, rows_affected=5),
        NodeTiming("fct_b", "model", 10, True, started_at=1005),  # overlaps fct_a on the other thread
        NodeTiming("unique_fct_a_id", "test", 2, True, started_at=1020, rows_affected=0),
        NodeTiming("fct_c", "model", 3, True),  # no start known: not in the busy time
    ]
    phases = {"checks": 20.0, "dbt": 30.0, "publishing": 5.0}
    values = {(s.name, tuple(s.labels.items())): s.value for s in warehouse_samples(nodes, phases, None, "SMALL", 2)}
    assert values == {
        ("kpiwatch_dbt_node_rows_affected", (("node", "fct_a"), ("resource_type", "model"))): 5,
        ("kpiwatch_warehouse_dbt_busy_seconds", ()): 17,
        # busy 17 + checks 20 + publishing 5 = 42 s: under a minute, so a minute of a Small (2 credits an hour)
        ("kpiwatch_warehouse_credits_estimated", (("warehouse_size", "SMALL"),)): pytest.approx(2 / 60),
        ("kpiwatch_cost_spike_factor", ()): 2,
    }
    usage = DuckDBUsage(statements=40, bytes_read=1000, peak_memory_bytes=5000)
    values = {s.name: s.value for s in warehouse_samples(nodes, {"checks": 100}, usage, None, 3)}
    assert "kpiwatch_warehouse_credits_estimated" not in values  # DuckDB has no credits
    assert values["kpiwatch_warehouse_bytes_read"] == 1000
    assert values["kpiwatch_warehouse_peak_memory_bytes"] == 5000


def node_finished(unique_id: str, response: dict, started: str) -> dict:
    """The data of a NodeFinished event as dbt's msg_to_dict gives it (the fields kpiwatch reads)."""
    return {
        "node_info": {"unique_id": unique_id, "node_started_at": started, "node_finished_at": started},
        "run_result": {"status": "success", "adapter_response": response, "execution_time": 1.5},
    }


def test_snowflake_adapter_responses_become_node_facts():
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector
    from dbt.adapters.snowflake.connections import SnowflakeConnectionManager

    with fakesnow.patch(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fakesnow's note about Arrow copies
        cursor = snowflake.connector.connect(database="KPIWATCH", schema="ANALYTICS").cursor()
        cursor.execute("create table t (a int)")
        cursor.execute("insert into t select * from (values (1), (2), (3))")
        response = SnowflakeConnectionManager.get_response(cursor).to_dict()  # dbt-snowflake's own response
    assert response["rows_affected"] == 3 and response["query_id"]

    unique_id = "model.kpiwatch.fct_mrr_monthly"
    assert node_result(node_finished(unique_id, response, "2024-03-31T06:00:01.500000")) == (
        unique_id,
        {"started_at": 1711864801.5, "rows_affected": 3, "query_id": response["query_id"]},  # UTC without a zone
    )  # dbt-snowflake reports no bytes scanned


def test_an_adapter_that_does_not_know_its_rows_reports_none():
    assert node_result(node_finished("model.p.m", {"_message": "OK", "rows_affected": -1}, "")) == ("model.p.m", {})
    assert node_result(node_finished("model.p.m", {"bytes_processed": 10}, "x")) == ("model.p.m", {"bytes_scanned": 10})
    assert node_result({"node_info": {}}) is None


def test_the_recorder_keeps_only_node_finished_and_writes_the_target(tmp_path, monkeypatch):
    from dbt.events.types import NodeFinished, NodeStart
    from dbt_common.events.base_types import EventLevel, msg_from_base_event

    recorder = NodeResultRecorder()
    node_info = {"unique_id": "model.kpiwatch.fct_a", "node_name": "fct_a", "node_started_at": "2024-03-31T06:00:00"}
    run_result = {"status": "success", "adapter_response": {"_message": "SUCCESS 7", "rows_affected": 7}}
    recorder(msg_from_base_event(NodeStart(node_info=node_info), level=EventLevel.DEBUG))
    recorder(msg_from_base_event(NodeFinished(node_info=node_info, run_result=run_result), level=EventLevel.DEBUG))
    assert recorder.nodes == {"model.kpiwatch.fct_a": {"started_at": 1711864800.0, "rows_affected": 7}}
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    recorder.write()
    assert read_node_results(tmp_path) == recorder.nodes
    (tmp_path / "node_results.json").write_text("[1, 2")
    assert read_node_results(tmp_path) == {}


def test_duckdb_usage_file_missing_or_damaged_is_none(tmp_path):
    assert read_duckdb_usage(tmp_path) is None
    (tmp_path / "warehouse_usage.json").write_text('{"statements": 2')
    assert read_duckdb_usage(tmp_path) is None


def test_the_dbt_duckdb_seam_the_plugin_wraps_still_exists():
    """kpiwatch.dbt_support.duckdb_usage wraps dbt-duckdb's cursor wrapper: an upgrade that moves it must fail here."""
    from dbt.adapters.duckdb.environments import local
    from dbt.adapters.duckdb.plugins import BasePlugin

    assert issubclass(Plugin, BasePlugin)
    Plugin(name="duckdb_usage", plugin_config={})
    assert getattr(local.DuckDBCursorWrapper.execute, "counts_usage", False)
    Plugin(name="duckdb_usage", plugin_config={})  # a second adapter in the process does not wrap twice
    assert local.DuckDBCursorWrapper.execute.__closure__[0].cell_contents.__name__ == "execute"


def test_the_snowflake_warehouse_size_reaches_the_publishing_resource():
    from kpiwatch.settings import load_settings
    from orchestration.resources import warehouse_resource

    env = {
        "KPIWATCH_TARGET": "snowflake",
        "KPIWATCH_SNOWFLAKE_ACCOUNT": "acme-x1",
        "KPIWATCH_SNOWFLAKE_USER": "kpiwatch",
        "KPIWATCH_SNOWFLAKE_DATABASE": "KPIWATCH",
        "KPIWATCH_SNOWFLAKE_PASSWORD": "secret",
    }
    assert warehouse_resource(load_settings(env)).snowflake_warehouse_size == "X-SMALL"  # the default
    sized = load_settings({**env, "KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE": "medium"})
    assert warehouse_resource(sized).snowflake_warehouse_size == "MEDIUM"
    assert warehouse_resource(load_settings({})).snowflake_warehouse_size is None  # DuckDB: no credits


def test_duckdb_usage_is_summed_over_a_command_and_written_once_at_its_end(tmp_path, monkeypatch):
    """The plugin keeps the sums in memory (a file per statement cost a second of a small run); the dbt process
    writes them after the command (kpiwatch/dbt_support/worker.py run_dbt), and the next command counts from zero."""
    import duckdb

    from kpiwatch.dbt_support import duckdb_usage

    cursor = duckdb.connect(str(tmp_path / "w.duckdb")).cursor()
    Plugin(name="duckdb_usage", plugin_config={}).configure_cursor(cursor)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    duckdb_usage.start_command()
    cursor.execute("create table t as select range as x from range(200000)")
    duckdb_usage._record(cursor)
    cursor.execute("select sum(x) from t")
    duckdb_usage._record(cursor)
    assert read_duckdb_usage(tmp_path) is None  # nothing written while the command runs
    duckdb_usage.write_usage()
    usage = read_duckdb_usage(tmp_path)
    assert usage.statements == 2 and usage.peak_memory_bytes > 0
    duckdb_usage.start_command()
    duckdb_usage.write_usage()
    assert read_duckdb_usage(tmp_path) == DuckDBUsage(statements=0, bytes_read=0, peak_memory_bytes=0)
