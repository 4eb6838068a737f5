"""expectations/anomalies.yml (KPIWATCH_ANOMALIES_CONFIG): how far outside its band each watched series must
be to alert. Parsed and validated once; every unknown series, key or bad value is one ConfigError naming it."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from kpiwatch.errors import ConfigError
from kpiwatch.paths import DEFAULT_ANOMALIES_FILE
from kpiwatch.quality.config import read_yaml_setting

# Series -> (the business metric it belongs to: gating and the alert's `metric` label, the mart holding it).
SERIES: dict[str, tuple[str, str]] = {
    "dau": ("active_users", "fct_series_activity_daily"),
    "wau": ("active_users", "fct_series_activity_daily"),
    "mau": ("active_users", "fct_series_activity_daily"),
    "stickiness": ("active_users", "fct_series_activity_daily"),
    "feature_adoption": ("feature_adoption", "fct_series_activity_daily"),
    "feature_users": ("feature_adoption", "fct_series_activity_daily"),
    "mrr": ("mrr", "fct_series_revenue_daily"),
    "paying_customers": ("mrr", "fct_series_revenue_daily"),
    "new_mrr_mtd": ("mrr", "fct_series_revenue_daily"),
    "churned_mrr_mtd": ("mrr", "fct_series_revenue_daily"),
    "signups": ("cac", "fct_series_acquisition_daily"),
    "spend": ("cac", "fct_series_acquisition_daily"),
    "cac_30d": ("cac", "fct_series_acquisition_daily"),
    "conversion": ("conversion", "fct_series_conversion_daily"),
}
# How a series' sample_size (its denominator) widens its band, beside the spread it learnt: a rate of a
# cohort varies at least binomially (metrics/bands.py measures it on the arcsine scale); a cost per customer
# at least by 1 / sqrt(n) of itself (the customers are a count). A property of the series' definition, so
# not a setting.
SAMPLE_NOISE: dict[str, str] = {"conversion": "binomial", "cac_30d": "per_count"}
# Metrics a company declared in dbt's semantic layer and watches (kpiwatch/semantic_layer.py watched_metrics):
# their series share one metric label and one mart.
DECLARED_METRIC = "declared"
DECLARED_MART = "fct_series_declared_daily"


def series_metric(name: str) -> str:
    """The business metric a series belongs to (gating, the alert's `metric` label)."""
    return SERIES[name][0] if name in SERIES else DECLARED_METRIC


def series_mart(name: str) -> str:
    """The mart holding a series and its band."""
    return SERIES[name][1] if name in SERIES else DECLARED_MART


# Series with one segment per acquisition channel (and `all`): their pushed segments are capped to the top N.
CHANNEL_SERIES = frozenset({"signups", "spend", "cac_30d", "conversion"})
# Days between two values of a series that is not daily: a weekly signup cohort's conversion.
CADENCE_DAYS: dict[str, int] = {"conversion": 7}
SERIES_MARTS = tuple(dict.fromkeys(mart for _, mart in SERIES.values()))
DIRECTIONS = ("drop", "spike", "both")
RULE_KEYS = ("sensitivity", "floor", "relative_floor", "count_noise", "direction", "min_training_days")
MAX_TRAINING_DAYS = 14  # the most training days a series has (level: 14 days; weekday: 8 weeks; monthday: 6 months)


@dataclass(frozen=True)
class SeriesRule:
    """The verdict settings of one series."""

    sensitivity: float
    floor: float
    relative_floor: float
    count_noise: bool  # a count: it varies at least as a Poisson count, so the band is >= sensitivity x sqrt(expected)
    direction: str
    min_training_days: int


@dataclass(frozen=True)
class AnomalyConfig:
    path: Path
    rules: dict[str, SeriesRule]


def load_anomaly_config(path: Path = DEFAULT_ANOMALIES_FILE, declared: Collection[str] = ()) -> AnomalyConfig:
    """The rules of every built-in series and of the declared metrics a company watches (`declared`), each from
    `defaults` overridden by its entry under `series:`."""
    raw = read_yaml_setting(path, "Anomaly configuration", "KPIWATCH_ANOMALIES_CONFIG", "expectations/anomalies.yml")
    where = str(path)
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise ConfigError(f"{where}: expected a mapping with `version: 1`, `defaults` and `series`.")
    unknown = set(raw) - {"version", "defaults", "series"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected version, defaults and series.")
    series = raw.get("series") or {}
    if not isinstance(series, dict):
        raise ConfigError(f"{where}: series must map series names to settings, got {series!r}.")
    known = [*SERIES, *(name for name in declared if name not in SERIES)]
    for name in series:
        if name not in known:
            raise ConfigError(f"{where}: unknown series {name!r}; known: {', '.join(known)}.")
    defaults = _rule(where, "defaults", raw.get("defaults") or {}, None)
    rules = {name: _rule(where, f"series.{name}", series.get(name) or {}, defaults) for name in known}
    return AnomalyConfig(path=path, rules=rules)


def _rule(where: str, at: str, entry: object, defaults: SeriesRule | None) -> SeriesRule:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: {at} must be a mapping such as {{direction: drop}}, got {entry!r}.")
    unknown = set(entry) - set(RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: {at}: unknown key(s) {sorted(unknown)}; expected {', '.join(RULE_KEYS)}.")
    if defaults is None:
        missing = [k for k in RULE_KEYS if k not in entry]
        if missing:
            raise ConfigError(f"{where}: {at} must set {', '.join(missing)}.")
    values = {k: entry.get(k, getattr(defaults, k, None)) for k in RULE_KEYS}
    direction = values["direction"]
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}: {at}.direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}.")
    numbers = {k: _number(where, f"{at}.{k}", values[k]) for k in ("sensitivity", "floor", "relative_floor")}
    if numbers["sensitivity"] <= 0:
        raise ConfigError(f"{where}: {at}.sensitivity must be above 0, got {values['sensitivity']!r}.")
    if not isinstance(values["count_noise"], bool):
        raise ConfigError(f"{where}: {at}.count_noise must be true or false, got {values['count_noise']!r}.")
    training = values["min_training_days"]
    if isinstance(training, bool) or not isinstance(training, int) or not 2 <= training <= MAX_TRAINING_DAYS:
        raise ConfigError(
            f"{where}: {at}.min_training_days must be a whole number from 2 to {MAX_TRAINING_DAYS}, got {training!r}."
        )
    return SeriesRule(direction=direction, min_training_days=training, count_noise=values["count_noise"], **numbers)


def _number(where: str, at: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: {at} must be a number of 0 or more, got {value!r}.")
    return float(value)
