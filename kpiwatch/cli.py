"""The `kpiwatch` command. Errors a user can fix print as one clear message, never a traceback.

Each command imports what it needs when it runs (Dagster, dbt's manifest, GX): `kpiwatch stack status`
should not pay seconds of imports for a job it does not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kpiwatch.bulk_imports import bulk_imports
from kpiwatch.errors import ConfigError, KpiwatchError, RunError
from kpiwatch.prestart import prestarted_for_day
from kpiwatch.quality.config import load_checks_config
from kpiwatch.run_workers import Prestarted
from kpiwatch.semantic_layer import GRAINS
from kpiwatch.settings import Settings, duckdb_file, load_settings, parse_date, today_utc
from kpiwatch.stack import Stack, StackSettings, active_alerts, where_to_look

DAGSTER_UI_HINT = "Dagster UI (lineage, checks, runs): kpiwatch ui  ->  http://127.0.0.1:3000"


def _settings() -> Settings:
    settings = load_settings()
    if settings.unknown_variables:
        unknown = ", ".join(settings.unknown_variables)
        if settings.log_format == "json":
            from kpiwatch.json_logs import json_line

            line = json_line("warning", "unknown_variables", f"ignoring unknown variables: {unknown}", step="cli")
            print(line, file=sys.stderr)
        else:
            print(f"kpiwatch: warning: ignoring unknown variables: {unknown}", file=sys.stderr)
    return settings


def _generate(args: argparse.Namespace) -> int:
    from kpiwatch.sample.generate import GenerateOptions, generate
    from kpiwatch.sample.planted import KINDS, parse_anomaly

    settings = _settings()
    options = GenerateOptions(
        out=duckdb_file(Path(args.out).resolve(), "--out") if args.out else settings.duckdb_path,
        as_of=parse_date(args.as_of, "--as-of") if args.as_of else settings.as_of,
        users=args.users,
        days=args.days,
        seed=args.seed,
        force=args.force,
        anomalies=tuple(parse_anomaly(text) for text in args.anomaly or ()),
        shape=args.shape,
    )
    if args.inject and args.shape != "contract":
        raise KpiwatchError("--inject breaks the contract tables: use it without --shape (or --shape contract).")
    counts = generate(options, progress=sys.stderr.isatty() or args.progress)
    summary = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    print(f"Wrote {options.out} as of {options.as_of}: {summary}.")
    if args.inject:
        from kpiwatch.sample.faults import INJECTABLE, inject

        inject(options.out, args.inject)
        for name in args.inject:
            fault = INJECTABLE[name]
            print(f"Injected {name}: {fault.description} (raised by {fault.caught_by} on raw.{fault.table}).")
    for anomaly in options.anomalies:
        print(f"Planted {anomaly}: {KINDS[anomaly.kind]}.")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = _settings()
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else settings.as_of
    _refuse_future(as_of, "--as-of" if args.as_of else "KPIWATCH_AS_OF")
    load_checks_config(
        settings.checks_config, settings.seeds_dir
    )  # a broken checks file stops here, before any worker starts
    # First of all: GX's and dbt's imports start in their own interpreters while Dagster's runs here.
    with prestarted_for_day(settings, as_of) as prestarted:
        return _run_with(args, settings, as_of, prestarted)


def _run_with(args: argparse.Namespace, settings: Settings, as_of: dt.date, prestarted: Prestarted) -> int:
    with bulk_imports():  # Dagster and the definitions: collected neither during nor after the import
        from kpiwatch.hosting.launch import run_once
        from kpiwatch.warehouse import DuckDBWarehouse
        from orchestration.run_timings import process_start_time

    say = _lines(settings)
    warehouse = DuckDBWarehouse(settings.duckdb_path, memory_limit=settings.duckdb_memory_limit)
    if settings.target == "dev" and not settings.duckdb_path.exists():
        warehouse.query("select 1")  # fails with the fix named; an existing file is opened under the run lock
    say.info(
        "run_starting",
        f"Running kpiwatch as of {as_of} on {settings.target} ({settings.duckdb_path})...",
        as_of=as_of,
        target=settings.target,
    )
    full_refresh = True if args.full_refresh else None
    report = _RunReport(settings, as_of)
    outcome = run_once(
        settings,
        as_of,
        full_refresh=full_refresh,
        prestarted=prestarted,
        process_started=process_start_time(),
        finished=report.write,
    )
    if settings.sentry_dsn:
        from kpiwatch.error_reporting import report_run

        report_run(settings, outcome, as_of)
    say.run_id = outcome.run_id
    code = _summarise(outcome, settings, as_of, say, warehouse)
    report.say(say)  # a failed run gets one too: it shows what failed
    return code


def _summarise(outcome, settings: Settings, as_of: dt.date, say: _Lines, warehouse) -> int:
    """The run's outcome in lines for a person (or JSON); the exit code."""
    from kpiwatch.analysis.headline import format_headline, headline
    from metrics.catalog import METRICS

    if not _report(outcome, settings, say):
        return 1
    for notice in outcome.notices:
        say.info("notice", f"Note: {notice}")
    if outcome.withheld:
        # A data problem a person must act on: exit 1, though everything else was published fresh.
        withheld = {part.split(" (", 1)[0] for part in outcome.withheld}
        published = [m.name for m in METRICS if m.name not in withheld]
        say.problem(
            "run_withheld",
            f"kpiwatch run {outcome.run_id} finished in {outcome.seconds:.1f} s with metrics withheld:",
            seconds=round(outcome.seconds, 3),
        )
        say.problem("published", f"  Published fresh: {', '.join(published) or 'none'}", metrics=published)
        for part in outcome.withheld:
            metric, _, reasons = part.partition(" (")
            say.problem(
                "metric_withheld",
                f"  Withheld: {metric}, built from data that failed {reasons.rstrip(')')} (error); "
                "its marts keep their last values.",
                metric=metric,
                failed=reasons.rstrip(")"),
            )
        say.problem(
            "fix_the_data", "  Fix the data and run again (kpiwatch_metric_valid is 0 for these in Prometheus)."
        )
        return 1
    say.info(
        "run_succeeded",
        f"kpiwatch run {outcome.run_id} succeeded in {outcome.seconds:.1f} s.",
        seconds=round(outcome.seconds, 3),
    )
    if settings.target == "dev":
        row = headline(warehouse, as_of)
        say.info("headline", format_headline(row, as_of), **(row or {}))
    return 0


class _Lines:
    """Where a run's lines go: text for people (KPIWATCH_LOG_FORMAT=text, the default: stdout, problems on
    stderr), or one JSON object per line (json: the same events, each with its fields, ready for Loki or ELK)."""

    def __init__(self, json_format: bool):
        self.json_format = json_format
        self.run_id: str | None = None

    def info(self, event: str, text: str, **fields) -> None:
        self._write(sys.stdout, "info", event, text, fields)

    def problem(self, event: str, text: str, **fields) -> None:
        self._write(sys.stderr, "error", event, text, fields)

    def _write(self, stream, level: str, event: str, text: str, fields: dict) -> None:
        if self.json_format:
            from kpiwatch.json_logs import json_line

            text = json_line(level, event, text.strip(), run_id=self.run_id, step="cli", **fields)
        print(text, file=stream, flush=True)


def _lines(settings: Settings) -> _Lines:
    return _Lines(settings.log_format == "json")


def _refuse_future(day: dt.date, name: str) -> None:
    """Days are UTC: east of UTC, today's local date can be tomorrow's, which has no data and no partition."""
    today = today_utc()
    if day > today:
        raise ConfigError(
            f"{name} {day} is in the future: the newest day is today in UTC, {today} (kpiwatch's days are UTC days)."
        )


def _backfill(args: argparse.Namespace) -> int:
    settings = _settings()
    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    _refuse_future(end, "--end")
    load_checks_config(settings.checks_config, settings.seeds_dir)
    from kpiwatch.hosting.launch import run_backfill  # after the arguments: a bad one is refused without Dagster

    say = _lines(settings)
    say.info(
        "backfill_starting",
        f"Backfilling the daily event models for {start}..{end} on {settings.target}...",
        start=start,
        end=end,
    )
    outcome = run_backfill(settings, start, end)
    say.run_id = outcome.run_id
    if not _report(outcome, settings, say):
        return 1
    if any(" (error): " in check for check in outcome.failed_checks):
        say.problem(
            "backfill_withheld",
            f"Backfill run {outcome.run_id}: raw.events failed an error check, so no day was re-processed; the "
            "models keep their values. Fix the data and run the backfill again.",
        )
        return 1
    say.info(
        "backfill_succeeded",
        f"Backfill run {outcome.run_id} succeeded in {outcome.seconds:.1f} s. The monthly marts and the gauges "
        "follow on the next daily run (`kpiwatch run`).",
        seconds=round(outcome.seconds, 3),
    )
    return 0


def _report(outcome, settings: Settings, say: _Lines) -> bool:
    """Say the failed checks and failures of a run; True when it succeeded."""
    if outcome.failed_checks:
        say.problem("checks_failed", "Data-quality checks that failed:", count=len(outcome.failed_checks))
        for check in outcome.failed_checks:
            say.problem("check_failed", f"  - {check}", check=check)
    if not outcome.success:
        say.problem(
            "run_failed",
            f"kpiwatch run {outcome.run_id} FAILED after {outcome.seconds:.1f} s:",
            seconds=outcome.seconds,
        )
        for failure in outcome.failures or ["the run failed; see the Dagster UI (`kpiwatch ui`) for details"]:
            say.problem("failure", f"  - {failure}", failure=failure)
        dbt_log = settings.dbt_target_dir / f"run-{outcome.run_id}" / "dbt_output.log"
        if dbt_log.exists():
            say.problem("dbt_output", f"  dbt output of this run: {dbt_log}", path=dbt_log)
        if outcome.failure_recorded:
            say.problem("failure_recorded", f"  {outcome.failure_recorded}.")
        if outcome.skipped_steps:
            data_problem = any(" (error): " in check for check in outcome.failed_checks)
            then = "fix the data and run again" if data_problem else "run again once the problem above is fixed"
            say.problem(
                "steps_not_run",
                f"  Not run, so the business metrics were not rebuilt: {', '.join(outcome.skipped_steps)}. "
                f"The marts keep their last valid values; {then}.",
                steps=outcome.skipped_steps,
            )
        return False
    return True


DEFAULT_LEDGER_ROWS = 50
MAX_LEDGER_ROWS = 100_000


class _RunReport:
    """The run's HTML report, written with the run's instance while the run still holds the warehouse; a report
    that cannot be written is said, and leaves the run's exit code alone."""

    def __init__(self, settings: Settings, as_of: dt.date):
        self.settings, self.as_of = settings, as_of
        self.path: Path | None = None
        self.error: str = ""

    def write(self, instance) -> None:
        from kpiwatch.report import write_run_report

        try:
            self.path = write_run_report(self.settings, self.as_of, instance)
        except Exception as error:  # noqa: BLE001 - the run is done and published; its report must not undo that
            self.error = str(error) or type(error).__name__

    def say(self, say: _Lines) -> None:
        if self.error:
            say.problem("report_failed", f"The report could not be written: {self.error}")
        elif self.path is not None:
            latest = self.path.with_name("latest.html")
            say.info("report", f"Report: {self.path} (latest: {latest})", path=str(self.path))


def _report_command(args: argparse.Namespace) -> int:
    """`kpiwatch report`: the HTML report of a day, from what the runs built and checked."""
    from kpiwatch.report import build_report, write_report

    settings = _settings()
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else settings.as_of
    _refuse_future(as_of, "--as-of" if args.as_of else "KPIWATCH_AS_OF")
    if args.out is not None:
        out = Path(args.out).expanduser().resolve()
        if out.suffix.lower() != ".html":
            raise ConfigError(f"--out {args.out!r} must name an .html file.")
        if out.is_dir():
            raise ConfigError(f"--out {args.out!r} is a directory; name the .html file to write.")
    elif settings.report_dir is None:
        raise ConfigError("KPIWATCH_REPORT_DIR is off: pass --out PATH.html to say where the report goes.")
    else:
        out = settings.report_dir / f"{as_of.isoformat()}.html"
    print(f"Report: {write_report(build_report(settings, as_of, out), out)}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    """`kpiwatch backtest`: the anomaly verdicts of every day of a range, as the daily runs give them."""
    from kpiwatch.analysis.backtest import run_backtest, to_csv, to_table
    from kpiwatch.semantic_layer import watched_in
    from kpiwatch.warehouse import open_warehouse
    from metrics.anomaly_config import load_anomaly_config

    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}.")
    if args.plot is not None and Path(args.plot).suffix.lower() != ".png":
        raise ConfigError(f"--plot {args.plot!r} must name a .png file.")
    settings = _settings()
    config = load_anomaly_config(settings.anomalies_config, watched_in(settings.dbt_target_dir))
    if args.metric is not None and args.metric not in config.rules:
        raise ConfigError(f"unknown series {args.metric!r} for --metric; use one of: {', '.join(config.rules)}.")
    result = run_backtest(open_warehouse(settings), config, start, end, args.metric)
    print(to_csv(result) if args.format == "csv" else to_table(result), end="")
    if args.plot:
        from kpiwatch.analysis.backtest_plot import plot_backtest

        print(f"Plot: {plot_backtest(result, Path(args.plot))}", file=sys.stderr)
    return 0


def _explain(args: argparse.Namespace) -> int:
    """`kpiwatch explain METRIC`: where a change of MRR (a month) or active users (a day) came from."""
    from kpiwatch.analysis.explain import to_csv, to_table
    from kpiwatch.semantic_layer import SEMANTIC_MANIFEST_FILE, watched_metrics
    from kpiwatch.warehouse import open_warehouse
    from metrics.attribution import EXPLAINED, NothingToExplain, explain_active_users, explain_declared, explain_mrr

    declared = {}
    if args.metric not in EXPLAINED:
        settings = _settings()
        watched = watched_metrics(settings.dbt_target_dir / SEMANTIC_MANIFEST_FILE)
        declared = {name: m.group_by for name, m in watched.items() if m.group_by}
        if args.metric not in declared:
            known = [*EXPLAINED, *declared]
            raise ConfigError(
                f"unknown metric {args.metric!r} to explain; use one of: {', '.join(known)} (a declared metric "
                "needs config.meta.kpiwatch.group_by)."
            )
    if args.format not in ("table", "csv"):
        raise ConfigError(f"--format {args.format!r} must be table or csv.")
    if args.metric in declared:
        if args.date is None or args.month is not None:
            raise ConfigError(f"explain {args.metric} takes --date YYYY-MM-DD (compared with the same weekday before).")
        day = parse_date(args.date, "--date")
        warehouse = open_warehouse(_settings())
        try:
            with warehouse.session():
                explanation = explain_declared(warehouse, args.metric, declared[args.metric], day)
        except NothingToExplain as error:
            raise KpiwatchError(f"nothing to explain: {error}.") from None
        print(to_csv(explanation) if args.format == "csv" else to_table(explanation), end="")
        return 0
    if args.metric == "mrr":
        if args.month is None or args.date is not None:
            raise ConfigError("explain mrr takes --month YYYY-MM (MRR changes from month end to month end).")
        day = _parse_month(args.month)
    else:
        if args.date is None or args.month is not None:
            raise ConfigError("explain active_users takes --date YYYY-MM-DD (compared with the same weekday before).")
        day = parse_date(args.date, "--date")
    warehouse = open_warehouse(_settings())
    try:
        with warehouse.session():
            explanation = (explain_mrr if args.metric == "mrr" else explain_active_users)(warehouse, day)
    except NothingToExplain as error:
        raise KpiwatchError(f"nothing to explain: {error}.") from None
    print(to_csv(explanation) if args.format == "csv" else to_table(explanation), end="")
    return 0


def _parse_month(text: str) -> dt.date:
    year, dash, month = text.strip().partition("-")
    try:
        if not (dash and len(year) == 4 and len(month) == 2):
            raise ValueError(text)
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ConfigError(f"--month={text!r} is not a month; use the form YYYY-MM, e.g. 2024-06.") from None


def _ledger(args: argparse.Namespace) -> int:
    """`kpiwatch ledger METRIC`: what kpiwatch published for a metric, run by run, from the warehouse."""
    from kpiwatch.warehouse import open_warehouse
    from metrics.catalog import METRICS
    from metrics.ledger import published_history

    names = [m.name for m in METRICS]
    if args.metric not in names:
        raise ConfigError(f"unknown metric {args.metric!r}; use one of: {', '.join(names)}.")
    if not args.limit.isdigit() or not 1 <= int(args.limit) <= MAX_LEDGER_ROWS:
        raise ConfigError(f"--limit {args.limit!r} must be a whole number from 1 to {MAX_LEDGER_ROWS:,}.")
    rows = published_history(open_warehouse(_settings()), args.metric, int(args.limit))
    if not rows:
        print(f"Nothing published for {args.metric} yet: run `kpiwatch run` first.")
        return 0
    header = ("published_at (UTC)", "run", "evaluation_date", "gauge", "labels", "period", "value")
    table = [
        (
            str(r["published_at"])[:19],
            str(r["run_id"])[:8],
            str(r["evaluation_date"]),
            r["gauge"],
            r["labels"] or "-",
            str(r["period"]),
            f"{float(r['value']):,.6g}" if abs(float(r["value"])) < 1e6 else f"{float(r['value']):,.2f}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _stack(args: argparse.Namespace) -> int:
    stack = Stack()
    if args.action == "down":
        stack.down()
        print("Monitoring stack stopped.")
        return 0
    if args.action == "up":
        stack.up()
    if args.action in ("up", "status"):
        for service, state in stack.status().items():
            print(f"  {service:13} {state}")
    if args.action == "where":
        print(_where(stack.settings))
    elif args.action == "up":
        print("Pages to open: kpiwatch stack where")
    return 0


def _where(settings: StackSettings) -> str:
    width = max(len(label) for label, _ in where_to_look(settings))
    lines = [f"  {label + ':':{width + 1}}  {url}" for label, url in where_to_look(settings)]
    lines += [f"  Active alerts in the terminal: kpiwatch alerts (Alertmanager {settings.url('alertmanager')})"]
    report_dir = load_settings().report_dir
    if report_dir is not None:
        lines += [f"  The report, to open in a browser: {report_dir / 'latest.html'} (kpiwatch report)"]
    lines += [f"  {DAGSTER_UI_HINT}"]
    return "Where to look:\n" + "\n".join(lines)


def _alerts(args: argparse.Namespace) -> int:
    url = args.url or StackSettings().url("alertmanager")
    if not url.startswith(("http://", "https://")):
        raise KpiwatchError(f"--url {url!r} must start with http:// or https://, e.g. http://127.0.0.1:9093.")
    alerts = active_alerts(url)
    if not alerts:
        print(f"No active alerts in Alertmanager at {url}.")
        return 0
    print(f"{len(alerts)} active alert(s) in Alertmanager at {url}:")
    for alert in alerts:
        labels = alert.get("labels", {})
        where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
        summary = alert.get("annotations", {}).get("summary", "")
        print(f"  - {labels.get('alertname')} [{labels.get('severity', 'none')}] since {alert.get('startsAt')}")
        if where:
            print(f"      {where}")
        if summary:
            print(f"      {summary}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    from kpiwatch.hosting.instance import initialize_instance
    from kpiwatch.hosting.webserver import serve_ui
    from orchestration.dbt_project import prepare_dbt_manifest

    settings = _settings()
    prepare_dbt_manifest(settings)
    initialize_instance(settings.dagster_home)
    return serve_ui(settings.dagster_home, args.host, args.port)


def _init(args: argparse.Namespace) -> int:
    from kpiwatch.project_init import init_project
    from kpiwatch.settings import KNOWN_VARIABLES

    written = init_project(Path(args.directory), KNOWN_VARIABLES)
    print(f"Wrote a kpiwatch project in {written[0].parent}:")
    for path in written:
        print(f"  {path.relative_to(written[0].parent)}")
    print(f"Next: cd {args.directory} && kpiwatch generate && kpiwatch run")
    print(f"  (or from anywhere: kpiwatch --project {args.directory} run)")
    return 0


def _sources(args: argparse.Namespace) -> int:
    """What each contract table is read from, with row counts, dates and every problem; exit 1 on an error."""
    from kpiwatch.sources_check import as_json, as_table, check_sources, has_errors

    reports = check_sources(_settings())
    print(as_json(reports) if args.format == "json" else as_table(reports))
    return 1 if has_errors(reports) else 0


def _config(args: argparse.Namespace) -> int:
    """Every setting, its value and where it came from (secrets only as set or not)."""
    from kpiwatch.project import PROJECT_DIR_VARIABLE, SECRET_SETTINGS, merged, source_of
    from kpiwatch.settings import KNOWN_VARIABLES

    settings = _settings()
    project = settings.project
    values = merged(os.environ, project)
    where = project.file or "none (no kpiwatch.yml here; `kpiwatch init DIR` writes one)"
    print(f"Project file: {where}")
    for name in sorted(KNOWN_VARIABLES):
        value = values.get(name) or ""
        if not value or name == PROJECT_DIR_VARIABLE:
            continue
        shown = "(set)" if name in SECRET_SETTINGS else value
        print(f"  {name.removeprefix('KPIWATCH_').lower()} = {shown}   [{source_of(name, os.environ, project)}]")
    print("Resolved:")
    for label, path in (
        ("warehouse", settings.duckdb_path if settings.target == "dev" else f"snowflake ({settings.target})"),
        ("checks", settings.checks_config),
        ("anomalies", settings.anomalies_config),
        ("seeds", settings.seeds_dir),
        ("metrics", settings.metrics_dir),
        ("dbt profile", settings.dbt_profiles_dir / "profiles.yml"),
        ("dbt artifacts", settings.dbt_target_dir),
        ("reports", settings.report_dir or "off"),
        ("Dagster instance", settings.dagster_home),
    ):
        print(f"  {label:17} {path}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    """`kpiwatch metrics list|query`: the metrics declared in dbt's semantic layer, and their values, computed in
    the warehouse from SQL MetricFlow compiles for it."""
    from kpiwatch.semantic_layer import GRAINS, SEMANTIC_MANIFEST_FILE, SemanticLayer
    from kpiwatch.warehouse import open_warehouse
    from orchestration.dbt_project import prepare_dbt_manifest

    settings = _settings()
    if args.action == "query":
        names = [name.strip() for name in (args.names or "").split(",") if name.strip()]
        if not names:
            raise ConfigError("metrics query needs metric names, e.g. `kpiwatch metrics query mrr,arpa`.")
        if args.grain not in GRAINS:
            raise ConfigError(f"--grain {args.grain!r} must be one of {', '.join(GRAINS)}.")
        start = parse_date(args.start, "--start") if args.start else None
        end = parse_date(args.end, "--end") if args.end else None
        if start and end and end < start:
            raise ConfigError(f"--end {end} is before --start {start}.")
    prepare_dbt_manifest(settings)
    dialect = "duckdb" if settings.target == "dev" else "snowflake"
    layer = SemanticLayer(settings.dbt_target_dir / SEMANTIC_MANIFEST_FILE, dialect)
    if args.action == "docs":
        from kpiwatch.semantic_docs import metrics_page

        page = metrics_page(settings.dbt_target_dir / SEMANTIC_MANIFEST_FILE)
        if args.out:
            try:
                Path(args.out).write_text(page)
            except OSError as error:
                raise ConfigError(f"--out {args.out!r} cannot be written ({error.strerror}).") from None
            print(f"Wrote {args.out}.")
        else:
            print(page, end="")
        return 0
    if args.action == "list":
        declared = layer.metrics()
        width = max(len(metric.name) for metric in declared)
        for metric in declared:
            print(f"{metric.name:{width}}  {metric.type:10}  {metric.label}: {metric.description}".rstrip(": "))
        return 0
    known = {metric.name for metric in layer.metrics()}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; `kpiwatch metrics list` shows the declared ones.")
    rows = open_warehouse(settings).query(layer.sql(names, args.grain, start, end))
    columns = [f"metric_time__{args.grain}", *names]
    if args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([args.grain, *names])
        writer.writerows([[_cell(row.get(column)) for column in columns] for row in rows])
        return 0
    table = [[args.grain, *names], *([_cell(row.get(column)) for column in columns] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(
            "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    return 0


def _cell(value: object) -> str:
    """A value as the table shows it: dates as days, numbers without float noise, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return str(value)[:10]
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.2f}"
    return str(value)


def _fault_names() -> list[str]:
    from kpiwatch.sample.faults import INJECTABLE

    return list(INJECTABLE)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpiwatch", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="the project directory holding kpiwatch.yml (default: KPIWATCH_PROJECT_DIR, else the current "
        "directory when it holds one)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a small, commented kpiwatch project (kpiwatch.yml, checks, seeds) in DIR")
    init.add_argument("directory", metavar="DIR")
    init.set_defaults(func=_init)

    config = sub.add_parser("config", help="print every setting in use and where it came from")
    config.set_defaults(func=_config)

    sources = sub.add_parser("sources", help="check what each contract table is read from (docs/sources.md)")
    sources.add_argument("action", choices=("check",), help="check: adapters, row counts, dates and problems")
    sources.add_argument("--format", choices=("table", "json"), default="table", help="output (default: table)")
    sources.set_defaults(func=_sources)

    gen = sub.add_parser("generate", help="write deterministic sample SaaS data into the raw contract")
    gen.add_argument("--out", help="DuckDB file (default: KPIWATCH_DUCKDB_PATH or data/kpiwatch.duckdb)")
    gen.add_argument("--users", type=int, default=5000, help="number of signups (default 5000)")
    gen.add_argument("--days", type=int, default=365, help="days of history ending on --as-of (default 365)")
    gen.add_argument("--seed", type=int, default=42, help="random seed; same seed, same data (default 42)")
    gen.add_argument("--as-of", help="last day of data, YYYY-MM-DD (default: KPIWATCH_AS_OF or today)")
    gen.add_argument("--force", action="store_true", help="replace existing raw tables in the file")
    gen.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    gen.add_argument(
        "--shape",
        default="contract",
        help="contract (default), or a connector's own shape for the source adapters (docs/sources.md): "
        "stripe_fivetran or stripe_airbyte writes subscriptions as that connector's Stripe schema `stripe`; "
        "segment, rudderstack and snowplow write events (and users) as the tracker's tables; one of each combines, "
        "comma-separated: stripe_fivetran,segment",
    )
    gen.add_argument(
        "--inject",
        action="append",
        metavar="FAULT",
        choices=sorted(_fault_names()),
        help="break the data on purpose to see a check fail (repeatable): %(choices)s",
    )
    gen.add_argument(
        "--anomaly",
        action="append",
        metavar="KIND@DATE",
        help="plant a business anomaly from DATE on (repeatable); KIND: activity_drop, churn_wave, spend_spike, "
        "feature_dark, conversion_stop",
    )
    gen.set_defaults(func=_generate)

    run = sub.add_parser("run", help="materialise every asset once through Dagster and print headline metrics")
    run.add_argument("--as-of", help="evaluation date YYYY-MM-DD (default: KPIWATCH_AS_OF or today)")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental event models from all history (automatic on the first run)",
    )
    run.set_defaults(func=_run)

    backfill = sub.add_parser("backfill", help="re-process a range of days of the daily event models in one run")
    backfill.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    backfill.set_defaults(func=_backfill)

    stack = sub.add_parser("stack", help="run the local Prometheus, Pushgateway and Alertmanager on 127.0.0.1")
    stack.add_argument("action", choices=["up", "down", "status", "where"])
    stack.set_defaults(func=_stack)

    alerts = sub.add_parser("alerts", help="list the alerts Alertmanager holds now")
    alerts.add_argument("--url", help="Alertmanager base URL (default: the local stack's, http://127.0.0.1:9093)")
    alerts.set_defaults(func=_alerts)

    ledger = sub.add_parser("ledger", help="print the values published for a metric, newest first")
    ledger.add_argument(
        "metric", help="mrr, unit_economics, cac, active_users, retention, conversion or feature_adoption"
    )
    ledger.add_argument("--limit", default=str(DEFAULT_LEDGER_ROWS), help=f"rows (default {DEFAULT_LEDGER_ROWS})")
    ledger.set_defaults(func=_ledger)

    backtest = sub.add_parser(
        "backtest", help="the anomaly verdicts of every day of a range, as the daily runs give them (no Prometheus)"
    )
    backtest.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    backtest.add_argument("--end", required=True, help="last day, YYYY-MM-DD")
    backtest.add_argument("--metric", help="one series (dau, mrr, ...; default: all)")
    backtest.add_argument("--format", choices=("table", "csv"), default="table", help="output (default: table)")
    backtest.add_argument("--plot", help="also draw value, band and firings per series into this PNG")
    backtest.set_defaults(func=_backtest)

    explain = sub.add_parser(
        "explain", help="where a change of MRR (a month) or active users (a day) came from, by movement and segment"
    )
    explain.add_argument("metric", help="mrr or active_users")
    explain.add_argument("--month", help="for mrr: the month, YYYY-MM, against the month before")
    explain.add_argument("--date", help="for active_users: the day, YYYY-MM-DD, against the same weekday before")
    explain.add_argument("--format", default="table", help="table (default) or csv")
    explain.set_defaults(func=_explain)

    report = sub.add_parser("report", help="write the HTML report of a day: KPIs and verdicts, bridge, checks, alerts")
    report.add_argument("--as-of", help="evaluation date YYYY-MM-DD (default: KPIWATCH_AS_OF or today, UTC)")
    report.add_argument("--out", help="the .html file to write (default: KPIWATCH_REPORT_DIR/YYYY-MM-DD.html)")
    report.set_defaults(func=_report_command)

    declared = sub.add_parser("metrics", help="the metrics declared in dbt's semantic layer, and their values")
    declared.add_argument(
        "action", choices=("list", "query", "docs"), help="list the declared metrics, query values, or document them"
    )
    declared.add_argument("names", nargs="?", help="for query: metric names, comma-separated (e.g. mrr,arpa)")
    declared.add_argument("--grain", default="day", help=f"for query: one row per {' | '.join(GRAINS)} (default: day)")
    declared.add_argument("--start", help="for query: first day, YYYY-MM-DD (default: the first with data)")
    declared.add_argument("--end", help="for query: last day, YYYY-MM-DD (default: the last with data)")
    declared.add_argument("--format", choices=("table", "csv"), default="table", help="output (default: table)")
    declared.add_argument("--out", help="for docs: the Markdown file to write (default: print it)")
    declared.set_defaults(func=_metrics)

    ui = sub.add_parser("ui", help="open the Dagster UI (dagster dev) on the same instance as `kpiwatch run`")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)
    return parser


def use_project(named: str | None) -> None:
    """Fix the project directory for this process and every process it starts (a code server, the dbt worker,
    `dagster dev`), whatever their working directory: --project, else KPIWATCH_PROJECT_DIR, else this directory
    when it holds a kpiwatch.yml."""
    from kpiwatch.project import PROJECT_DIR_VARIABLE, find_project_dir

    if named is not None:
        if not named.strip():
            raise ConfigError("--project needs a directory, e.g. --project ./analytics/kpiwatch.")
        os.environ[PROJECT_DIR_VARIABLE] = named
    directory = find_project_dir(os.environ)
    if directory is not None:
        os.environ[PROJECT_DIR_VARIABLE] = str(directory)


def _error_line(error: Exception) -> None:
    """The one line a refusal or a failure prints: as JSON when KPIWATCH_LOG_FORMAT=json asks for it."""
    if (os.environ.get("KPIWATCH_LOG_FORMAT") or "").strip().lower() == "json":
        from kpiwatch.json_logs import json_line

        print(json_line("error", "refused", str(error), step="cli"), file=sys.stderr)
    else:
        print(f"kpiwatch: {error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        use_project(args.project)
        return args.func(args)
    except RunError as error:
        _error_line(error)
        return 1
    except KpiwatchError as error:
        _error_line(error)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug, not bad input: to Sentry when configured, then the traceback as ever
        if os.environ.get("KPIWATCH_SENTRY_DSN"):
            from kpiwatch.error_reporting import report_exception

            report_exception(error, args.command, os.environ)
        raise
    finally:
        # A run leaves millions of objects (Dagster, dbt, GX); the interpreter's final collection of them
        # took 2 s of every `kpiwatch run`. Nothing is left to collect at exit: skip it.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
