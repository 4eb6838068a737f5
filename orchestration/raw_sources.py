"""The raw contract tables as source assets: users load them, kpiwatch only reads them."""

from dagster import AssetSpec, Definitions

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES

raw_table_specs = [
    AssetSpec(
        key=[RAW_SCHEMA, table.name],
        description=f"{table.description} Contract: docs/data-contract.md.",
        group_name="raw",
        metadata={"columns": ", ".join(f"{c.name} ({c.family})" for c in table.columns)},
    )
    for table in RAW_TABLES
]

defs = Definitions(assets=raw_table_specs)
