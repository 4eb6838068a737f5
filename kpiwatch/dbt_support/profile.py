"""What the dbt project reads from its environment (profiles.yml and the run-window macros), built from
the settings. Standard library only: `kpiwatch run` computes it before any heavy import."""

from __future__ import annotations

import datetime as dt

from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import Settings


def dbt_environment(settings: Settings) -> dict[str, str]:
    """profiles.yml's values, plus dbt's own switches: no usage statistics leave the machine, from any dbt
    call kpiwatch makes. The same mapping for the parse and for runs, so runs reuse the parse (dbt's
    partial-parse state is keyed by the profile's values)."""
    env = {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "KPIWATCH_SEEDS_DIR": _seed_path(settings),
        "KPIWATCH_METRICS_DIR": _metrics_path(settings),
        **settings.sources.environment(),  # the schemas the chosen source adapters read
    }
    if settings.target == "dev":
        env.update(
            KPIWATCH_DUCKDB_PATH=str(settings.duckdb_path), KPIWATCH_DUCKDB_MEMORY_LIMIT=settings.duckdb_memory_limit
        )
    elif settings.snowflake is not None:
        s = settings.snowflake
        values = {
            "ACCOUNT": s.account,
            "USER": s.user,
            "DATABASE": s.database,
            "SCHEMA": s.schema,
            "ROLE": s.role,
            "WAREHOUSE": s.warehouse,
            "PASSWORD": s.password,
            "PRIVATE_KEY_PATH": s.private_key_path,
            "PRIVATE_KEY_PASSPHRASE": s.private_key_passphrase,
        }
        env.update({f"KPIWATCH_SNOWFLAKE_{k}": v for k, v in values.items() if v})
    return env


def _seed_path(settings: Settings) -> str:
    """dbt's seed path: relative for the bundled seeds (dbt's normal case), absolute for a project's own
    (macros/noop_statement.sql keeps dbt from writing run SQL over those files)."""
    if settings.seeds_dir.resolve() == (DBT_PROJECT_DIR / "seeds").resolve():
        return "seeds"
    return str(settings.seeds_dir)


def _metrics_path(settings: Settings) -> str:
    """dbt's second model path: kpiwatch's empty metrics/ (relative), or a project's own (absolute; YAML only,
    kpiwatch/settings.py refuses anything dbt would write back to)."""
    if settings.metrics_dir.resolve() == (DBT_PROJECT_DIR / "metrics").resolve():
        return "metrics"
    return str(settings.metrics_dir)


def window_environment(start: dt.date, as_of: dt.date, lookback_days: int) -> dict[str, str]:
    """The run settings dbt reads (dbt_project/macros/evaluation_window.sql)."""
    return {
        "KPIWATCH_DBT_AS_OF": as_of.isoformat(),
        "KPIWATCH_DBT_WINDOW_START": start.isoformat(),
        "KPIWATCH_DBT_LOOKBACK_DAYS": str(lookback_days),
    }


def project_arguments(settings: Settings) -> list[str]:
    """Where dbt finds the project, its profile and target, for commands kpiwatch runs itself."""
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target",
        settings.target,
    ]
