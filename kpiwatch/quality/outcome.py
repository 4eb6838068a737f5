"""One check's verdict, in the form the Dagster UI, the CLI and the Prometheus push all read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHECK_SECONDS = "duration_seconds"  # metadata of a SQL check: its own time
SUITE_SECONDS = "suite_seconds"  # metadata of a GX check: its table's suite, validated in one pass


@dataclass(frozen=True)
class CheckOutcome:
    table: str
    check: str
    severity: str  # "error" blocks, "warn" reports
    passed: bool
    description: str  # one sentence a person can act on
    metadata: dict[str, Any] = field(default_factory=dict)  # observed values, counts, sample keys
