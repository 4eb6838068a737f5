"""kpiwatch's one door to MetricFlow, dbt's semantic layer: metrics declared in the dbt project's YAML, compiled
to SQL in the warehouse's own dialect, run by kpiwatch's own connection (the warehouse does the work).

MetricFlow says its Python API is not stable (MetricFlowEngine's docstring): every call to it is in this module,
its versions are pinned exactly (pyproject.toml), and tests/test_semantic_layer.py fails loudly if they move.
MetricFlow only compiles here; it never opens a connection, so it needs neither `dbt debug` nor dbt's adapter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiwatch.errors import ConfigError

SEMANTIC_MANIFEST_FILE = "semantic_manifest.json"
GRAINS = ("day", "week", "month", "quarter", "year")
# The time column of every compiled query: MetricFlow names it metric_time__<grain>.
TIME_COLUMN = "metric_time__{grain}"


@dataclass(frozen=True)
class DeclaredMetric:
    """A metric as declared: what kpiwatch needs to name, describe and watch it."""

    name: str
    label: str
    description: str
    type: str
    meta: dict[str, Any]


class SemanticLayer:
    """The semantic manifest dbt wrote at parse time, compiled for one warehouse dialect."""

    def __init__(self, manifest_path: Path, dialect: str) -> None:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        try:
            text = manifest_path.read_text()
        except OSError as error:
            raise ConfigError(
                f"{manifest_path}: cannot be read ({error.strerror}); dbt writes it when it parses the project."
            ) from None
        self.manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=text)
        if dialect == "duckdb":
            _drop_database_names(self.manifest)
        self._engine = MetricFlowEngine(SemanticManifestLookup(self.manifest), _CompileOnlyClient(dialect))

    def metrics(self) -> list[DeclaredMetric]:
        """Every declared metric, in name order."""
        return sorted(
            (
                DeclaredMetric(
                    name=metric.name,
                    label=metric.label or metric.name,
                    description=metric.description or "",
                    type=str(metric.type.value),
                    meta=dict((metric.config.meta if metric.config else None) or {}),
                )
                for metric in self.manifest.metrics
            ),
            key=lambda metric: metric.name,
        )

    def sql(
        self,
        metrics: Sequence[str],
        grain: str = "day",
        start: dt.date | None = None,
        end: dt.date | None = None,
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
    ) -> str:
        """One SELECT of the metrics per period of `grain` (column metric_time__<grain>, then any group-by
        columns, then one column per metric), from start to end inclusive when given; `where`: MetricFlow
        filters such as "{{ Dimension('product_event__event_name') }} in ('login')"."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        if grain not in GRAINS:
            raise ConfigError(f"Grain {grain!r} is not one of {', '.join(GRAINS)}.")
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=[TIME_COLUMN.format(grain=grain), *group_by],
            time_constraint_start=None if start is None else dt.datetime.combine(start, dt.time()),
            time_constraint_end=None if end is None else dt.datetime.combine(end, dt.time()),
            order_by_names=[TIME_COLUMN.format(grain=grain)],
            where_constraints=list(where) or None,
        )
        try:
            explained = self._engine.explain(request)
        except Exception as error:  # MetricFlow's query errors share no base class: name the request instead
            raise ConfigError(f"Semantic layer: cannot compile {', '.join(metrics)} by {grain}: {error}") from None
        return explained.sql_statement.without_descriptions.sql


def _drop_database_names(manifest: Any) -> None:
    """DuckDB's database is the file's name, fixed in the manifest when dbt parsed; the same project runs on
    any file (KPIWATCH_DUCKDB_PATH, each test's warehouse), so relations are named by schema alone."""
    relations = [model.node_relation for model in manifest.semantic_models]
    relations += [spine.node_relation for spine in manifest.project_configuration.time_spines]
    for relation in relations:
        relation.database = None
        relation.relation_name = f'"{relation.schema_name}"."{relation.alias}"'


class _CompileOnlyClient:
    """MetricFlow's SqlClient protocol, for compiling only: the dialect's renderer, and no connection."""

    def __init__(self, dialect: str) -> None:
        from metricflow.protocols.sql_client import SqlEngine

        engines = {"duckdb": SqlEngine.DUCKDB, "snowflake": SqlEngine.SNOWFLAKE}
        if dialect not in engines:
            raise ConfigError(f"Semantic layer: no SQL dialect for warehouse {dialect!r} (duckdb or snowflake).")
        self.sql_engine_type = engines[dialect]
        if dialect == "duckdb":
            from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

            self.sql_plan_renderer = DuckDbSqlPlanRenderer()
        else:
            from metricflow.sql.render.snowflake import SnowflakeSqlPlanRenderer

            self.sql_plan_renderer = SnowflakeSqlPlanRenderer()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"

    def query(self, stmt: str, sql_bind_parameter_set: object = None) -> object:
        raise RuntimeError("kpiwatch runs the semantic layer's SQL through its own warehouse connection.")

    execute = dry_run = query

    def close(self) -> None:
        pass


# The watch of a declared metric: `config: {meta: {kpiwatch: {watch: true}}}` on the metric; optionally
# `seasonality: weekday` (the default) or `level` (the method of its band, macros/series_bands.sql) and `unit:
# usd | count | percent | plain` (how the report prints it; default plain) and `group_by: entity__dimension` (a
# categorical dimension: one more series per value, segment = the value; the push keeps the top N).
WATCH_KEY = "kpiwatch"
SEASONALITIES = ("weekday", "level")
UNITS = ("usd", "count", "percent", "plain")


@dataclass(frozen=True)
class WatchedMetric:
    name: str
    label: str
    description: str
    seasonality: str = "weekday"
    unit: str = "plain"
    group_by: str | None = None


QUERIES_TABLE = "declared_series_queries"
QUERIES_SCHEMA = "semantic"


def watched_metrics(manifest_path: Path) -> dict[str, WatchedMetric]:
    """The declared metrics marked as watched, read from the semantic manifest's JSON (no MetricFlow import:
    every run asks, and most projects watch nothing declared). No manifest yet: none. The meta values were
    checked before dbt parsed them (kpiwatch/declarations.py)."""
    import json

    try:
        document = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return {}
    watched = {}
    for metric in document.get("metrics") or []:
        meta = ((metric.get("config") or {}).get("meta") or {}).get(WATCH_KEY) or {}
        if isinstance(meta, dict) and meta.get("watch") is True:
            watched[metric["name"]] = WatchedMetric(
                name=metric["name"],
                label=metric.get("label") or metric["name"],
                description=metric.get("description") or "",
                seasonality=meta.get("seasonality", "weekday"),
                unit=meta.get("unit", "plain"),
                group_by=meta.get("group_by"),
            )
    return dict(sorted(watched.items()))


def watched_in(dbt_target_dir: Path) -> list[str]:
    """The watched declared metrics of the manifest dbt last parsed into this target directory."""
    return list(watched_metrics(dbt_target_dir / SEMANTIC_MANIFEST_FILE))


# The days whose values rank a grouped metric's values for its top N (the ones a run splits out; the rest is
# `other`): the four weeks before the run.
RANKING_DAYS = 28
OTHER = "other"


def write_declared_queries(
    warehouse: Any, manifest_path: Path, dialect: str, start: dt.date | None, end: dt.date, top_n: int
) -> list[str]:
    """semantic.declared_series_queries: MetricFlow's SQL of each watched metric by day from `start` (None: all
    history) to `end`, which the model fct_series_declared_daily runs inside the build. Rewritten before every
    build, so it always matches the declarations dbt parsed. A grouped metric gets its total (`all`), its
    `top_n` values of the four weeks before (every value until it has a history) and, beside them, `other`:
    the metric over all the rest, computed as itself (a ratio of the rest, not a difference of totals).
    Returns the watched metrics' names."""
    watched = watched_metrics(manifest_path)
    rows: list[tuple[str, str, str | None, str | None, str]] = []
    with warehouse.session():
        if watched:
            layer = SemanticLayer(manifest_path, dialect)
            for name, metric in watched.items():
                rows.append((name, metric.seasonality, None, "all", layer.sql([name], "day", start, end)))
                if not metric.group_by:
                    continue
                top = _top_values(warehouse, name, end, top_n)
                dimension = "{{ Dimension('" + metric.group_by + "') }}"
                kept = ", ".join("'" + value.replace("'", "''") + "'" for value in top)
                grouped = layer.sql(
                    [name],
                    "day",
                    start,
                    end,
                    group_by=[metric.group_by],
                    where=[f"{dimension} in ({kept})"] if top else [],
                )
                rows.append((name, metric.seasonality, metric.group_by, None, grouped))
                if top:
                    rest = layer.sql([name], "day", start, end, where=[f"coalesce({dimension}, '') not in ({kept})"])
                    rows.append((name, metric.seasonality, None, OTHER, rest))
        table = f"{QUERIES_SCHEMA}.{QUERIES_TABLE}"
        warehouse.query(f"create schema if not exists {QUERIES_SCHEMA}")
        columns = "metric varchar, method varchar, segment_column varchar, segment varchar, query_sql varchar"
        warehouse.query(f"create or replace table {table} ({columns})")
        for row in rows:
            warehouse.query(f"insert into {table} values (?, ?, ?, ?, ?)", list(row))
    return list(watched)


def _top_values(warehouse: Any, metric: str, end: dt.date, top_n: int) -> list[str]:
    """The `top_n` values of a grouped metric that weighed most in the four weeks before `end` (largest mean
    absolute value), from its own series; none before its first run."""
    from metrics.anomaly_config import DECLARED_MART

    table = f"marts.{DECLARED_MART}"
    exists = warehouse.query(
        "select count(*) as n from information_schema.tables where lower(table_schema) = 'marts' "
        "and lower(table_name) = ?",
        [DECLARED_MART],
    )
    if not exists[0]["n"]:
        return []
    rows = warehouse.query(
        f"select segment from {table} where metric = ? and segment not in ('all', ?) and metric_date < ? "
        "and metric_date >= ? group by segment order by avg(abs(value)) desc, segment limit ?",
        [metric, OTHER, end, end - dt.timedelta(days=RANKING_DAYS), top_n],
    )
    return [row["segment"] for row in rows]
