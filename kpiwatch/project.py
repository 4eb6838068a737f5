"""A company's own kpiwatch project: a directory holding `kpiwatch.yml` and the files it keeps in its own repo.

The project directory is `--project DIR` (the CLI puts it in KPIWATCH_PROJECT_DIR, so every child process sees
the same one), else KPIWATCH_PROJECT_DIR, else the current directory when it holds a kpiwatch.yml. Its settings
are the KPIWATCH_* variables written in lower case without the prefix (`lookback_days: 3` is
KPIWATCH_LOOKBACK_DAYS); a variable set in the environment wins over the file, the file over kpiwatch's
defaults. Relative paths in the file are read from the project directory. Secrets never go in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kpiwatch.errors import ConfigError
from kpiwatch.source_settings import DEFAULT_SCHEMAS, SOURCE_TABLES, schema_variable, table_variable
from kpiwatch.yaml_files import read_yaml_mapping

PROJECT_FILE = "kpiwatch.yml"
PROJECT_DIR_VARIABLE = "KPIWATCH_PROJECT_DIR"
PREFIX = "KPIWATCH_"
# Settings that hold a key or a password: the environment (or a secrets manager feeding it) only.
SECRET_SETTINGS = frozenset(
    {
        "KPIWATCH_PUSHGATEWAY_PASSWORD",
        "KPIWATCH_SENTRY_DSN",
        "KPIWATCH_SNOWFLAKE_PASSWORD",
        "KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
        "KPIWATCH_DAGSTER_PG_PASSWORD",
    }
)
# Settings whose value is a path: relative to the project directory when written in its file.
PATH_SETTINGS = frozenset(
    {
        "KPIWATCH_DUCKDB_PATH",
        "KPIWATCH_CHECKS_CONFIG",
        "KPIWATCH_ANOMALIES_CONFIG",
        "KPIWATCH_DBT_TARGET_DIR",
        "KPIWATCH_REPORT_DIR",
        "KPIWATCH_SEEDS_DIR",
        "KPIWATCH_METRICS_DIR",
        "KPIWATCH_PUSHGATEWAY_CA_FILE",
        "KPIWATCH_PUSHGATEWAY_CERT_FILE",
        "KPIWATCH_PUSHGATEWAY_KEY_FILE",
        "KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PATH",
    }
)
# Not settings of the file: where the file is, and the PostgreSQL Dagster instance, which Dagster itself reads
# from the environment (deploy/dagster.yaml), not kpiwatch.
NOT_IN_FILE = frozenset(
    {PROJECT_DIR_VARIABLE, *(f"KPIWATCH_DAGSTER_PG_{name}" for name in ("HOST", "PORT", "DB", "USER", "PASSWORD"))}
)


@dataclass(frozen=True)
class Project:
    """The project directory (None: none is used) and the settings its file gives, as KPIWATCH_* values."""

    directory: Path | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def file(self) -> Path | None:
        return None if self.directory is None else self.directory / PROJECT_FILE


NO_PROJECT = Project()


def find_project_dir(env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """KPIWATCH_PROJECT_DIR (which must hold a kpiwatch.yml), else the current directory if it holds one."""
    named = (env.get(PROJECT_DIR_VARIABLE) or "").strip()
    if named:
        directory = Path(named).expanduser().resolve()
        if not directory.is_dir():
            raise ConfigError(f"Project directory {named!r} does not exist; create one with `kpiwatch init {named}`.")
        if not (directory / PROJECT_FILE).is_file():
            raise ConfigError(
                f"Project directory {named!r} has no {PROJECT_FILE}; create one with `kpiwatch init {named}`."
            )
        return directory
    here = (cwd or Path.cwd()).resolve()
    return here if (here / PROJECT_FILE).is_file() else None


def load_project(env: Mapping[str, str], known: Mapping[str, str], cwd: Path | None = None) -> Project:
    """The project directory and its file's settings, checked against the known KPIWATCH_* names."""
    directory = find_project_dir(env, cwd)
    if directory is None:
        return NO_PROJECT
    return Project(directory, read_project_file(directory / PROJECT_FILE, known))


def read_project_file(path: Path, known: Mapping[str, str]) -> dict[str, str]:
    """kpiwatch.yml's `settings:` as KPIWATCH_* strings; one sentence naming the file and key when it is wrong."""
    document = read_yaml_mapping(path, "a `settings:` section")
    unknown_sections = sorted(str(k) for k in document if k not in ("settings", "sources"))
    if unknown_sections:
        raise ConfigError(
            f"{path}: unknown section {unknown_sections[0]!r}; the file holds `settings:` and `sources:`."
        )
    settings = document.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: `settings:` must be a mapping of setting: value.")
    values = {}
    for key, value in settings.items():
        name = PREFIX + str(key).upper()
        if name in NOT_IN_FILE and name != PROJECT_DIR_VARIABLE:
            raise ConfigError(f"{path}: {key!r} is read by Dagster from the environment ({name}), not from this file.")
        if name not in known or name in NOT_IN_FILE or str(key) != str(key).lower():
            raise ConfigError(f"{path}: unknown setting {key!r}; `kpiwatch config` lists every setting.")
        if name in SECRET_SETTINGS:
            raise ConfigError(f"{path}: {key!r} holds a secret; set {name} in the environment, never in a file.")
        if value is None or isinstance(value, dict | list):
            raise ConfigError(f"{path}: {key!r} must be a single value (text, number or date).")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if name in PATH_SETTINGS and text.strip().lower() != "off":
            text = str((path.parent / Path(text).expanduser()).resolve())
        values[name] = text
    return {**values, **read_sources_section(path, document.get("sources"))}


def read_sources_section(path: Path, section: object) -> dict[str, str]:
    """`sources:` as KPIWATCH_SOURCE_* values: `<table>: <adapter>` per contract table, and `schemas:` with
    `<adapter>: <schema>` (kpiwatch/source_settings.py checks the values themselves)."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: `sources:` must be a mapping of table: adapter (and `schemas:`).")
    values = {}
    for key, value in section.items():
        if key == "schemas":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: `sources.schemas` must be a mapping of adapter: schema.")
            for adapter, schema in value.items():
                if str(adapter) not in DEFAULT_SCHEMAS:
                    raise ConfigError(f"{path}: sources.schemas: unknown adapter {adapter!r}.")
                values[schema_variable(str(adapter))] = _single(path, f"sources.schemas.{adapter}", schema)
        elif key in SOURCE_TABLES:
            values[table_variable(key)] = _single(path, f"sources.{key}", value)
        else:
            raise ConfigError(f"{path}: sources: unknown table {key!r}; use {', '.join(SOURCE_TABLES)} (and schemas).")
    return values


def _single(path: Path, key: str, value: object) -> str:
    if value is None or isinstance(value, dict | list | bool):
        raise ConfigError(f"{path}: {key!r} must be a single name.")
    return str(value)


def merged(env: Mapping[str, str], project: Project) -> dict[str, str]:
    """The one precedence: the environment over the project file over kpiwatch's defaults."""
    return {**project.values, **{k: v for k, v in env.items() if v != "" or k not in project.values}}


def source_of(name: str, env: Mapping[str, str], project: Project) -> str:
    """Where a setting's value comes from, for `kpiwatch config`."""
    if env.get(name):
        return "environment"
    if name in project.values:
        return str(project.file)
    return "default"
