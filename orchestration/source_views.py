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
from collections.abc import Collection, Mapping

from kpiwatch.contract import RAW_SCHEMA
from kpiwatch.dbt_support.profile import dbt_environment, project_arguments
from kpiwatch.errors import KpiwatchError
from kpiwatch.executables import beside_interpreter
from kpiwatch.paths import DBT_PROJECT_DIR
from kpiwatch.settings import Settings
from kpiwatch.source_adapters import connector_columns, schema_problem
from kpiwatch.source_settings import EVENT_TRACKERS, table_variable
from kpiwatch.sources_check import mapping_errors
from kpiwatch.tracker_landing import land_events, land_users
from kpiwatch.warehouse import DuckDBWarehouse, Warehouse, open_warehouse
from orchestration.dbt_project import parse_error

LEDGER_TABLE = "ledger.source_views"
ADAPTER_FILES = (
    "models/sources",
    "macros/source_adapters.sql",
    "macros/stripe_periods.sql",
    "macros/event_trackers.sql",
)


def model_names(adapter: str, table: str) -> list[str]:
    """The dbt models of an adapter's raw.<table>: an event tracker's events and identities, or its signups,
    else one view."""
    if adapter in EVENT_TRACKERS:
        return [f"{adapter}__events", f"{adapter}__identities"] if table == "events" else [f"{adapter}__signups"]
    return [f"{adapter}__{table}"]


def prepare_source_views(settings: Settings) -> None:
    """Make raw.<table> the chosen adapter's view for every adapted table, rebuilding only what changed. A daily
    run opens the warehouse twice (once to read, once to land a tracker's new rows) and reads each information
    schema once."""
    sources = settings.sources
    if not sources.adapted:
        return
    warehouse = open_warehouse(settings)
    with warehouse.session():
        connectors = {
            s: connector_columns(warehouse, s) for s in {sources.schemas[a] for a in sources.adapters.values()}
        }
        relations = relation_types(warehouse, (RAW_SCHEMA, LEDGER_TABLE.split(".")[0]))
        for table, adapter in sorted(sources.adapters.items()):
            schema = sources.schemas[adapter]
            if problem := schema_problem(connectors[schema], adapter, table, schema, sources.options):
                raise KpiwatchError(problem)
            if problems := mapping_errors(warehouse, adapter, table, schema, connectors[schema]):
                raise KpiwatchError(f"{problems[0]} (`kpiwatch sources check` lists every problem.)")
            ensure_not_a_table(relations, table, adapter)
        built = built_definitions(warehouse, relations)
    wanted = {
        table: definition(adapter, sources.schemas[adapter], sources.options, connectors[sources.schemas[adapter]])
        for table, adapter in sources.adapters.items()
    }
    stale = sorted(t for t, d in wanted.items() if built.get(t) != d or (RAW_SCHEMA, t) not in relations)
    if stale:
        run_adapter_models(settings, [m for t in stale for m in model_names(sources.adapters[t], t)])
    landings = [
        (land, tracker, table)
        for land, table in ((land_events, "events"), (land_users, "users"))
        if (tracker := sources.adapters.get(table)) in EVENT_TRACKERS
    ]
    if not (landings or stale):
        return
    with writable(settings).session() as session:
        for land, tracker, table in landings:
            land(session, tracker, restart=table in stale)
        if stale:
            record(session, {t: (sources.adapters[t], wanted[t]) for t in stale})


def definition(adapter: str, schema: str, options: Mapping[str, str], tables: Collection[str] = ()) -> str:
    """A digest of what an adapter's view is built from: its SQL, macros and sources, the schema it reads, the
    tables that schema holds (the Fivetran adapter reads `subscription` where `subscription_history` is not) and
    its options (ad_reporting's channel and default currency)."""
    digest = hashlib.sha256(f"{adapter}\0{schema}\0{sorted(tables)}\0{sorted(options.items())}".encode())
    for name in ADAPTER_FILES:
        path = DBT_PROJECT_DIR / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def relation_types(warehouse: Warehouse, schemas: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """Every table and view of `schemas` (lower case) and its type (TABLE or VIEW), in one read."""
    rows = warehouse.query(
        "select lower(table_schema) as table_schema, lower(table_name) as table_name, upper(table_type) as kind "
        f"from information_schema.tables where lower(table_schema) in ({', '.join('?' for _ in schemas)})",
        list(schemas),
    )
    return {(r["table_schema"], r["table_name"]): r["kind"] for r in rows}


def ensure_not_a_table(relations: Mapping[tuple[str, str], str], table: str, adapter: str) -> None:
    """A company's own raw.<table> is data, not something kpiwatch may replace with a view."""
    if relations.get((RAW_SCHEMA, table), "VIEW") != "VIEW":
        raise KpiwatchError(
            f"raw.{table} is a table, and {table_variable(table)}={adapter} would replace it with the adapter's "
            f"view: kpiwatch never overwrites data, so rename or drop raw.{table}, or set "
            f"{table_variable(table)}=contract."
        )


def built_definitions(warehouse: Warehouse, relations: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """The definition each raw view was last built from (none before the first build)."""
    if tuple(LEDGER_TABLE.split(".")) not in relations:
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


def record(warehouse: Warehouse, built: Mapping[str, tuple[str, str]]) -> None:
    """Remember what each view was built from, so the next run skips dbt when nothing changed."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with warehouse.session() as session:
        session.query("create schema if not exists ledger")
        session.query(
            f"create table if not exists {LEDGER_TABLE} (table_name varchar, adapter varchar, definition varchar, "
            "built_at timestamp)"
        )
        for table, (adapter, digest) in sorted(built.items()):
            session.query(f"delete from {LEDGER_TABLE} where table_name = ?", [table])
            session.query(f"insert into {LEDGER_TABLE} values (?, ?, ?, ?)", [table, adapter, digest, now])


def writable(settings: Settings) -> Warehouse:
    """The warehouse, opened to write (the DuckDB file read-only otherwise)."""
    if settings.target == "dev":
        return DuckDBWarehouse(settings.duckdb_path, read_only=False, memory_limit=settings.duckdb_memory_limit)
    return open_warehouse(settings)
