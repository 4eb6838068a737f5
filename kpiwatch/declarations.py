"""A company's metric declarations (dbt semantic layer YAML in its metrics/ folder), checked before dbt parses
them: one sentence naming the file, the metric or semantic model, and the field, instead of dbt's multi-line
parse errors (or, for some mistakes, its traceback). dbt and MetricFlow still validate everything after this;
this catches what a person gets wrong most, in words that say where."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiwatch.errors import ConfigError
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.yaml_files import read_yaml_mapping

# kpiwatch's own declarations: their metric names are taken, their measures usable.
SHIPPED_DECLARATIONS = DBT_PROJECT_DIR / "models" / "semantic" / "_semantic.yml"
SECTIONS = ("version", "models", "semantic_models", "metrics")
METRIC_TYPES = ("simple", "ratio", "cumulative", "derived", "conversion")
AGGREGATIONS = ("sum", "min", "max", "average", "count", "count_distinct", "sum_boolean", "median", "percentile")
ENTITY_TYPES = ("primary", "foreign", "unique", "natural")
DIMENSION_TYPES = ("categorical", "time")
GRANULARITIES = ("day", "week", "month", "quarter", "year")
# MetricFlow refuses these as names of anything (they are time granularities).
RESERVED_NAMES = frozenset({"nanosecond", "microsecond", "millisecond", "second", "minute", "hour", *GRANULARITIES})
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REF = re.compile(r"""^ref\(\s*['"][A-Za-z0-9_]+['"]\s*\)$""")


@dataclass
class Declarations:
    """What the files declare, gathered before the metrics are checked against it."""

    measures: set[str] = field(default_factory=set)
    metrics: dict[str, Path] = field(default_factory=dict)
    # Group-by names as MetricFlow spells them (entity__dimension): categorical ones, which a watched metric may
    # be split by, and the others (time dimensions, entities: one series per id or day is unbounded).
    categorical: set[str] = field(default_factory=set)
    unbounded: set[str] = field(default_factory=set)
    units: dict[str, str] = field(default_factory=dict)  # metric -> its config.meta.kpiwatch.unit, when given


def check_declarations(metrics_dir: Path, builtin_series: Iterable[str] = ()) -> list[str]:
    """The declared metric names of metrics_dir's YAML files; a ConfigError naming file, item and field for the
    first mistake. builtin_series: kpiwatch's own series names, which a declared metric may not take."""
    shipped = _declarations([(SHIPPED_DECLARATIONS, _read(SHIPPED_DECLARATIONS))])
    files = sorted(p for p in metrics_dir.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    documents = [(path, _read(path)) for path in files]
    own = _declarations(documents)
    taken = set(shipped.metrics) | set(builtin_series)
    for name, path in own.metrics.items():
        if name in taken:
            raise ConfigError(f"{path}: metric {name!r}: name clashes with kpiwatch's built-in {name!r}; rename it.")
    known = Declarations(
        shipped.measures | own.measures,
        {**shipped.metrics, **own.metrics},
        shipped.categorical | own.categorical,
        shipped.unbounded | own.unbounded,
        {**shipped.units, **own.units},
    )
    for path, document in documents:
        for metric in document.get("metrics") or []:
            _check_metric(path, metric, known)
    return sorted(own.metrics)


def _read(path: Path) -> dict[str, Any]:
    document = read_yaml_mapping(path, "semantic_models: and metrics:")
    unknown = sorted(str(key) for key in document if key not in SECTIONS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section {unknown[0]!r}; a declaration file holds semantic_models: and metrics:."
        )
    for section in ("semantic_models", "metrics"):
        items = document.get(section) or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ConfigError(f"{path}: {section}: must be a list of mappings, each with a name.")
    return document


def _declarations(documents: Iterable[tuple[Path, Mapping[str, Any]]]) -> Declarations:
    found = Declarations()
    for path, document in documents:
        for model in document.get("semantic_models") or []:
            found.measures |= _check_semantic_model(path, model)
            _group_bys(model, found)
        for metric in document.get("metrics") or []:
            name = _name(path, "metric", metric)
            if name in found.metrics:
                raise ConfigError(f"{path}: metric {name!r}: declared twice (also in {found.metrics[name]}).")
            found.metrics[name] = path
            unit = _watch_settings(metric).get("unit")
            if isinstance(unit, str):
                found.units[name] = unit
    return found


def _watch_settings(metric: Mapping[str, Any]) -> dict[str, Any]:
    """config.meta.kpiwatch of a metric, when it is a mapping (its shape is checked in _check_watch)."""
    config = metric.get("config")
    meta = config.get("meta") if isinstance(config, dict) else None
    watch = meta.get("kpiwatch") if isinstance(meta, dict) else None
    return watch if isinstance(watch, dict) else {}


def _name(path: Path, kind: str, item: Mapping[str, Any]) -> str:
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"{path}: {kind} {name!r}: name must be lower_snake_case, starting with a letter.")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{path}: {kind} {name!r}: name is a time granularity, which MetricFlow reserves.")
    return name


def _check_semantic_model(path: Path, model: Mapping[str, Any]) -> set[str]:
    """The measures a semantic model declares, once its fields are checked."""
    name = _name(path, "semantic model", model)
    where = f"{path}: semantic model {name!r}"
    if not isinstance(model.get("model"), str) or not REF.match(model["model"].strip()):
        raise ConfigError(f"{where}: model must be ref('a_model'), got {model.get('model')!r}.")
    for kind, types, key in (("entity", ENTITY_TYPES, "entities"), ("dimension", DIMENSION_TYPES, "dimensions")):
        for item in _items(where, model, key):
            item_name = _name(path, f"semantic model {name!r} {kind}", item)
            if item.get("type") not in types:
                raise ConfigError(f"{where}: {kind} {item_name!r}: type must be one of {', '.join(types)}.")
            if kind == "dimension" and item["type"] == "time":
                grain = (item.get("type_params") or {}).get("time_granularity")
                if grain not in GRANULARITIES:
                    raise ConfigError(
                        f"{where}: dimension {item_name!r}: type_params.time_granularity must be one of "
                        f"{', '.join(GRANULARITIES)}."
                    )
    measures = set()
    for measure in _items(where, model, "measures"):
        measure_name = _name(path, f"semantic model {name!r} measure", measure)
        if measure.get("agg") not in AGGREGATIONS:
            agg = measure.get("agg")
            raise ConfigError(
                f"{where}: measure {measure_name!r}: agg {agg!r} is not one of {', '.join(AGGREGATIONS)}."
            )
        measures.add(measure_name)
    return measures


def _group_bys(model: Mapping[str, Any], found: Declarations) -> None:
    """The group-by names a semantic model offers, qualified by its primary entity as MetricFlow names them."""
    entities = [entity["name"] for entity in model.get("entities") or []]
    primary = next((e["name"] for e in model.get("entities") or [] if e.get("type") == "primary"), None)
    found.unbounded |= set(entities)
    for dimension in model.get("dimensions") or []:
        for entity in [primary] if primary else entities:
            qualified = f"{entity}__{dimension['name']}"
            (found.categorical if dimension.get("type") == "categorical" else found.unbounded).add(qualified)


def _items(where: str, model: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = model.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(f"{where}: {key} must be a list of mappings, each with a name.")
    return items


def _check_metric(path: Path, metric: Mapping[str, Any], known: Declarations) -> None:
    name = metric["name"]
    where = f"{path}: metric {name!r}"
    if not isinstance(metric.get("label"), str) or not metric["label"].strip():
        raise ConfigError(f"{where}: label is required (dbt 1.11 refuses a metric without one).")
    kind = metric.get("type")
    if kind not in METRIC_TYPES:
        raise ConfigError(f"{where}: type {kind!r} is not one of {', '.join(METRIC_TYPES)}.")
    _check_watch(where, metric, known)
    params = metric.get("type_params")
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: type_params is required for a {kind} metric.")
    if kind in ("simple", "cumulative"):
        _reference(where, "type_params.measure", params.get("measure"), known.measures, "measure")
    if kind == "cumulative":
        window = params.get("cumulative_type_params") or {}
        if isinstance(window, dict) and window.get("window") and window.get("grain_to_date"):
            raise ConfigError(f"{where}: cumulative_type_params takes window or grain_to_date, not both.")
    if kind == "ratio":
        for side in ("numerator", "denominator"):
            _reference(where, f"type_params.{side}", params.get(side), set(known.metrics), "metric")
        _check_ratio_units(where, params, known.units.get(metric["name"]), known.units)
    if kind == "derived":
        if not isinstance(params.get("expr"), str) or not params["expr"].strip():
            raise ConfigError(f"{where}: type_params.expr is required for a derived metric.")
        inputs = params.get("metrics")
        if not isinstance(inputs, list) or not inputs:
            raise ConfigError(f"{where}: type_params.metrics must list the metrics the expression uses.")
        for entry in inputs:
            _reference(where, "type_params.metrics", entry, set(known.metrics), "metric")
    if kind == "conversion":
        conversion = params.get("conversion_type_params") or {}
        for key in ("base_measure", "conversion_measure"):
            _reference(where, f"conversion_type_params.{key}", conversion.get(key), known.measures, "measure")


def _check_watch(where: str, metric: Mapping[str, Any], known: Declarations) -> None:
    """`config: {meta: {kpiwatch: {...}}}`: what kpiwatch reads to watch the metric (kpiwatch/semantic_layer.py)."""
    from kpiwatch.semantic_layer import SEASONALITIES, UNITS, WATCH_KEY

    if isinstance(metric.get("meta"), dict) and WATCH_KEY in metric["meta"]:
        raise ConfigError(f"{where}: meta.{WATCH_KEY} belongs under config: (config: {{meta: {{{WATCH_KEY}: ...}}}}).")
    config = metric.get("config") or {}
    meta = (config.get("meta") or {}) if isinstance(config, dict) else {}
    watch = meta.get(WATCH_KEY) if isinstance(meta, dict) else None
    if watch is None:
        return
    at = f"config.meta.{WATCH_KEY}"
    if not isinstance(watch, dict):
        raise ConfigError(f"{where}: {at} must be a mapping such as {{watch: true}}.")
    unknown = sorted(set(watch) - {"watch", "seasonality", "unit", "group_by"})
    if unknown:
        raise ConfigError(
            f"{where}: {at}.{unknown[0]} is not a setting; kpiwatch reads watch, seasonality, unit and group_by."
        )
    group_by = watch.get("group_by")
    if group_by is not None and group_by not in known.categorical:
        if group_by in known.unbounded:
            raise ConfigError(
                f"{where}: {at}.group_by {group_by!r} is an entity or a time dimension: one series per value is "
                "unbounded; group by a categorical dimension (entity__dimension)."
            )
        raise ConfigError(
            f"{where}: {at}.group_by {group_by!r} is not a categorical dimension of a declared semantic model "
            "(entity__dimension, e.g. product_event__event_name)."
        )
    if not isinstance(watch.get("watch", False), bool):
        raise ConfigError(f"{where}: {at}.watch must be true or false, got {watch['watch']!r}.")
    if watch.get("seasonality", "weekday") not in SEASONALITIES:
        raise ConfigError(f"{where}: {at}.seasonality must be one of {', '.join(SEASONALITIES)}.")
    if watch.get("unit", "plain") not in UNITS:
        raise ConfigError(f"{where}: {at}.unit must be one of {', '.join(UNITS)}.")


# The unit a ratio of two units is in (plain: a pure number); a percentage is never divided.
RATIO_UNITS = {
    ("usd", "usd"): ("plain", "percent"),
    ("count", "count"): ("plain", "percent"),
    ("usd", "count"): ("usd",),
    ("count", "usd"): ("plain",),
}


def _check_ratio_units(where: str, params: Mapping[str, Any], unit: str | None, units: Mapping[str, str]) -> None:
    """A ratio whose inputs declare their units (kpiwatch's own do) must be one that means something."""
    names = [
        params[side].get("name") if isinstance(params[side], dict) else params[side]
        for side in ("numerator", "denominator")
    ]
    sides = [units.get(name) for name in names]
    if None in sides:
        return
    if "percent" in sides:
        raise ConfigError(
            f"{where}: a ratio of {names[0]} ({sides[0]}) to {names[1]} ({sides[1]}) divides a percentage: "
            "incompatible units; divide the counts or amounts it is made of."
        )
    allowed = RATIO_UNITS.get((sides[0], sides[1]), ())
    if unit is not None and unit not in allowed:
        raise ConfigError(
            f"{where}: config.meta.kpiwatch.unit {unit!r} does not follow from {names[0]} ({sides[0]}) / {names[1]} "
            f"({sides[1]}): incompatible units; a ratio of {sides[0]} to {sides[1]} is {' or '.join(allowed)}."
        )


def _reference(where: str, field_name: str, value: Any, names: set[str], kind: str) -> None:
    """A measure or metric named by a string or by {name: ...}, which must be declared."""
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: {field_name} must name a {kind}.")
    if name not in names:
        raise ConfigError(f"{where}: {field_name} {name!r} is not a declared {kind}.")
