"""The report's charts as inline SVG written by hand: a sparkline with its expected band and a bar chart of the
MRR bridge. Plain SVG elements drawn at build time, no script and no font or image to fetch; a few kilobytes
each, and no plotting library to import on every run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

VERDICT_COLOURS = {
    "normal": "#2e7d32",
    "anomalous": "#c62828",
    "withheld": "#6d4c41",
    "not_ready": "#757575",
    "no_data": "#9e9e9e",
}
BAND_FILL = "#cfd8dc"
MOVEMENT_COLOURS = {
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#26a69a",
    "contraction": "#ef6c00",
    "churn": "#c62828",
}


@dataclass(frozen=True)
class Point:
    """One day of a series: its value and, once the band is ready, the band; `fired` marks an anomaly."""

    day: dt.date
    value: float | None
    lower: float | None = None
    upper: float | None = None
    fired: bool = False


def _scale(low: float, high: float, size: float, pad: float, invert: bool = False):
    span = (high - low) or 1.0

    def to(v: float) -> float:
        share = (v - low) / span
        return round(pad + (1 - share if invert else share) * (size - 2 * pad), 2)

    return to


def sparkline(points: Sequence[Point], state: str, title: str, width: int = 220, height: int = 48) -> str:
    """The series' days as a line over its band (grey); anomalous days as red dots; the last point in the
    colour of the day's verdict."""
    days = [p for p in points if p.value is not None]
    if len(days) < 2:
        return f'<svg class="spark" width="{width}" height="{height}" role="img"><title>{escape(title)}</title></svg>'
    first, last = days[0].day, days[-1].day
    values = [v for p in days for v in (p.value, p.lower, p.upper) if v is not None]
    x = _scale(0, max(1, (last - first).days), width, 3)
    y = _scale(min(values), max(values), height, 4, invert=True)
    banded = [p for p in days if p.lower is not None and p.upper is not None]
    parts = [f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    parts.append(f"<title>{escape(title)}</title>")
    if len(banded) >= 2:
        upper = " ".join(f"{x((p.day - first).days)},{y(p.upper)}" for p in banded)
        lower = " ".join(f"{x((p.day - first).days)},{y(p.lower)}" for p in reversed(banded))
        parts.append(f'<polygon points="{upper} {lower}" fill="{BAND_FILL}" stroke="none"/>')
    line = " ".join(f"{x((p.day - first).days)},{y(p.value)}" for p in days)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#37474f" stroke-width="1.3"/>')
    red = VERDICT_COLOURS["anomalous"]
    for p in days:
        if p.fired:
            parts.append(f'<circle cx="{x((p.day - first).days)}" cy="{y(p.value)}" r="2.4" fill="{red}"/>')
    end = days[-1]
    colour = VERDICT_COLOURS.get(state, VERDICT_COLOURS["no_data"])
    parts.append(f'<circle cx="{x((end.day - first).days)}" cy="{y(end.value)}" r="3" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bridge_chart(months: Sequence[dict], width: int = 720, height: int = 220) -> str:
    """Each month's movements as stacked bars, gains up and losses down, with net new MRR as a dark tick."""
    if not months:
        return ""
    tops = [sum(max(0.0, m[k]) for k in MOVEMENT_COLOURS) for m in months]
    bottoms = [sum(min(0.0, m[k]) for k in MOVEMENT_COLOURS) for m in months]
    high, low = max(tops + [0.0]), min(bottoms + [0.0])
    y = _scale(low, high, height - 18, 6, invert=True)
    slot = (width - 40) / len(months)
    bar = min(48.0, max(4.0, slot * 0.6))
    parts = [f'<svg class="bridge" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    parts.append("<title>MRR bridge: movements per month (gains up, losses down), net new as a tick</title>")
    parts.append(f'<line x1="36" x2="{width}" y1="{y(0)}" y2="{y(0)}" stroke="#90a4ae" stroke-width="1"/>')
    for i, m in enumerate(months):
        left = round(40 + i * slot + (slot - bar) / 2, 2)
        up = down = 0.0
        for movement, colour in MOVEMENT_COLOURS.items():
            value = m[movement]
            if value == 0:
                continue
            start, end = (up, up + value) if value > 0 else (down, down + value)
            if value > 0:
                up = end
            else:
                down = end
            top, bottom = y(max(start, end)), y(min(start, end))
            parts.append(
                f'<rect x="{left}" y="{top}" width="{round(bar, 2)}" height="{round(max(bottom - top, 0.5), 2)}" '
                f'fill="{colour}"><title>{escape(m["label"])} {movement}: {value:,.2f}</title></rect>'
            )
        net = y(m["net_new"])
        parts.append(
            f'<line x1="{left - 2}" x2="{round(left + bar + 2, 2)}" y1="{net}" y2="{net}" stroke="#212121" '
            'stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{round(left + bar / 2, 2)}" y="{height - 4}" font-size="9" text-anchor="middle" '
            f'fill="#455a64">{escape(m["label"])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
