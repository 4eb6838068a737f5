"""Snowflake's warehouse sizes and what each costs per hour: a fact about Snowflake that the settings (to
validate KPIWATCH_SNOWFLAKE_WAREHOUSE_SIZE) and the credits estimate (metrics/warehouse_cost.py) both read."""

from __future__ import annotations

# Credits per hour of a standard warehouse, from Snowflake's published table ("Warehouse size" in
# "Overview of warehouses"). Snowpark-optimized and Gen2 warehouses cost more per hour: not estimated here.
CREDITS_PER_HOUR = {
    "X-SMALL": 1,
    "SMALL": 2,
    "MEDIUM": 4,
    "LARGE": 8,
    "X-LARGE": 16,
    "2X-LARGE": 32,
    "3X-LARGE": 64,
    "4X-LARGE": 128,
    "5X-LARGE": 256,
    "6X-LARGE": 512,
}
# The other spellings Snowflake accepts in CREATE WAREHOUSE ... WAREHOUSE_SIZE = ...
SIZE_ALIASES = {"XSMALL": "X-SMALL", "XLARGE": "X-LARGE", "XXLARGE": "2X-LARGE", "XXXLARGE": "3X-LARGE"} | {
    f"{n}XLARGE": f"{n}X-LARGE" for n in range(2, 7)
}


def warehouse_size(value: str) -> str | None:
    """Snowflake's name of a warehouse size in any of its spellings (x-small, XSMALL, 2x-large), else None."""
    name = value.strip().upper().replace("_", "-")
    name = SIZE_ALIASES.get(name.replace("-", ""), name)
    return name if name in CREDITS_PER_HOUR else None
