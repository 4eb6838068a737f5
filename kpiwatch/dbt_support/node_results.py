"""What dbt's adapter said about each node of a dbt command, kept in the run's target directory.

dbt reports each node's adapter response (rows affected and, on Snowflake, the query id to look up in
QUERY_HISTORY; bytes scanned on adapters that report them) and its start time only in its NodeFinished event,
a debug-level event that neither dbt's info-level log nor dagster-dbt's stream carries. The dbt process
(kpiwatch/dbt_support/worker.py runs dbt in-process, worker or not) records them through dbt's own callback and writes
`DBT_TARGET_PATH/node_results.json`; the dbt step hands the file to the run's event log (orchestration/run_timings.py).

Only the standard library at the top: `kpiwatch-dbt` starts in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

NODE_RESULTS_FILE = "node_results.json"
STARTED_AT, ROWS_AFFECTED, BYTES_SCANNED, QUERY_ID = "started_at", "rows_affected", "bytes_scanned", "query_id"
# Names adapters give the bytes a statement scanned (BigQuery: bytes_processed).
BYTES_SCANNED_KEYS = ("bytes_scanned", "bytes_processed")


def node_result(data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(unique_id, facts) of a NodeFinished event's data as dbt writes it in JSON; None without a node."""
    node = data.get("node_info") or {}
    unique_id = node.get("unique_id")
    if not unique_id:
        return None
    response = (data.get("run_result") or {}).get("adapter_response") or {}
    facts: dict[str, Any] = {}
    started = _timestamp(node.get("node_started_at"))
    if started is not None:
        facts[STARTED_AT] = started
    rows = response.get(ROWS_AFFECTED)
    if isinstance(rows, int | float) and rows >= 0:  # -1: the adapter does not know
        facts[ROWS_AFFECTED] = int(rows)
    scanned = next((response[k] for k in BYTES_SCANNED_KEYS if isinstance(response.get(k), int | float)), None)
    if scanned is not None:
        facts[BYTES_SCANNED] = int(scanned)
    if response.get(QUERY_ID):
        facts[QUERY_ID] = str(response[QUERY_ID])
    return unique_id, facts


class NodeResultRecorder:
    """A dbtRunner callback keeping every NodeFinished; `write` puts them in the command's target directory."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def __call__(self, event) -> None:
        if event.info.name != "NodeFinished":
            return
        from dbt_common.events.functions import msg_to_dict

        result = node_result(msg_to_dict(event).get("data", {}))
        if result is not None:
            self.nodes[result[0]] = result[1]

    def write(self) -> None:
        target = os.environ.get("DBT_TARGET_PATH")
        if target and Path(target).is_dir():
            (Path(target) / NODE_RESULTS_FILE).write_text(json.dumps(self.nodes))


def read_node_results(target: Path) -> dict[str, dict[str, Any]]:
    """The node results of a dbt command's target directory ({} when there are none or they are damaged)."""
    try:
        data = json.loads((target / NODE_RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _timestamp(value: Any) -> float | None:
    """dbt's node times are ISO strings in UTC without a zone."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
