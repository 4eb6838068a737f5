"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing to fetch; A4 when printed.
Every number carries its raw value in a data-value attribute, so tests (and scrapers) read what is shown."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from kpiwatch.numbers import number
from kpiwatch.report.facts import METRICS_DOC_HEADINGS, KpiFact, ReportFacts
from kpiwatch.report.svg import VERDICT_COLOURS, bridge_chart, sparkline
from metrics.anomaly_config import series_metric
from metrics.attribution import top_contributions

STATE_LABELS = {
    "normal": "normal",
    "anomalous": "anomalous",
    "withheld": "withheld: bad data",
    "not_ready": "not enough history",
    "no_data": "no value",
}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
:root { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #212121; }
body { margin: 24px auto; max-width: 1080px; padding: 0 16px; font-size: 13px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #cfd8dc; }
.meta { color: #546e7a; margin: 0 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px; }
.card { border: 1px solid #cfd8dc; border-left: 5px solid var(--state); border-radius: 4px; padding: 8px 10px;
        break-inside: avoid; page-break-inside: avoid; }
.card .label { font-weight: bold; } .card .value { font-size: 20px; margin: 2px 0; }
.card .change { color: #455a64; } .card .def { color: #546e7a; font-size: 11px; margin-top: 4px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; color: #fff; font-size: 11px;
         background: var(--state); }
table { border-collapse: collapse; width: 100%; margin: 6px 0; break-inside: auto; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceff1; vertical-align: top;
         overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; overflow-wrap: normal; }
tr { break-inside: avoid; page-break-inside: avoid; }
.failed td { background: #ffebee; } .warned td { background: #fff8e1; }
.notice { border: 1px solid #ffab91; background: #fbe9e7; padding: 8px 10px; border-radius: 4px; margin: 6px 0; }
.quiet { color: #546e7a; } .legend span { margin-right: 12px; }
.segments { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
a { color: #1565c0; }
@page { size: A4; margin: 12mm; }
@media print { body { margin: 0; max-width: none; font-size: 10.5px; } h2 { break-after: avoid; }
               .cards { grid-template-columns: repeat(3, 1fr); } svg.bridge { width: 100%; height: auto; } }
"""


def render(facts: ReportFacts) -> str:
    title = f"kpiwatch report, as of {facts.as_of.isoformat()}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Built {facts.generated_at:%Y-%m-%d %H:%M} UTC from the {escape(facts.target)} warehouse. '
        f"Definitions: {_doc_link(facts, None, 'docs/metrics.md')}.</p>",
        _legend(),
        _headline(facts),
        _economics(facts),
        _bridge(facts),
        _segments(facts),
        _changes(facts),
        _quality(facts),
        _alerts(facts),
        _runs(facts),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # The page may load nothing: a browser blocks (and its console reports) any fetch, even one added later.
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


def _cell(value: float | None, unit: str, **attributes: str) -> str:
    data = "".join(f' data-{k}="{escape(v)}"' for k, v in attributes.items())
    raw = "" if value is None else f' data-value="{value!r}"'
    return f'<td class="num"{data}{raw}>{number(value, unit)}</td>'


def _doc_link(facts: ReportFacts, doc: str | None, text: str) -> str:
    anchor = f"#{slug(METRICS_DOC_HEADINGS[doc])}" if doc else ""
    return f'<a href="{escape(facts.metrics_doc + anchor)}">{escape(text)}</a>'


def slug(heading: str) -> str:
    """The anchor GitHub and most Markdown viewers give a heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def _legend() -> str:
    items = "".join(
        f'<span><span class="badge" style="--state:{VERDICT_COLOURS[state]}">{escape(label)}</span></span>'
        for state, label in STATE_LABELS.items()
    )
    return (
        f'<p class="legend">{items}<br><span class="quiet">Sparklines: the last 90 days, the grey band the '
        "expected range the anomaly detection learnt from each series' own history; red dots are anomalies.</span></p>"
    )


def _headline(facts: ReportFacts) -> str:
    if not facts.has_data:
        return (
            '<h2>Headline</h2><p class="notice" id="no-data">There is no data yet for '
            f"{facts.as_of.isoformat()}: the marts hold no value for that day. Run <code>kpiwatch run</code> "
            "(or <code>kpiwatch backfill</code>) first; the report reads what the runs built.</p>"
        )
    return '<h2>Headline</h2>\n<div class="cards">' + "".join(_card(facts, k) for k in facts.kpis) + "</div>"


def _card(facts: ReportFacts, fact: KpiFact) -> str:
    kpi, colour = fact.kpi, VERDICT_COLOURS[fact.state]
    raw = "" if fact.value is None else f' data-value="{fact.value!r}"'
    change = fact.change
    versus = "the previous month's end" if kpi.compare == "month" else "7 days before"
    if kpi.series == "conversion":
        versus = "the signup week before"
    if change is not None:
        moved = f"{change * 100:+.1f}% against {versus} ({number(fact.previous, kpi.unit)})"
    else:
        moved = f"no value {versus} to compare with"
    badge = f'<span class="badge">{STATE_LABELS[fact.state]}</span>'
    detail = ""
    verdict = fact.verdict
    if verdict is not None and verdict.ready and verdict.lower is not None and fact.state != "withheld":
        detail = (
            f'<div class="change">expected {number(verdict.expected * kpi.factor, kpi.unit)}, band '
            f"{number(verdict.lower * kpi.factor, kpi.unit)} .. {number(verdict.upper * kpi.factor, kpi.unit)}</div>"
        )
    if fact.state == "withheld":
        detail = (
            f'<div class="change">withheld: built from {escape(facts.withheld.get(_metric(kpi), "bad data"))}</div>'
        )
    spark = sparkline(fact.history, fact.state, f"{kpi.label}, last 90 days")
    return (
        f'<div class="card" data-card="{kpi.key}" data-state="{fact.state}" style="--state:{colour}">'
        f'<div class="label">{escape(kpi.label)} {badge}</div>'
        f'<div class="value" data-kpi="{kpi.key}"{raw}>{number(fact.value, kpi.unit)}</div>'
        f'<div class="change">{moved}</div>{detail}{spark}'
        f'<div class="def">{escape(kpi.definition)} {_doc_link(facts, kpi.doc, "Definition")}</div></div>'
    )


def _metric(kpi) -> str:
    return series_metric(kpi.series)


def _economics(facts: ReportFacts) -> str:
    if "unit_economics" in facts.withheld:
        return _withheld(facts, "unit_economics", "Unit economics")
    if not facts.economics:
        return ""
    rows = []
    for column, label, unit, value, previous, definition in facts.economics:
        rows.append(
            f"<tr><td>{escape(label)}</td>{_cell(value, unit, economics=column)}{_cell(previous, unit)}"
            f'<td class="quiet">{escape(definition)}</td></tr>'
        )
    month = facts.economics_month.strftime("%B %Y") if facts.economics_month else ""
    return (
        f"<h2>Unit economics of {month} (the last complete month)</h2>"
        f'<p class="quiet">{_doc_link(facts, "economics", "How each is defined")}</p>'
        '<table><tr><th>metric</th><th class="num">value</th><th class="num">the month before</th><th>what it is</th>'
        "</tr>" + "".join(rows) + "</table>"
    )


def _withheld(facts: ReportFacts, metric: str, title: str) -> str:
    """The section of a withheld metric: why it is not shown."""
    return (
        f'<h2>{escape(title)}</h2><p class="notice" data-withheld-section="{metric}">Not shown: {metric} was '
        f"withheld, built from data that failed {escape(facts.withheld[metric])}.</p>"
    )


def _bridge(facts: ReportFacts) -> str:
    if "mrr" in facts.withheld:
        return _withheld(facts, "mrr", "MRR bridge and MRR by segment")
    if not facts.bridge:
        return ""
    head = "".join(
        f'<th class="num">{h}</th>'
        for h in ("new", "expansion", "reactivation", "contraction", "churn", "net new", "MRR at month end")
    )
    rows = []
    for m in facts.bridge:
        cells = "".join(
            _cell(m[k], "usd", month=m["month"].isoformat(), movement=k)
            for k in ("new", "expansion", "reactivation", "contraction", "churn", "net_new")
        )
        mrr = _cell(m["mrr"], "usd", month=m["month"].isoformat(), movement="mrr")
        rows.append(f"<tr><td>{escape(m['label'])}</td>{cells}{mrr}</tr>")
    return (
        "<h2>MRR bridge, last 12 months</h2>"
        + bridge_chart(facts.bridge)
        + f"<table><tr><th>month</th>{head}</tr>"
        + "".join(rows)
        + '</table><p class="quiet">* the running month, to the evaluation date. Movements are signed: '
        f"contraction and churn are negative. {_doc_link(facts, 'mrr', 'Definitions')}</p>"
    )


def _segments(facts: ReportFacts) -> str:
    if not facts.segments:
        return ""
    tables = []
    for dimension, rows in sorted(facts.segments.items()):
        body = "".join(
            f"<tr><td>{escape(segment)}</td>{_cell(mrr, 'usd', dimension=dimension, segment=segment)}"
            f"{_cell(change, 'usd')}</tr>"
            for segment, mrr, change in rows
        )
        tables.append(
            f'<div><table><tr><th>{escape(dimension)}</th><th class="num">MRR</th>'
            f'<th class="num">change this month</th></tr>{body}</table></div>'
        )
    return (
        '<h2>MRR by segment</h2><p class="quiet">At the evaluation date\'s end, and its change since the last '
        f"month end; the largest segments, the rest as other. {_doc_link(facts, 'segments', 'Definitions')}</p>"
        '<div class="segments">' + "".join(tables) + "</div>"
    )


CHANGE_TITLES = {
    "mrr": "MRR this month so far, against the last month end",
    "active_users": "DAU of the day, against the same weekday a week before",
}


def _changes(facts: ReportFacts) -> str:
    """Where the latest changes came from, by segment: the attribution the contribution gauges publish."""
    if not facts.changes:
        return ""
    parts = ["<h2>Where the latest changes came from</h2>"]
    for explanation in facts.changes:
        unit = "usd" if explanation.metric == "mrr" else "count"
        leader = explanation.leader()
        where = (
            f" Most concentrated in {escape(leader.dimension)} = {escape(leader.segment)} "
            f"({number(leader.value, unit)})."
            if leader is not None
            else ""
        )
        rows = "".join(
            f"<tr><td>{escape(c.dimension)}</td><td>{rank}</td><td>{escape(c.segment)}</td>"
            f"{_cell(c.value, unit, change=explanation.metric, dimension=c.dimension, segment=c.segment)}"
            f"{_cell(c.share_of_change, 'percent')}</tr>"
            for rank, c in top_contributions(explanation)
        )
        parts.append(
            f"<p><b>{escape(CHANGE_TITLES.get(explanation.metric, explanation.metric))}</b>: "
            f"{number(explanation.before, unit)} to {number(explanation.after, unit)} "
            f"({number(explanation.change, unit)}).{where}</p>"
            '<table><tr><th>dimension</th><th>rank</th><th>segment</th><th class="num">contribution</th>'
            f'<th class="num">share of the change</th></tr>{rows}</table>'
        )
    parts.append(f'<p class="quiet">`kpiwatch explain` gives every segment. {_doc_link(facts, "segments", "How")}</p>')
    return "".join(parts)


def _quality(facts: ReportFacts) -> str:
    parts = ["<h2>Data quality</h2>"]
    if facts.withheld:
        items = "".join(
            f'<li data-withheld="{escape(metric)}"><b>{escape(metric)}</b>: not published, built from data that '
            f"failed {escape(reasons)}; its marts keep their last values.</li>"
            for metric, reasons in sorted(facts.withheld.items())
        )
        parts.append(f'<div class="notice"><b>Withheld metrics</b><ul>{items}</ul></div>')
    if not facts.checks:
        parts.append(f'<p class="quiet">No run of {facts.as_of.isoformat()} has checked the data yet.</p>')
        return "".join(parts)
    failed = sum(1 for c in facts.checks if not c.passed)
    parts.append(
        f'<p class="quiet">{len(facts.checks)} checks in run {escape(str(facts.checks_run))}, {failed} failed; '
        "failures first.</p>"
    )
    rows = []
    for check in facts.checks:
        css = "" if check.passed else (' class="failed"' if check.severity == "error" else ' class="warned"')
        result = "passed" if check.passed else "FAILED"
        rows.append(
            f'<tr{css} data-check="{escape(check.asset)}:{escape(check.check)}"><td>{escape(check.asset)}</td>'
            f"<td>{escape(check.check)}</td><td>{check.severity}</td><td>{result}</td>"
            f"{_cell(check.failed_rows, 'count')}<td>{escape(_details(check.metadata))}</td></tr>"
        )
    parts.append(
        '<table><tr><th>asset</th><th>check</th><th>severity</th><th>result</th><th class="num">failed rows</th>'
        "<th>details</th></tr>" + "".join(rows) + "</table>"
    )
    return "".join(parts)


def _details(metadata: dict[str, Any]) -> str:
    """The check's facts in one line: short scalar metadata (no SQL, no long lists)."""
    shown = []
    for key, value in metadata.items():
        if key in ("unique_id", "invocation_id", "status") or key.startswith("dagster"):
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        text = str(value)
        if isinstance(value, dict | list) or len(text) > 80:
            continue
        shown.append(f"{key}={text}")
    return ", ".join(shown[:6])


def _alerts(facts: ReportFacts) -> str:
    if facts.alerts is None:
        return (
            f'<h2>Active alerts</h2><p class="notice" id="alerts-unreachable">Alertmanager at '
            f"{escape(facts.alertmanager_url)} could not be asked for alerts when this report was built: "
            f"{escape(facts.alerts_error)}</p>"
        )
    if not facts.alerts:
        return (
            f'<h2>Active alerts</h2><p id="alerts-none">None: Alertmanager at {escape(facts.alertmanager_url)} '
            "holds no active alert.</p>"
        )
    rows = []
    for alert in facts.alerts:
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
        rows.append(
            f'<tr data-alert="{escape(labels.get("alertname", ""))}"><td>{escape(labels.get("alertname", ""))}</td>'
            f"<td>{escape(labels.get('severity', ''))}</td><td>{escape(str(alert.get('startsAt', ''))[:19])}</td>"
            f'<td>{escape(notes.get("summary", ""))}<br><span class="quiet">{escape(notes.get("where", where))}'
            "</span></td></tr>"
        )
    return (
        "<h2>Active alerts</h2><table><tr><th>alert</th><th>severity</th><th>since (UTC)</th><th>what</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _runs(facts: ReportFacts) -> str:
    if not facts.runs:
        return '<h2>Last runs</h2><p class="quiet">No run yet.</p>'
    rows = "".join(
        f'<tr data-run="{escape(r.run_id)}"><td>{escape(r.run_id[:8])}</td><td>{escape(r.as_of)}</td>'
        f"<td>{escape(r.status)}</td><td>{_when(r.started)}</td>{_cell(r.seconds, 'plain')}</tr>"
        for r in facts.runs
    )
    return (
        "<h2>Last runs</h2><table><tr><th>run</th><th>evaluation date</th><th>status</th><th>started (UTC)</th>"
        f'<th class="num">seconds</th></tr>{rows}</table>'
    )


def _when(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
