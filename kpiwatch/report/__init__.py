"""`kpiwatch report`: one self-contained HTML page with the business numbers and the verdicts on them, the
MRR bridge, the data quality, the active alerts and the last runs (kpiwatch/report/facts.py gathers them from the
gauges' own sources, html.py lays them out). Every `kpiwatch run` writes the one of its evaluation date."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kpiwatch.paths import DOCS_DIR
from kpiwatch.semantic_layer import SEMANTIC_MANIFEST_FILE, watched_metrics
from kpiwatch.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

LATEST = "latest.html"


def build_report(settings: Settings, as_of: dt.date, out: Path, instance: DagsterInstance | None = None) -> str:
    """The report of `as_of` as HTML, its link to docs/metrics.md made relative to where it will be written;
    `instance`: the run's own, when a run writes it (else the one under DAGSTER_HOME is opened)."""
    from kpiwatch.report.facts import ReportFacts, alert_facts, business_facts, run_facts
    from kpiwatch.report.html import render
    from kpiwatch.warehouse import open_warehouse
    from metrics.anomaly_config import load_anomaly_config

    declared = watched_metrics(settings.dbt_target_dir / SEMANTIC_MANIFEST_FILE)
    facts = ReportFacts(as_of=as_of, generated_at=dt.datetime.now(dt.UTC), target=settings.target)
    facts.metrics_doc = Path(os.path.relpath(DOCS_DIR / "metrics.md", out.parent)).as_posix()
    run_facts(facts, settings.dagster_home, instance)  # first: the withheld metrics decide which values are shown
    business_facts(
        facts,
        open_warehouse(settings),
        load_anomaly_config(settings.anomalies_config, list(declared)),
        settings.segment_top_n,
        facts.withheld.keys(),
        declared.values(),
    )
    alert_facts(facts, settings.alertmanager_url)
    return render(facts)


def write_report(html: str, path: Path) -> Path:
    """Write atomically: a reader (or a browser reloading) never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(html, encoding="utf-8")
    os.replace(staged, path)
    return path


def write_run_report(settings: Settings, as_of: dt.date, instance: DagsterInstance | None = None) -> Path | None:
    """The report of a run's evaluation date as <report dir>/YYYY-MM-DD.html and latest.html; None when
    KPIWATCH_REPORT_DIR=off."""
    if settings.report_dir is None:
        return None
    path = settings.report_dir / f"{as_of.isoformat()}.html"
    html = build_report(settings, as_of, path, instance)
    write_report(html, path)
    write_report(html, settings.report_dir / LATEST)
    return path
