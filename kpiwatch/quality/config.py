"""expectations/checks.yml: severities and thresholds of every raw-table check, validated on load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kpiwatch.contract import RAW_TABLES_BY_NAME
from kpiwatch.errors import ConfigError
from kpiwatch.paths import DBT_PROJECT_DIR, DEFAULT_CHECKS_FILE

SEVERITIES = ("error", "warn")

# Parameters each SQL check understands, with defaults; GX checks take max_unexpected_ratio.
SQL_CHECK_PARAMETERS: dict[str, dict[str, Any]] = {
    "schema_matches_contract": {},
    "schema_drift": {},
    "not_empty": {},
    "freshness": {"max_lag_hours": 36},
    "volume": {"min_ratio": 0.3, "max_ratio": 3.0},
    "missing_days": {"lookback_days": 90},
    "amount_plausible": {"max_amount": 1_000_000},
    "periods_do_not_overlap": {},
    # Daily runs hash hash_recent_days before their window and count older parts; every part is hashed
    # every full_scan_every_days (0: every run). kpiwatch/quality/history.py.
    "history_unchanged": {"repair_max_days": 190, "hash_recent_days": 7, "full_scan_every_days": 7},
}
GX_CHECK_PARAMETERS = {"max_unexpected_ratio": 0.0}
# Counts of days: a fraction of a day has no meaning there.
WHOLE_DAY_PARAMETERS = {"lookback_days", "repair_max_days", "hash_recent_days", "full_scan_every_days"}
# SQL checks that read columns only some tables have.
SQL_CHECK_TABLES = {
    "amount_plausible": ("subscriptions", "marketing_spend"),
    "periods_do_not_overlap": ("subscriptions",),
}


@dataclass(frozen=True)
class CheckSettings:
    table: str
    name: str
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_blocking(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class ChecksConfig:
    path: Path
    checks: tuple[CheckSettings, ...]
    # The currencies of the fx_rates seed (settings.seeds_dir): the valid set of the currency checks.
    fx_currencies: tuple[str, ...] = ()

    def for_table(self, table: str) -> list[CheckSettings]:
        return [c for c in self.checks if c.table == table]

    def get(self, table: str, name: str) -> CheckSettings | None:
        return next((c for c in self.checks if c.table == table and c.name == name), None)


def load_checks_config(path: Path = DEFAULT_CHECKS_FILE, seeds_dir: Path = DBT_PROJECT_DIR / "seeds") -> ChecksConfig:
    """Parse and validate the file (settings.checks_config); every unknown table, check or parameter is an
    error naming it. The currencies come from the fx_rates seed in seeds_dir (settings.seeds_dir)."""
    raw = _read_yaml(path)
    where = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with `version: 1` and `tables`, got {type(raw).__name__}.")
    if raw.get("version") != 1:
        raise ConfigError(f"{where}: expected `version: 1`.")
    unknown_top = set(raw) - {"version", "tables"}
    if unknown_top:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown_top)}; expected version and tables.")
    checks = []
    for table, entries in (raw.get("tables") or {}).items():
        if table not in RAW_TABLES_BY_NAME:
            raise ConfigError(f"{where}: unknown table {table!r}; known: {sorted(RAW_TABLES_BY_NAME)}.")
        if not isinstance(entries or {}, dict):
            raise ConfigError(f"{where}: tables.{table} must map check names to settings, got {entries!r}.")
        for name, entry in (entries or {}).items():
            if not isinstance(entry or {}, dict):
                raise ConfigError(
                    f"{where}: tables.{table}.{name} must be a mapping such as {{severity: error}}, got {entry!r}."
                )
            checks.append(_check_settings(where, table, name, entry or {}))
    return ChecksConfig(path=path, checks=tuple(checks), fx_currencies=fx_currencies(seeds_dir / "fx_rates.csv"))


def fx_currencies(path: Path) -> tuple[str, ...]:
    """Currencies of the fx_rates seed: the file is the source of truth, read before dbt loads it."""
    import csv

    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}).") from None
    if not rows or "currency" not in rows[0]:
        raise ConfigError(f"{path}: expected a header `currency,usd_per_unit` and one row per currency.")
    return tuple(sorted({(row["currency"] or "").strip().upper() for row in rows} - {""}))


def _read_yaml(path: Path) -> object:
    return read_yaml_setting(path, "Checks configuration", "KPIWATCH_CHECKS_CONFIG", "expectations/checks.yml")


def read_yaml_setting(path: Path, what: str, variable: str, example: str) -> object:
    """The YAML of a configuration file, or one ConfigError naming the file, its variable and what is wrong."""
    where = f"{what} {path} ({variable})"
    if not path.exists():
        raise ConfigError(f"{where} does not exist.")
    if path.is_dir():
        raise ConfigError(f"{where} is a directory; point it at a YAML file like {example}.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{where} is not UTF-8 text (byte {error.start}); save it as UTF-8.") from None
    except OSError as error:
        raise ConfigError(f"{where} cannot be read: {error.strerror}.") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}.") from None


def _check_settings(where: str, table: str, name: str, entry: Mapping[str, Any]) -> CheckSettings:
    severity = entry.get("severity")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: tables.{table}.{name}.severity must be one of {SEVERITIES}, got {severity!r}.")
    if table not in SQL_CHECK_TABLES.get(name, (table,)):
        raise ConfigError(f"{where}: tables.{table}.{name} applies to {' and '.join(SQL_CHECK_TABLES[name])} only.")
    defaults = SQL_CHECK_PARAMETERS.get(name, GX_CHECK_PARAMETERS)
    params = {k: v for k, v in entry.items() if k != "severity"}
    unknown = set(params) - set(defaults)
    if unknown:
        raise ConfigError(
            f"{where}: tables.{table}.{name} has unknown parameter(s) {sorted(unknown)}; "
            f"it accepts {sorted(defaults) or 'only severity'}."
        )
    for key, value in params.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: tables.{table}.{name}.{key} must be a non-negative number, got {value!r}.")
        if key in WHOLE_DAY_PARAMETERS and value != int(value):
            raise ConfigError(f"{where}: tables.{table}.{name}.{key} must be a whole number of days, got {value!r}.")
    return CheckSettings(table=table, name=name, severity=severity, params={**defaults, **params})
