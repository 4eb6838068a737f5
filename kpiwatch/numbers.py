"""Numbers as people read them, one way everywhere kpiwatch shows them (the run's headline, the report)."""

from __future__ import annotations

from typing import Any


def number(value: Any, unit: str, missing: str = "—") -> str:
    """usd: -$1,234.50; count: 1,234; percent (of a ratio): 12.3%; anything else: 1,234.57."""
    if value is None:
        return missing
    value = float(value)
    if unit == "usd":
        return f"{'-' if value < 0 else ''}${abs(value):,.2f}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    return f"{value:,.2f}"
