"""KPIWATCH_LOG_FORMAT=json: every line `kpiwatch run` and `kpiwatch backfill` write, Dagster's included, is one
JSON object (timestamp, level, run_id, step, event, message, fields) that Loki or Elasticsearch ingest as they
are. The text lines stay the default: they are for people."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from decimal import Decimal
from typing import Any

from dagster import Field, logger

LOG_FORMATS = ("text", "json")
JSON_LOGGER = "kpiwatch_json"  # the Dagster logger's name in the definitions and a run's config


def json_line(
    level: str, event: str, message: str, run_id: str | None = None, step: str | None = None, **fields
) -> str:
    """One log line: the same keys on every line, so a query can rely on them."""
    return json.dumps(
        {
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "run_id": run_id,
            "step": step,
            "event": event,
            "message": message,
            "fields": fields,
        },
        default=_plain,
        ensure_ascii=False,
    )


def _plain(value: Any) -> Any:
    """Values JSON has no type for: money as a number, days as ISO dates, anything else as its text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


class DagsterJsonFormatter(logging.Formatter):
    """A Dagster log record as a kpiwatch JSON line: the run and step from Dagster's metadata, the event type
    (STEP_START, ASSET_MATERIALIZATION, ...) or `log` for a message an op wrote."""

    def format(self, record: logging.LogRecord) -> str:
        meta: dict[str, Any] = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        kind = getattr(event, "event_type_value", None) or "log"
        message = meta.get("orig_message") or record.getMessage()
        return json_line(
            record.levelname.lower(),
            str(kind).lower(),
            str(message),
            run_id=meta.get("run_id"),
            step=meta.get("step_key"),
            job=meta.get("job_name"),
        )


@logger(
    config_schema={"log_level": Field(str, default_value="INFO", is_required=False)},
    description="kpiwatch's JSON log lines on stderr (KPIWATCH_LOG_FORMAT=json).",
)
def kpiwatch_json_logger(init_context) -> logging.Logger:
    log = logging.Logger("kpiwatch.dagster", level=init_context.logger_config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DagsterJsonFormatter())
    log.addHandler(handler)
    return log
