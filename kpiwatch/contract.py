"""The raw data contract: the tables users load, checked before any metric is computed.

docs/data-contract.md is the human description of the same structure; keep them in step.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from kpiwatch.errors import ContractError

CONTRACT_DOC = "docs/data-contract.md"
RAW_SCHEMA = "raw"

# Type families and the warehouse type names (DuckDB and Snowflake spellings) that satisfy them.
TYPE_FAMILIES: dict[str, tuple[str, ...]] = {
    "text": ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER VARYING"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"),
    "date": ("DATE",),
    "number": ("DECIMAL", "NUMERIC", "NUMBER", "DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "HUGEINT"),
}
ZONED_TIMESTAMPS = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_TZ", "TIMESTAMP_LTZ")

# A price's billing interval as Stripe has it (interval and interval_count, at most three years): the unit
# alone ("month"), or a count and the unit ("3 month" bills every three months). Days have no agreed monthly
# value among billing tools, so they are refused rather than guessed.
LONGEST_INTERVALS = {"week": 156, "month": 36, "year": 3}


def billing_intervals() -> tuple[str, ...]:
    """Every value raw.subscriptions.billing_interval may hold: "month", "year", "week", "1 month" .. "36 month"."""
    counted = (f"{count} {unit}" for unit, longest in LONGEST_INTERVALS.items() for count in range(1, longest + 1))
    return (*LONGEST_INTERVALS, *counted)


@dataclass(frozen=True)
class Column:
    name: str
    family: str
    required: bool  # a null here is a data-quality failure, not a convention
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    freshness_column: str
    description: str

    @property
    def qualified_name(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


RAW_TABLES: tuple[Table, ...] = (
    Table(
        "users",
        (
            Column("user_id", "text", True, "Stable identifier of a person or account."),
            Column("created_at", "timestamp", True, "Signup time, UTC."),
            Column("country", "text", False, "ISO country code."),
            Column("acquisition_channel", "text", False, "Marketing channel of the signup; null counts as 'unknown'."),
        ),
        "created_at",
        "One row per user (signup).",
    ),
    Table(
        "subscriptions",
        (
            Column("subscription_id", "text", True, "Shared by every priced period of one subscription."),
            Column("user_id", "text", True, "The paying user."),
            Column("plan", "text", True, "Plan name."),
            Column(
                "billing_interval",
                "text",
                True,
                "'month', 'year' or 'week', or a count and one of them: '3 month' bills every three months.",
            ),
            Column("amount", "number", True, "Price per billing interval, in `currency`."),
            Column("currency", "text", True, "ISO 4217 code present in the fx_rates seed."),
            Column("started_at", "timestamp", True, "Start of the priced period, UTC, inclusive."),
            Column("ended_at", "timestamp", False, "End of the priced period, UTC, exclusive; null while running."),
        ),
        "started_at",
        "One row per priced period of a subscription.",
    ),
    Table(
        "events",
        (
            Column("event_id", "text", True, "Unique event identifier."),
            Column("user_id", "text", True, "The acting user."),
            Column("event_name", "text", True, "Product event name, mapped to features by the feature_map seed."),
            Column("occurred_at", "timestamp", True, "Event time, UTC."),
        ),
        "occurred_at",
        "One row per product event.",
    ),
    Table(
        "marketing_spend",
        (
            Column("spend_date", "date", True, "Day the money was spent (UTC calendar day)."),
            Column("channel", "text", True, "Acquisition channel, matching users.acquisition_channel."),
            Column("amount", "number", True, "Spend in `currency`."),
            Column("currency", "text", True, "ISO 4217 code present in the fx_rates seed."),
        ),
        "spend_date",
        "One row per channel per day (several rows a day are summed).",
    ),
)

RAW_TABLES_BY_NAME = {t.name: t for t in RAW_TABLES}


def type_family(data_type: str) -> str | None:
    """Map a warehouse type name to a contract family (None when it fits none)."""
    upper = data_type.strip().upper()
    if upper.startswith(ZONED_TIMESTAMPS):
        return "zoned_timestamp"
    for family, names in TYPE_FAMILIES.items():
        if any(upper == n or upper.startswith(n + "(") for n in names):
            return family
    return None


def table_problems(table: Table, columns: Mapping[str, str] | None) -> list[str]:
    """Problems of one table given its observed {column: type} (None when the table is absent)."""
    if columns is None:
        return [f"table {table.qualified_name} is missing"]
    columns = {c.lower(): ty for c, ty in columns.items()}
    problems: list[str] = []
    for column in table.columns:
        where = f"{table.qualified_name}.{column.name}"
        if column.name not in columns:
            problems.append(f"column {where} is missing")
            continue
        family = type_family(columns[column.name])
        if family == "zoned_timestamp":
            problems.append(
                f"column {where} is {columns[column.name]}; the contract needs a UTC TIMESTAMP without time zone "
                f"(load it as {column.name} AT TIME ZONE 'UTC')"
            )
        elif family != column.family:
            problems.append(f"column {where} has type {columns[column.name]}, expected {column.family}")
    return problems


def contract_problems(observed: Mapping[str, Mapping[str, str]], skip: Collection[str] = ()) -> list[str]:
    """Compare observed {table: {column: type}} (any case) with the contract, but for the tables in `skip`;
    one sentence per problem."""
    lowered = {t.lower(): cols for t, cols in observed.items()}
    return [
        problem
        for table in RAW_TABLES
        if table.name not in skip
        for problem in table_problems(table, lowered.get(table.name))
    ]


def raise_for_contract(observed: Mapping[str, Mapping[str, str]], skip: Collection[str] = ()) -> None:
    """Raise one ContractError naming every table and column that breaks the contract (`skip`: not these)."""
    problems = contract_problems(observed, skip)
    if problems:
        listed = "; ".join(problems)
        raise ContractError(f"The raw data does not match the kpiwatch contract: {listed}. See {CONTRACT_DOC}.")


def observed_columns(rows: Iterable[Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Group information_schema rows (table_name, column_name, data_type) by table, names lower-cased
    (Snowflake reports unquoted names in upper case)."""
    observed: dict[str, dict[str, str]] = {}
    for row in rows:
        observed.setdefault(row["table_name"].lower(), {})[row["column_name"].lower()] = row["data_type"]
    return observed


CONTRACT_SQL_TYPES = {"text": "varchar", "timestamp": "timestamp", "date": "date", "number": "decimal(18,2)"}


def raw_table_ddl() -> list[str]:
    """CREATE statements for empty contract tables (used by the generator and by test fixtures)."""
    statements = [f"create schema if not exists {RAW_SCHEMA}"]
    for table in RAW_TABLES:
        columns = ", ".join(f"{c.name} {CONTRACT_SQL_TYPES[c.family]}" for c in table.columns)
        statements.append(f"create or replace table {table.qualified_name} ({columns})")
    return statements
