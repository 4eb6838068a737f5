"""`kpiwatch explain`: a change of MRR or active users as a person reads it in ten seconds (table), or every
contribution as CSV. The numbers come from metrics/attribution.py, the same reading the alerts quote."""

from __future__ import annotations

import csv
import io

from metrics.attribution import NET, Contribution, Explanation

CSV_COLUMNS = ("period", "metric", "movement", "dimension", "segment", "value", "share_of_change")
SHOWN_PER_DIMENSION = 3


def to_csv(explanation: Explanation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in explanation.rows:
        share = "" if row.share_of_change is None else f"{row.share_of_change:.6f}"
        writer.writerow(
            (explanation.period, explanation.metric, row.movement, row.dimension, row.segment, _plain(row.value), share)
        )
    return out.getvalue()


def to_table(explanation: Explanation) -> str:
    amount = {"mrr": _usd, "active_users": _users}.get(explanation.metric, _number)
    title = {"mrr": "MRR", "active_users": "Daily active users"}.get(explanation.metric, explanation.metric)
    change = explanation.change
    relative = f" ({change / explanation.before:+.1%})" if explanation.before else ""
    lines = [
        f"{title} {explanation.period}: {amount(explanation.after, signed=False)}, {amount(change)}{relative} "
        f"against {explanation.previous_period} ({amount(explanation.before, signed=False)})."
    ]
    leader = explanation.leader()
    if not change:
        lines.append("No change: nothing to attribute.")
    elif leader is not None:
        lines.append(
            f"Concentrated in: {leader.dimension} = {leader.segment}, {amount(leader.value)}{_share(leader)}"
            f"{_detail(explanation, leader, amount)}."
        )
    movements = [r for r in explanation.rows if r.dimension == "all"]
    if movements:
        lines += ["", "By movement (share of the change):"]
        lines += [f"  {r.movement:<14}{amount(r.value):>16}{_share(r)}" for r in movements]
    dimensions = list(dict.fromkeys(r.dimension for r in explanation.rows if r.dimension != "all"))
    if dimensions:
        lines += ["", f"By segment, the {SHOWN_PER_DIMENSION} largest contributions of each dimension:"]
    for dimension in dimensions:
        segments = explanation.segments(dimension)
        shown = [f"{s.segment} {amount(s.value)}{_share(s)}" for s in segments[:SHOWN_PER_DIMENSION]]
        more = f" (+{len(segments) - SHOWN_PER_DIMENSION} more)" if len(segments) > SHOWN_PER_DIMENSION else ""
        lines.append(f"  {dimension:<20}{' | '.join(shown)}{more}")
    return "\n".join(lines) + "\n"


def _detail(explanation: Explanation, segment: Contribution, amount) -> str:
    """The movements behind one segment's contribution, largest first."""
    parts = [
        r
        for r in explanation.rows
        if r.dimension == segment.dimension and r.segment == segment.segment and r.movement != NET
    ]
    parts.sort(key=lambda r: -abs(r.value))
    return (": " + ", ".join(f"{p.movement} {amount(p.value)}" for p in parts)) if parts else ""


def _share(row: Contribution) -> str:
    return "" if row.share_of_change is None else f" ({row.share_of_change:.0%})"


def _usd(value: float, signed: bool = True) -> str:
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    return f"{sign}${abs(value):,.2f}"


def _users(value: float, signed: bool = True) -> str:
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    return f"{sign}{abs(value):,.0f} users"


def _number(value: float, signed: bool = True) -> str:
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    return f"{sign}{abs(value):,.4g}"


def _plain(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
