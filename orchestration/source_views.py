"""Contract tables read through a source adapter: before a run's checks, raw.<table> must be the view of the
chosen adapter (dbt_project/models/sources/) over the connector's current schema.

The adapter's dbt models are run only when what they are built from changed (the adapter, the schema it reads,
its SQL): a daily run pays one small query, not a dbt call. A missing connector table or column is named in
one sentence before dbt meets it, and a real raw.<table> holding a company's own data is never replaced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
from collections.abc import Mapping

from kpiwatch.contract import RAW_SCHEMA
from kpiwatch.dbt_support.profile import dbt_environment, project_arguments
from kpiwatch.errors import KpiwatchError
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import Settings
from kpiwatch.source_settings import schema_variable, table_variable
from kpiwatch.warehouse import DuckDBWarehouse, Warehouse, open_warehouse, relation_exists
from orchestration.dbt_project import parse_error

LEDGER_TABLE = "ledger.source_views"
ADAPTER_FILES = ("models/sources", "macros/source_adapters.sql")
# What each adapter reads for each contract table: connector table -> columns (as the connector syncs them).
STRIPE_FIVETRAN_SUBSCRIPTIONS = {
    "subscription_history": (
        "id",
        "customer_id",
        "status",
        "cancel_at_period_end",
        "current_period_start",
        "current_period_end",
        "cancel_at",
        "ended_at",
        "livemode",
        "_fivetran_active",
    ),
    "subscription_item": ("id", "subscription_id", "plan_id", "quantity"),
    "price": (
        "id",
        "unit_amount",
        "currency",
        "type",
        "recurring_interval",
        "recurring_interval_count",
        "recurring_usage_type",
        "product_id",
    ),
    "product": ("id", "name"),
    "invoice": ("id", "status"),
    "invoice_line_item": (
        "id",
        "invoice_id",
        "subscription_id",
        "subscription_item_id",
        "price_id",
        "plan_id",
        "type",
        "proration",
        "quantity",
        "amount",
        "unit_amount_excluding_tax",
        "currency",
        "period_start",
        "period_end",
        "livemode",
    ),
}
READS: dict[tuple[str, str], Mapping[str, tuple[str, ...]]] = {
    ("stripe_fivetran", "subscriptions"): STRIPE_FIVETRAN_SUBSCRIPTIONS,
    ("stripe_fivetran", "users"): {"customer": ("id", "created", "address_country", "livemode")},
}


def model_name(adapter: str, table: str) -> str:
    return f"{adapter}__{table}"


def prepare_source_views(settings: Settings) -> None:
    """Make raw.<table> the chosen adapter's view for every adapted table, rebuilding only what changed."""
    sources = settings.sources
    if not sources.adapted:
        return
    warehouse = open_warehouse(settings)
    for table, adapter in sorted(sources.adapters.items()):
        check_connector_schema(warehouse, adapter, table, sources.schemas[adapter])
        ensure_not_a_table(warehouse, table, adapter)
    wanted = {table: definition(adapter, sources.schemas[adapter]) for table, adapter in sources.adapters.items()}
    built = built_definitions(warehouse)
    stale = sorted(t for t, d in wanted.items() if built.get(t) != d or not relation_exists(warehouse, RAW_SCHEMA, t))
    if not stale:
        return
    run_adapter_models(settings, [model_name(sources.adapters[t], t) for t in stale])
    record(settings, {t: (sources.adapters[t], wanted[t]) for t in stale})


def definition(adapter: str, schema: str) -> str:
    """A digest of what an adapter's view is built from: its SQL, macros and sources, and the schema it reads."""
    digest = hashlib.sha256(f"{adapter}\0{schema}".encode())
    for name in ADAPTER_FILES:
        path = DBT_PROJECT_DIR / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def check_connector_schema(warehouse: Warehouse, adapter: str, table: str, schema: str) -> None:
    """One sentence for the first connector table or column the adapter needs and does not find."""
    database, _, schema_name = schema.rpartition(".")
    catalog = "and lower(table_catalog) = ?" if database else ""
    params = [schema_name.lower(), *([database.lower()] if database else [])]
    rows = warehouse.query(
        "select lower(table_name) as table_name, lower(column_name) as column_name from information_schema.columns "
        f"where lower(table_schema) = ? {catalog}",
        params,
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    for connector_table, columns in READS[(adapter, table)].items():
        setting = f"{table_variable(table)}={adapter}, {schema_variable(adapter)}={schema}"
        if connector_table not in found:
            raise KpiwatchError(
                f"{schema}.{connector_table} does not exist: the {adapter} adapter reads it for raw.{table} "
                f"({setting})."
            )
        missing = [c for c in columns if c not in found[connector_table]]
        if missing:
            raise KpiwatchError(
                f"{schema}.{connector_table} has no column {', '.join(missing)}: the {adapter} adapter reads it "
                f"for raw.{table} ({setting})."
            )


def ensure_not_a_table(warehouse: Warehouse, table: str, adapter: str) -> None:
    """A company's own raw.<table> is data, not something kpiwatch may replace with a view."""
    rows = warehouse.query(
        "select table_type from information_schema.tables where lower(table_schema) = ? and lower(table_name) = ?",
        [RAW_SCHEMA, table],
    )
    if rows and rows[0]["table_type"].upper() != "VIEW":
        raise KpiwatchError(
            f"raw.{table} is a table, and {table_variable(table)}={adapter} would replace it with the adapter's "
            f"view: kpiwatch never overwrites data, so rename or drop raw.{table}, or set "
            f"{table_variable(table)}=contract."
        )


def built_definitions(warehouse: Warehouse) -> dict[str, str]:
    """The definition each raw view was last built from (none before the first build)."""
    schema, name = LEDGER_TABLE.split(".")
    if not relation_exists(warehouse, schema, name):
        return {}
    return {r["table_name"]: r["definition"] for r in warehouse.query(f"select * from {LEDGER_TABLE}")}


def run_adapter_models(settings: Settings, models: list[str]) -> None:
    """`dbt run` of the adapters' views; dbt's own error in one sentence when it fails."""
    target = settings.dbt_target_dir / "sources"
    command = [
        beside_interpreter("dbt"),
        "run",
        "--quiet",
        "--select",
        *models,
        *project_arguments(settings),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
    ]
    env = {**os.environ, **dbt_environment(settings)}
    done = subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=env)
    if done.returncode != 0:
        raise KpiwatchError(f"dbt could not build the source adapters: {model_error(done.stdout + done.stderr)}")


def model_error(output: str) -> str:
    """The first failing model and what the warehouse said, on one line; else dbt's own last words."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if " Error in model " in line:
            return " ".join(lines[index : index + 2])[:600]
    return parse_error(output)


def record(settings: Settings, built: Mapping[str, tuple[str, str]]) -> None:
    """Remember what each view was built from, so the next run skips dbt when nothing changed."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    warehouse = (
        DuckDBWarehouse(settings.duckdb_path, read_only=False, memory_limit=settings.duckdb_memory_limit)
        if settings.target == "dev"
        else open_warehouse(settings)
    )
    with warehouse.session() as session:
        session.query("create schema if not exists ledger")
        session.query(
            f"create table if not exists {LEDGER_TABLE} (table_name varchar, adapter varchar, definition varchar, "
            "built_at timestamp)"
        )
        for table, (adapter, digest) in sorted(built.items()):
            session.query(f"delete from {LEDGER_TABLE} where table_name = ?", [table])
            session.query(f"insert into {LEDGER_TABLE} values (?, ?, ?, ?)", [table, adapter, digest, now])
