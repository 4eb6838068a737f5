"""The single place that turns the environment into kpiwatch settings.

Every `KPIWATCH_*` variable is parsed here, once, into frozen dataclasses; everything else (resources,
the push, the Snowflake client, the checks) receives these values and never reads the environment.
Defaults are written once, in this module.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kpiwatch.errors import ConfigError
from kpiwatch.paths import (
    DBT_PROJECT_DIR,
    DEFAULT_ANOMALIES_FILE,
    DEFAULT_CHECKS_FILE,
    DEFAULT_DAGSTER_HOME,
    DEFAULT_DBT_TARGET_DIR,
    DEFAULT_DUCKDB_PATH,
    DEFAULT_REPORT_DIR,
)
from kpiwatch.project import NO_PROJECT, PROJECT_DIR_VARIABLE, Project, load_project, merged
from kpiwatch.snowflake_sizes import CREDITS_PER_HOUR, warehouse_size
from kpiwatch.source_settings import NO_ADAPTERS, SOURCE_VARIABLES, Sources, sources_from_env

# dbt target names; the Dagster resource map is keyed by the same names.
TARGETS = ("dev", "snowflake")
TARGET_ALIASES = {"duckdb": "dev"}

DEFAULT_PARTITIONS_START = dt.date(2020, 1, 1)
DEFAULT_LOOKBACK_DAYS = 3
# The workers `kpiwatch run` starts before anything else (kpiwatch/prestart.py), by KPIWATCH_PRESTART's value.
GX_WORKER, DBT_WORKER = "gx", "dbt"
PRESTART_WORKERS = {"on": (GX_WORKER, DBT_WORKER), "off": (), "gx": (GX_WORKER,), "dbt": (DBT_WORKER,)}
# A laptop-friendly ceiling for the embedded warehouse; DuckDB spills larger work to disk (docs/operations.md).
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"
MEMORY_LIMIT_PATTERN = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
DEFAULT_PUSHGATEWAY_URL = "http://127.0.0.1:9091"
PUSH_DISABLED = "off"
DEFAULT_ENVIRONMENT = "local"
DEFAULT_PUSH_TIMEOUT_SECONDS = 10.0
DEFAULT_PUSH_ATTEMPTS = 4
DEFAULT_PUSH_BACKOFF_SECONDS = 1.0
# Backoff doubles per attempt: 10 attempts from 60 s would wait over 8 hours; these bound a push to minutes.
MAX_PUSH_ATTEMPTS = 10
MAX_PUSH_TIMEOUT_SECONDS = 300.0
MAX_PUSH_BACKOFF_SECONDS = 60.0
DEFAULT_RUN_LOCK_WAIT_SECONDS = 60.0
# Label values pushed per segment label (e.g. channel): the top N by spend, the rest as "other". Prometheus
# stores one series per value, so a data-derived label must stay bounded (docs/metrics-catalog.md).
DEFAULT_SEGMENT_TOP_N = 20
MAX_SEGMENT_TOP_N = 500
# A closed month's published value that later changes by more than this share of itself is a restatement.
DEFAULT_RESTATEMENT_TOLERANCE = 0.001
DEFAULT_SLOW_MODEL_FACTOR = 3.0
DEFAULT_COST_SPIKE_FACTOR = 2.0
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"
REPORTS_DISABLED = "off"
DEFAULT_SNOWFLAKE_WAREHOUSE_SIZE = "X-SMALL"
MAX_RUN_LOCK_WAIT_SECONDS = 6 * 3600.0  # a daily job that waits longer has missed its day
DEFAULT_SNOWFLAKE_SCHEMA = "ANALYTICS"
DEFAULT_SNOWFLAKE_CONNECT_DEADLINE_SECONDS = 30.0
SNOWFLAKE_PREFIX = "KPIWATCH_SNOWFLAKE_"

# The reference data dbt seeds (kpiwatch's own unless a project brings its own seeds/ folder).
SEED_FILES = ("fx_rates.csv", "feature_map.csv")
DEFAULT_SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# Where a company declares its own metrics (YAML of dbt's semantic layer); kpiwatch's empty folder otherwise.
DEFAULT_METRICS_DIR = DBT_PROJECT_DIR / "metrics"

KNOWN_VARIABLES = {
    PROJECT_DIR_VARIABLE: "a project directory holding kpiwatch.yml (`kpiwatch init`); default: the current directory "
    "when it holds one",
    "KPIWATCH_METRICS_DIR": "folder of semantic models and metrics declared in dbt's semantic layer YAML "
    "(default: the project's metrics/)",
    "KPIWATCH_SEEDS_DIR": "folder with the reference seeds fx_rates.csv and feature_map.csv (default: the project's "
    "seeds/, else kpiwatch's own)",
    "KPIWATCH_DUCKDB_PATH": "DuckDB file holding schema raw and the dbt schemas",
    **SOURCE_VARIABLES,
    "KPIWATCH_AS_OF": "evaluation date YYYY-MM-DD (default: today, UTC)",
    "KPIWATCH_TARGET": "warehouse: dev (DuckDB, default) or snowflake",
    "KPIWATCH_ENVIRONMENT": "environment label of every pushed gauge (default: local)",
    "KPIWATCH_PARTITIONS_START": "first day of the daily partitions, YYYY-MM-DD (default: 2020-01-01)",
    "KPIWATCH_LOOKBACK_DAYS": "days before a daily run's partition it re-processes for late events (default: 3)",
    "KPIWATCH_DUCKDB_MEMORY_LIMIT": "memory DuckDB may use per process before it spills to disk (default: 3GB)",
    "KPIWATCH_CHECKS_CONFIG": "severities and thresholds of the data-quality checks (default: the project's "
    "checks.yml, else kpiwatch's expectations/checks.yml)",
    "KPIWATCH_ANOMALIES_CONFIG": "when a business series is anomalous enough to alert (default: the project's "
    "anomalies.yml, else kpiwatch's expectations/anomalies.yml)",
    "KPIWATCH_DBT_TARGET_DIR": "where dbt keeps its manifest and each run's artifacts (default: data/dbt_target in "
    "a project, dbt_project/target in kpiwatch's checkout)",
    "KPIWATCH_RUN_LOCK_WAIT_SECONDS": "how long a run waits for another run on the same warehouse (default: 60)",
    "KPIWATCH_SEGMENT_TOP_N": "values of a segment label pushed, the top N by spend, the rest as other (default: 20)",
    "KPIWATCH_RESTATEMENT_TOLERANCE": "relative change of a closed month's published value that is reported as a "
    "restatement (default: 0.001)",
    "KPIWATCH_SLOW_MODEL_FACTOR": "how many times its own recent mean a dbt model's duration must reach for "
    "KpiwatchSlowModel (default: 3)",
    "KPIWATCH_COST_SPIKE_FACTOR": "how many times its recent mean a run's warehouse cost must reach for "
    "KpiwatchWarehouseCostSpike (default: 2)",
    "KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE": "size of KPIWATCH_SNOWFLAKE_WAREHOUSE, for the credits estimate "
    "(default: X-Small)",
    "KPIWATCH_REPORT_DIR": "where each `kpiwatch run` writes its HTML report (YYYY-MM-DD.html and latest.html), "
    "or off (default: reports/ beside the DuckDB file, data/reports)",
    "KPIWATCH_ALERTMANAGER_URL": "Alertmanager the report asks for active alerts (default: http://127.0.0.1:9093)",
    "KPIWATCH_PRESTART": "on: `kpiwatch run` starts its GX and dbt workers first, overlapping imports; gx or dbt: "
    "that worker only; off: neither (default: on)",
    "KPIWATCH_LOG_FORMAT": "text (default) or json: every line of `kpiwatch run` and `backfill`, Dagster's too, "
    "as one JSON object",
    "KPIWATCH_SENTRY_DSN": "send failed runs, failed error checks and unexpected errors to this Sentry project "
    "(default: none, nothing is sent)",
    "KPIWATCH_PUSHGATEWAY_URL": "Pushgateway base URL, or off (default: http://127.0.0.1:9091)",
    "KPIWATCH_PUSHGATEWAY_USERNAME": "basic-auth user for the Pushgateway",
    "KPIWATCH_PUSHGATEWAY_PASSWORD": "basic-auth password for the Pushgateway",
    "KPIWATCH_PUSHGATEWAY_CA_FILE": "CA bundle for an https:// Pushgateway",
    "KPIWATCH_PUSHGATEWAY_CERT_FILE": "client certificate for an https:// Pushgateway",
    "KPIWATCH_PUSHGATEWAY_KEY_FILE": "client key for an https:// Pushgateway",
    "KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS": "seconds one push may take (default: 10)",
    "KPIWATCH_PUSHGATEWAY_ATTEMPTS": "push attempts before giving up (default: 4)",
    "KPIWATCH_PUSHGATEWAY_BACKOFF_SECONDS": "first wait between push attempts, doubled each time (default: 1)",
    **{
        SNOWFLAKE_PREFIX + name: "Snowflake connection (docs/deploy.md)"
        for name in (
            "ACCOUNT",
            "USER",
            "DATABASE",
            "SCHEMA",
            "ROLE",
            "WAREHOUSE",
            "PASSWORD",
            "PRIVATE_KEY_PATH",
            "PRIVATE_KEY_PASSPHRASE",
            "CONNECT_DEADLINE_SECONDS",
        )
    },
    # Read by deploy/dagster.yaml (Dagster's own `env:` lookups), not by kpiwatch's Python.
    **{
        f"KPIWATCH_DAGSTER_PG_{name}": "PostgreSQL Dagster instance (docs/deploy.md)"
        for name in ("HOST", "PORT", "DB", "USER", "PASSWORD")
    },
}


@dataclass(frozen=True)
class PushTarget:
    """Where and how results are pushed; url == 'off' disables publishing explicitly."""

    url: str = DEFAULT_PUSHGATEWAY_URL
    environment: str = DEFAULT_ENVIRONMENT
    timeout_seconds: float = DEFAULT_PUSH_TIMEOUT_SECONDS
    attempts: int = DEFAULT_PUSH_ATTEMPTS
    backoff_seconds: float = DEFAULT_PUSH_BACKOFF_SECONDS
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def enabled(self) -> bool:
        return self.url != PUSH_DISABLED


@dataclass(frozen=True)
class SnowflakeSettings:
    account: str
    user: str
    database: str
    schema: str = DEFAULT_SNOWFLAKE_SCHEMA
    role: str | None = None
    warehouse: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_path: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    connect_deadline_seconds: float = DEFAULT_SNOWFLAKE_CONNECT_DEADLINE_SECONDS
    attempts: int = 3
    warehouse_size: str = DEFAULT_SNOWFLAKE_WAREHOUSE_SIZE  # for the credits estimate (metrics/warehouse_cost.py)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one kpiwatch process."""

    duckdb_path: Path
    as_of: dt.date
    target: str
    dagster_home: Path
    partitions_start: dt.date = DEFAULT_PARTITIONS_START
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    checks_config: Path = DEFAULT_CHECKS_FILE
    anomalies_config: Path = DEFAULT_ANOMALIES_FILE
    dbt_target_dir: Path = DEFAULT_DBT_TARGET_DIR
    prestart: frozenset[str] = frozenset(PRESTART_WORKERS["on"])  # GX_WORKER, DBT_WORKER
    run_lock_wait_seconds: float = DEFAULT_RUN_LOCK_WAIT_SECONDS
    segment_top_n: int = DEFAULT_SEGMENT_TOP_N
    restatement_tolerance: float = DEFAULT_RESTATEMENT_TOLERANCE
    slow_model_factor: float = DEFAULT_SLOW_MODEL_FACTOR
    cost_spike_factor: float = DEFAULT_COST_SPIKE_FACTOR
    report_dir: Path | None = DEFAULT_REPORT_DIR  # None: `kpiwatch run` writes no report (KPIWATCH_REPORT_DIR=off)
    alertmanager_url: str = DEFAULT_ALERTMANAGER_URL
    push: PushTarget = field(default_factory=PushTarget)
    snowflake: SnowflakeSettings | None = None  # set when target == "snowflake"
    sentry_dsn: str | None = field(default=None, repr=False)  # holds a key: never printed
    log_format: str = "text"  # or json
    seeds_dir: Path = DEFAULT_SEEDS_DIR
    metrics_dir: Path = DEFAULT_METRICS_DIR
    dbt_profiles_dir: Path = DBT_PROJECT_DIR  # the project's own profiles.yml when it has one
    project: Project = NO_PROJECT
    sources: Sources = NO_ADAPTERS  # contract tables read through an adapter (kpiwatch/source_settings.py)
    unknown_variables: tuple[str, ...] = ()  # KPIWATCH_* names that nothing reads: reported by the CLI


def parse_date(value: str, name: str) -> dt.date:
    """Parse YYYY-MM-DD, naming the setting that held a bad value."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a date; use the form YYYY-MM-DD, e.g. 2024-06-30.") from None


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read every KPIWATCH_* variable, over the project file's settings (kpiwatch/project.py); unknown variables
    are listed in `unknown_variables` so typos are reported. A bad value from the file is named by file and key."""
    environment = os.environ if env is None else env
    unknown = tuple(sorted(k for k in environment if k.startswith("KPIWATCH_") and k not in KNOWN_VARIABLES))
    project = load_project(environment, KNOWN_VARIABLES, cwd)
    try:
        return _settings(merged(environment, project), project, unknown)
    except ConfigError as error:
        raise from_project_file(error, environment, project) from None


def _settings(env: Mapping[str, str], project: Project, unknown: tuple[str, ...]) -> Settings:
    defaults = ProjectDefaults.of(project.directory)
    as_of_raw = env.get("KPIWATCH_AS_OF")
    target_raw = (env.get("KPIWATCH_TARGET") or "dev").strip().lower()
    target = TARGET_ALIASES.get(target_raw, target_raw)
    if target not in TARGETS:
        raise ConfigError(f"KPIWATCH_TARGET={target_raw!r} is not a known target; use one of: duckdb (dev), snowflake.")
    start_raw = env.get("KPIWATCH_PARTITIONS_START")
    return Settings(
        duckdb_path=duckdb_file(_path(env, "KPIWATCH_DUCKDB_PATH", defaults.duckdb_path), "KPIWATCH_DUCKDB_PATH"),
        as_of=parse_date(as_of_raw, "KPIWATCH_AS_OF") if as_of_raw else today_utc(),
        target=target,
        dagster_home=_path(env, "DAGSTER_HOME", defaults.dagster_home),
        partitions_start=parse_date(start_raw, "KPIWATCH_PARTITIONS_START") if start_raw else DEFAULT_PARTITIONS_START,
        lookback_days=parse_lookback(env.get("KPIWATCH_LOOKBACK_DAYS") or str(DEFAULT_LOOKBACK_DAYS)),
        duckdb_memory_limit=parse_memory_limit(env.get("KPIWATCH_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT),
        checks_config=_path(env, "KPIWATCH_CHECKS_CONFIG", defaults.checks_config),
        anomalies_config=_path(env, "KPIWATCH_ANOMALIES_CONFIG", defaults.anomalies_config),
        dbt_target_dir=_directory(env, "KPIWATCH_DBT_TARGET_DIR", defaults.dbt_target_dir),
        prestart=_prestart(env),
        segment_top_n=_whole(env, "KPIWATCH_SEGMENT_TOP_N", DEFAULT_SEGMENT_TOP_N, 1, MAX_SEGMENT_TOP_N),
        restatement_tolerance=_bounded(env, "KPIWATCH_RESTATEMENT_TOLERANCE", DEFAULT_RESTATEMENT_TOLERANCE, 0, 1),
        slow_model_factor=_bounded(env, "KPIWATCH_SLOW_MODEL_FACTOR", DEFAULT_SLOW_MODEL_FACTOR, 1.1, 100),
        cost_spike_factor=_bounded(env, "KPIWATCH_COST_SPIKE_FACTOR", DEFAULT_COST_SPIKE_FACTOR, 1.1, 100),
        report_dir=report_dir_from_env(env, target, defaults.duckdb_path),
        alertmanager_url=http_url(env, "KPIWATCH_ALERTMANAGER_URL", DEFAULT_ALERTMANAGER_URL),
        run_lock_wait_seconds=_bounded(
            env, "KPIWATCH_RUN_LOCK_WAIT_SECONDS", DEFAULT_RUN_LOCK_WAIT_SECONDS, 0, MAX_RUN_LOCK_WAIT_SECONDS
        ),
        push=push_target_from_env(env),
        snowflake=snowflake_settings_from_env(env) if target == "snowflake" else None,
        sentry_dsn=sentry_dsn_from_env(env),
        log_format=log_format_from_env(env),
        seeds_dir=seeds_dir(env, defaults.seeds_dir),
        metrics_dir=metrics_dir(env, defaults.metrics_dir),
        dbt_profiles_dir=defaults.dbt_profiles_dir,
        project=project,
        sources=sources_from_env(env),
        unknown_variables=unknown,
    )


def report_dir_from_env(
    env: Mapping[str, str], target: str, default_duckdb_path: Path = DEFAULT_DUCKDB_PATH
) -> Path | None:
    """KPIWATCH_REPORT_DIR, or off; by default `reports/` beside the DuckDB file the reports describe
    (data/reports for the default file), data/reports for Snowflake."""
    if (env.get("KPIWATCH_REPORT_DIR") or "").strip().lower() == REPORTS_DISABLED:
        return None
    default = DEFAULT_REPORT_DIR
    if target == "dev":
        default = _path(env, "KPIWATCH_DUCKDB_PATH", default_duckdb_path).parent / DEFAULT_REPORT_DIR.name
    return _directory(env, "KPIWATCH_REPORT_DIR", default)


@dataclass(frozen=True)
class ProjectDefaults:
    """Where things are when no setting says: under the project directory (its data/, its own checks.yml,
    anomalies.yml, seeds/ and profiles.yml when it has them), else kpiwatch's own (kpiwatch/paths.py)."""

    duckdb_path: Path = DEFAULT_DUCKDB_PATH
    dagster_home: Path = DEFAULT_DAGSTER_HOME
    dbt_target_dir: Path = DEFAULT_DBT_TARGET_DIR
    checks_config: Path = DEFAULT_CHECKS_FILE
    anomalies_config: Path = DEFAULT_ANOMALIES_FILE
    seeds_dir: Path = DEFAULT_SEEDS_DIR
    metrics_dir: Path = DEFAULT_METRICS_DIR
    dbt_profiles_dir: Path = DBT_PROJECT_DIR

    @classmethod
    def of(cls, directory: Path | None) -> ProjectDefaults:
        if directory is None:
            return cls()

        def own(name: str, fallback: Path) -> Path:
            return directory / name if (directory / name).exists() else fallback

        return cls(
            duckdb_path=directory / "data" / DEFAULT_DUCKDB_PATH.name,
            dagster_home=directory / DEFAULT_DAGSTER_HOME.name,
            dbt_target_dir=directory / "data" / "dbt_target",
            checks_config=own(DEFAULT_CHECKS_FILE.name, DEFAULT_CHECKS_FILE),
            anomalies_config=own(DEFAULT_ANOMALIES_FILE.name, DEFAULT_ANOMALIES_FILE),
            seeds_dir=own("seeds", DEFAULT_SEEDS_DIR),
            metrics_dir=own("metrics", DEFAULT_METRICS_DIR),
            dbt_profiles_dir=directory if (directory / "profiles.yml").is_file() else DBT_PROJECT_DIR,
        )


def seeds_dir(env: Mapping[str, str], default: Path) -> Path:
    """A folder holding every reference seed; a missing one is named now, not when dbt seeds."""
    path = _path(env, "KPIWATCH_SEEDS_DIR", default)
    if not path.is_dir():
        raise ConfigError(f"KPIWATCH_SEEDS_DIR={str(path)!r} is not a folder; it holds {' and '.join(SEED_FILES)}.")
    missing = [name for name in SEED_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"KPIWATCH_SEEDS_DIR={str(path)!r} has no {missing[0]}; it holds {' and '.join(SEED_FILES)}.")
    return path


def metrics_dir(env: Mapping[str, str], default: Path) -> Path:
    """A folder of YAML declarations only: dbt reads it as a model path, and a SQL file there would have dbt
    write its compiled SQL over the file (it writes under each node's path, absolute for this folder)."""
    path = _path(env, "KPIWATCH_METRICS_DIR", default)
    if not path.is_dir():
        raise ConfigError(f"KPIWATCH_METRICS_DIR={str(path)!r} is not a folder; it holds metric declarations (.yml).")
    other = sorted(p.name for p in path.rglob("*") if p.is_file() and p.suffix in (".sql", ".py", ".csv"))
    if other:
        raise ConfigError(
            f"KPIWATCH_METRICS_DIR={str(path)!r} holds {other[0]}; it holds metric declarations (.yml) only: "
            "build tables in your own dbt project and declare them here."
        )
    return path


def from_project_file(error: ConfigError, env: Mapping[str, str], project: Project) -> ConfigError:
    """A ConfigError about a value the project file gave, named by the file and its key (the message names the
    KPIWATCH_* variable the key stands for)."""
    message = str(error)
    for name in project.values:
        if not env.get(name) and re.search(rf"\b{name}\b", message):
            key = name.removeprefix("KPIWATCH_").lower()
            return ConfigError(f"{project.file}: {key}: {message}")
    return error


def http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip().rstrip("/")
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name}={env.get(name)!r} must be an http:// or https:// URL, e.g. {default}.")
    return value


def log_format_from_env(env: Mapping[str, str]) -> str:
    value = (env.get("KPIWATCH_LOG_FORMAT") or "text").strip().lower()
    if value not in ("text", "json"):
        raise ConfigError(f"KPIWATCH_LOG_FORMAT={env.get('KPIWATCH_LOG_FORMAT')!r} must be text or json.")
    return value


def sentry_dsn_from_env(env: Mapping[str, str]) -> str | None:
    """KPIWATCH_SENTRY_DSN, checked for the shape https://KEY@HOST[:PORT]/[PATH/]PROJECT_ID; never echoed back,
    as it holds the project's key."""
    value = (env.get("KPIWATCH_SENTRY_DSN") or "").strip()
    if not value:
        return None
    parsed = urlsplit(value)
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    project = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    if parsed.scheme not in ("http", "https") or not parsed.username or not parsed.hostname or not port_ok:
        project = ""
    if not project.isdigit():
        raise ConfigError(
            "KPIWATCH_SENTRY_DSN is not a Sentry DSN (not shown: it holds a key); expected "
            "https://KEY@HOST/PROJECT_ID as Sentry's project settings give it."
        )
    return value


# Characters a DuckDB warehouse path cannot hold, and who misreads them.
UNUSABLE_IN_DUCKDB_PATHS = {
    # DuckDB reads what follows as options: the write-ahead log of `a?b.duckdb` becomes `a.wal?b.duckdb`.
    "?": "which DuckDB reads as the start of options",
    # dbt-duckdb parses the path as a URL to name the database: `we#x/w.duckdb` becomes the catalog `we`.
    "#": "which dbt-duckdb reads as the start of a URL fragment",
}


def duckdb_file(path: Path, name: str) -> Path:
    """A DuckDB path the whole stack reads the same way; refused by name otherwise, before anything opens it."""
    for character, reader in UNUSABLE_IN_DUCKDB_PATHS.items():
        if character in str(path):
            raise ConfigError(f"{name}={str(path)!r} contains '{character}', {reader}; rename it.")
    return path


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    return Path(env.get(name) or default).expanduser().resolve()


def _directory(env: Mapping[str, str], name: str, default: Path) -> Path:
    """A directory kpiwatch may create; an existing file of that name is a mistake to report now."""
    path = _path(env, name, default)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}={str(path)!r} is a file; point it at a directory (it is created if missing).")
    return path


def parse_memory_limit(value: str) -> str:
    """A size DuckDB understands, e.g. 3GB or 512MiB; checked here so a typo fails before any run starts."""
    text = value.strip()
    if not MEMORY_LIMIT_PATTERN.match(text):
        raise ConfigError(f"KPIWATCH_DUCKDB_MEMORY_LIMIT={value!r} is not a size; use e.g. 3GB, 512MB or 8GiB.")
    return text.replace(" ", "")


def parse_lookback(value: str) -> int:
    """Whole days, 0 to 366: a look-back longer than a year is a backfill, not a daily run."""
    try:
        days = int(value.strip())
    except ValueError:
        days = -1
    if not 0 <= days <= 366:
        raise ConfigError(f"KPIWATCH_LOOKBACK_DAYS={value!r} is not a number of days from 0 to 366.")
    return days


def push_target_from_env(env: Mapping[str, str]) -> PushTarget:
    """KPIWATCH_PUSHGATEWAY_* and KPIWATCH_ENVIRONMENT; `KPIWATCH_PUSHGATEWAY_URL=off` disables publishing."""
    url = (env.get("KPIWATCH_PUSHGATEWAY_URL") or DEFAULT_PUSHGATEWAY_URL).strip().rstrip("/")
    if url != PUSH_DISABLED and not url.startswith(("http://", "https://")):
        raise ConfigError(f"KPIWATCH_PUSHGATEWAY_URL={url!r} must start with http:// or https:// (or be 'off').")
    if url != PUSH_DISABLED and "@" in urlsplit(url).netloc:
        # Never echo the value: it holds a secret. Credentials in a URL end up in logs and the event log.
        raise ConfigError(
            "KPIWATCH_PUSHGATEWAY_URL contains credentials (user:password@); put them in "
            "KPIWATCH_PUSHGATEWAY_USERNAME and KPIWATCH_PUSHGATEWAY_PASSWORD instead."
        )
    username, password = env.get("KPIWATCH_PUSHGATEWAY_USERNAME"), env.get("KPIWATCH_PUSHGATEWAY_PASSWORD")
    if bool(username) != bool(password):
        raise ConfigError("Set both KPIWATCH_PUSHGATEWAY_USERNAME and KPIWATCH_PUSHGATEWAY_PASSWORD, or neither.")
    return PushTarget(
        url=url,
        environment=env.get("KPIWATCH_ENVIRONMENT") or DEFAULT_ENVIRONMENT,
        timeout_seconds=_bounded(
            env, "KPIWATCH_PUSHGATEWAY_TIMEOUT_SECONDS", DEFAULT_PUSH_TIMEOUT_SECONDS, 0.1, MAX_PUSH_TIMEOUT_SECONDS
        ),
        attempts=_whole(env, "KPIWATCH_PUSHGATEWAY_ATTEMPTS", DEFAULT_PUSH_ATTEMPTS, 1, MAX_PUSH_ATTEMPTS),
        backoff_seconds=_bounded(
            env, "KPIWATCH_PUSHGATEWAY_BACKOFF_SECONDS", DEFAULT_PUSH_BACKOFF_SECONDS, 0.01, MAX_PUSH_BACKOFF_SECONDS
        ),
        username=username or None,
        password=password or None,
        ca_file=env.get("KPIWATCH_PUSHGATEWAY_CA_FILE") or None,
        cert_file=env.get("KPIWATCH_PUSHGATEWAY_CERT_FILE") or None,
        key_file=env.get("KPIWATCH_PUSHGATEWAY_KEY_FILE") or None,
    )


def snowflake_settings_from_env(env: Mapping[str, str]) -> SnowflakeSettings:
    """KPIWATCH_SNOWFLAKE_*; key-pair auth (PRIVATE_KEY_PATH) is preferred over PASSWORD."""

    def get(name: str) -> str | None:
        return env.get(SNOWFLAKE_PREFIX + name) or None

    missing = [SNOWFLAKE_PREFIX + n for n in ("ACCOUNT", "USER", "DATABASE") if not get(n)]
    if missing:
        raise ConfigError(f"KPIWATCH_TARGET=snowflake needs {', '.join(missing)} (see docs/deploy.md).")
    if not get("PASSWORD") and not get("PRIVATE_KEY_PATH"):
        raise ConfigError(
            f"Set {SNOWFLAKE_PREFIX}PRIVATE_KEY_PATH (key-pair auth, preferred) or {SNOWFLAKE_PREFIX}PASSWORD."
        )
    return SnowflakeSettings(
        account=str(get("ACCOUNT")),
        user=str(get("USER")),
        database=str(get("DATABASE")),
        schema=get("SCHEMA") or DEFAULT_SNOWFLAKE_SCHEMA,
        role=get("ROLE"),
        warehouse=get("WAREHOUSE"),
        password=get("PASSWORD"),
        private_key_path=get("PRIVATE_KEY_PATH"),
        private_key_passphrase=get("PRIVATE_KEY_PASSPHRASE"),
        connect_deadline_seconds=_bounded(
            env, SNOWFLAKE_PREFIX + "CONNECT_DEADLINE_SECONDS", DEFAULT_SNOWFLAKE_CONNECT_DEADLINE_SECONDS, 1, 600
        ),
        warehouse_size=snowflake_warehouse_size(env.get(SNOWFLAKE_PREFIX + "WAREHOUSE_SIZE")),
    )


def snowflake_warehouse_size(raw: str | None) -> str:
    """KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE in any spelling Snowflake accepts (x-small, XSMALL, 2X-Large)."""
    if not raw or not raw.strip():
        return DEFAULT_SNOWFLAKE_WAREHOUSE_SIZE
    size = warehouse_size(raw)
    if size is None:
        raise ConfigError(
            f"{SNOWFLAKE_PREFIX}WAREHOUSE_SIZE={raw!r} is not a Snowflake warehouse size; use one of: "
            f"{', '.join(CREDITS_PER_HOUR)}."
        )
    return size


def _bounded(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g}.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name}={raw!r} must be a whole number from {low} to {high}.")
    return int(raw)


def _prestart(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get("KPIWATCH_PRESTART") or "on"
    value = raw.strip().lower()
    if value not in PRESTART_WORKERS:
        raise ConfigError(f"KPIWATCH_PRESTART={raw!r} must be on, off, gx or dbt.")
    return frozenset(PRESTART_WORKERS[value])
