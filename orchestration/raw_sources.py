"""The raw contract tables as source assets: users load them, kpiwatch only reads them."""

from dagster import AssetSpec

from kpiwatch.contract import RAW_SCHEMA, RAW_TABLES


def raw_table_specs() -> list[AssetSpec]:
    return [
        AssetSpec(
            key=[RAW_SCHEMA, table.name],
            description=f"{table.description} Contract: docs/data-contract.md.",
            group_name="raw",
            metadata={"columns": ", ".join(f"{c.name} ({c.family})" for c in table.columns)},
        )
        for table in RAW_TABLES
    ]
