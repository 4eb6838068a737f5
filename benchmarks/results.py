"""benchmarks/RESULTS.md is shared: each benchmark script owns one section between its own markers and
replaces only that section, so scripts run at different times never overwrite each other's figures."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(text: str, start: str, end: str, path: Path = RESULTS) -> None:
    """Replace the section between `start` and `end` (both inside `text`) with `text`, or append it."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current)  # a function: backslashes in `text` stay as written
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(updated)
