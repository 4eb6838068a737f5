"""The HTML report through the real CLI: its numbers are the marts' (the hand-worked segment company), it opens in
headless Chromium without a console error or a network request, a run with a failed error check shows that check
first and marks the withheld metrics, an empty company says there is no data yet, and bad arguments get one line."""

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kpiwatch.report.facts import METRICS_DOC_HEADINGS
from kpiwatch.report.html import slug
from kpiwatch.sample.generate import GenerateOptions, generate
from tests.conftest import rows, write_raw_warehouse
from tests.fixtures import segment_world
from tests.monitoring_helpers import free_port

KPIWATCH = str(Path(sys.executable).with_name("kpiwatch"))
REPO = Path(__file__).resolve().parents[1]


class Page(HTMLParser):
    """Every element with data-* attributes, and the text of the page."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[dict[str, str]] = []
        self.text: list[str] = []
        self.sources: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if any(k.startswith("data-") for k in attributes):
            self.elements.append({"tag": tag, **{k: v or "" for k, v in attributes.items()}})
        self.sources += [v for k, v in attrs if k in ("src", "href") and v]
        if tag in ("script", "link", "img", "iframe"):
            self.sources.append(f"<{tag}>")

    def handle_data(self, data):
        self.text.append(data)

    def find(self, **attributes: str) -> list[dict[str, str]]:
        wanted = {f"data-{k}": v for k, v in attributes.items()}
        return [e for e in self.elements if all(e.get(k) == v for k, v in wanted.items())]

    def value(self, **attributes: str) -> float:
        (element,) = [e for e in self.find(**attributes) if "data-value" in e]
        return float(element["data-value"])


def report_env(db: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    return {
        **env,
        "KPIWATCH_DUCKDB_PATH": str(db),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "KPIWATCH_REPORT_DIR": str(tmp_path / "reports"),
        "KPIWATCH_ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: said in the page
        **extra,
    }


def report(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KPIWATCH, "report", *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def segment_db(segment_world_db):
    return segment_world_db


@pytest.mark.slow
def test_the_report_of_the_hand_worked_company_shows_the_marts_numbers(segment_db, tmp_path):
    out = tmp_path / "out" / "march.html"
    done = report(report_env(segment_db, tmp_path), "--as-of", segment_world.AS_OF, "--out", str(out))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == f"Report: {out}\n"
    page = Page(out.read_text())

    # Worked by hand (tests/fixtures/segment_world.py): 969 USD on 2024-03-10, January 1,469, February's drop.
    assert page.value(kpi="mrr") == pytest.approx(969)
    assert page.value(kpi="arr") == pytest.approx(12 * 969)
    bridge = {
        (e["data-month"], e["data-movement"]): float(e["data-value"]) for e in page.find() if "data-movement" in e
    }
    assert bridge[("2024-02-01", "churn")] == pytest.approx(-600)
    assert bridge[("2024-02-01", "new")] == pytest.approx(50)
    assert bridge[("2024-02-01", "expansion")] == pytest.approx(50)
    assert bridge[("2024-02-01", "net_new")] == pytest.approx(-500)
    assert bridge[("2024-01-01", "expansion")] == pytest.approx(39)
    assert bridge[("2024-01-01", "mrr")] == pytest.approx(1469)
    segments = {
        (e["data-dimension"], e["data-segment"]): float(e["data-value"])
        for e in page.find()
        if "data-segment" in e and "data-change" not in e and "data-value" in e
    }
    assert segments[("country", "US")] == pytest.approx(889)  # 100 + 250 + 350 + 139 + 50
    assert segments[("country", "FR")] == pytest.approx(80)

    # And every bridge cell is its mart's, month by month, the 12 months up to March 2024.
    marts = rows(
        segment_db,
        "select month, new_mrr_usd, expansion_mrr_usd, reactivation_mrr_usd, contraction_mrr_usd, churned_mrr_usd, "
        "net_new_mrr_usd, mrr_usd from marts.fct_mrr_monthly where month between '2023-04-01' and '2024-03-01'",
    )
    assert len(marts) == 12
    for row in marts:
        month = row["month"].isoformat()
        for movement, column in (("new", "new_mrr_usd"), ("churn", "churned_mrr_usd"), ("mrr", "mrr_usd"),
                                 ("contraction", "contraction_mrr_usd"), ("net_new", "net_new_mrr_usd")):  # fmt: skip
            assert bridge[(month, movement)] == pytest.approx(float(row[column])), (month, movement)
    economics = rows(segment_db, "select * from marts.fct_unit_economics_monthly where month = '2024-02-01'")[0]
    assert page.value(economics="arpa_usd") == pytest.approx(float(economics["arpa_usd"]))

    # February's drop as of its last day: the same attribution `kpiwatch explain` and the gauges give.
    february = tmp_path / "out" / "february.html"
    assert report(report_env(segment_db, tmp_path), "--as-of", "2024-02-29", "--out", str(february)).returncode == 0
    changes = {(e["data-dimension"], e["data-segment"]): float(e["data-value"])
               for e in Page(february.read_text()).find(change="mrr")}  # fmt: skip
    assert changes[("country", "DE")] == pytest.approx(-600)
    assert changes[("plan", "scale")] == pytest.approx(-600)
    assert "Most concentrated in country = DE (-$600.00)" in february.read_text()

    text = " ".join(page.text)
    assert "could not be asked for alerts" in text  # Alertmanager does not answer: said, not hidden
    assert "No run yet." in text and "has checked the data yet" in text
    assert [s for s in page.sources if not s.startswith(("#", "../", "docs/"))] == []  # nothing to fetch


def test_every_definition_link_points_at_a_heading_of_docs_metrics():
    headings = {slug(line.lstrip("#").strip()) for line in (REPO / "docs/metrics.md").read_text().splitlines()
                if line.startswith("#")}  # fmt: skip
    assert {slug(h) for h in METRICS_DOC_HEADINGS.values()} <= headings


def chromium_open(html: Path, work: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """Open the file in headless Chromium: its console output and every URL it requested (Chromium's net log)."""
    net_log = work / "net-log.json"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={work / 'profile'}", "--enable-logging=stderr", "--v=0",
             f"--log-net-log={net_log}", "--window-size=1200,2400"]  # fmt: skip
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run(
        [shutil.which("chromium"), *flags, *action, html.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    requested = []
    for event in json.loads(net_log.read_text()).get("events", []):
        url = (event.get("params") or {}).get("url")
        if isinstance(url, str):
            requested.append(url)
    return done.stderr, requested


CHROMIUM_SERVICES = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")


def chromium_service(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith(("file:", "data:", "about:", "chrome:")) or host.endswith(CHROMIUM_SERVICES)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium (scripts/test.sh installs it)")
def test_the_report_opens_in_chromium_without_errors_or_requests(segment_db, tmp_path):
    out = tmp_path / "report.html"
    assert report(report_env(segment_db, tmp_path), "--as-of", segment_world.AS_OF, "--out", str(out)).returncode == 0
    console, requested = chromium_open(out, tmp_path, screenshot=tmp_path / "report.png")
    assert "CONSOLE" not in console and "Uncaught" not in console, console[-2000:]
    # The page's CSP makes the browser block and log any fetch (seen in `console`); the net log must hold no
    # request but Chromium's own calls home, which it makes whatever page it opens.
    assert [u for u in requested if not chromium_service(u)] == []
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Printed, as finance mails it: A4 pages (595 x 842 points).
    pdf = tmp_path / "report.pdf"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={tmp_path / 'print'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}"]  # fmt: skip
    subprocess.run([shutil.which("chromium"), *flags, out.as_uri()], capture_output=True, timeout=120, check=True)
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes()))
    assert boxes and all(round(float(w)) == 595 and round(float(h)) == 842 for w, h in boxes), boxes


@pytest.mark.slow
def test_a_run_with_a_failed_error_check_shows_it_first_and_marks_withheld_metrics(tmp_path, cli_env):
    db = tmp_path / "w.duckdb"
    as_of = dt.date(2024, 3, 31)
    generate(GenerateOptions(out=db, as_of=as_of, users=200, days=60, seed=3), progress=False, log=lambda _: None)
    from kpiwatch.sample.faults import inject

    inject(db, ["duplicate_event_id"])
    env = {**cli_env(db, tmp_path / "home"), "KPIWATCH_REPORT_DIR": str(tmp_path / "reports")}
    env["KPIWATCH_ALERTMANAGER_URL"] = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([KPIWATCH, "run", "--as-of", str(as_of)], env=env, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr[-2000:]
    path = tmp_path / "reports" / f"{as_of}.html"
    assert f"Report: {path} (latest: {path.with_name('latest.html')})" in done.stdout
    assert (tmp_path / "reports" / "latest.html").read_text() == path.read_text()
    page = Page(path.read_text())
    checks = [e for e in page.elements if "data-check" in e]
    assert checks[0]["data-check"] == "raw/events:unique_event_id"  # the failed error check comes first
    assert checks[0]["class"] == "failed" and all("class" not in c for c in checks[1:] if "unique" in c["data-check"])
    said = sorted(
        line.split("Withheld: ", 1)[1].split(",", 1)[0] for line in done.stderr.splitlines() if "Withheld: " in line
    )
    assert "active_users" in said  # built from raw.events
    assert [e["data-withheld"] for e in page.find() if "data-withheld" in e] == said
    (dau_card,) = page.find(card="dau")
    assert dau_card["data-state"] == "withheld"
    (dau,) = page.find(kpi="dau")
    assert "data-value" not in dau  # not shown: its marts keep last run's values
    assert page.value(kpi="mrr") > 0  # MRR was published fresh: shown with its verdict
    runs = [e for e in page.elements if "data-run" in e]
    assert len(runs) == 1


def test_an_empty_company_says_there_is_no_data_yet(tmp_path):
    db = write_raw_warehouse(tmp_path / "empty.duckdb", {})
    out = tmp_path / "empty.html"
    done = report(report_env(db, tmp_path), "--as-of", "2024-03-31", "--out", str(out))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    text = " ".join(Page(out.read_text()).text)
    assert "There is no data yet for 2024-03-31" in text and "No run yet." in text


@pytest.mark.parametrize(
    ("args", "variables", "message"),
    [
        (["--out", "report.txt"], {}, "kpiwatch: --out 'report.txt' must name an .html file.\n"),
        (["--as-of", "31/03/2024"], {}, "kpiwatch: --as-of='31/03/2024' is not a date; use the form YYYY-MM-DD, "
         "e.g. 2024-06-30.\n"),
        ([], {"KPIWATCH_REPORT_DIR": "off"}, "kpiwatch: KPIWATCH_REPORT_DIR is off: pass --out PATH.html to say "
         "where the report goes.\n"),
        ([], {"KPIWATCH_ALERTMANAGER_URL": "127.0.0.1:9093"}, "kpiwatch: KPIWATCH_ALERTMANAGER_URL='127.0.0.1:9093' "
         "must be an http:// or https:// URL, e.g. http://127.0.0.1:9093.\n"),
    ],
)  # fmt: skip
def test_report_refuses_malformed_arguments_in_one_line(args, variables, message, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(variables, DAGSTER_HOME=str(tmp_path / "home"))
    done = subprocess.run([KPIWATCH, "report", *args], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (2, message, "")


def test_a_report_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "reports").write_text("a file")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(KPIWATCH_REPORT_DIR=str(tmp_path / "reports"), DAGSTER_HOME=str(tmp_path / "home"))
    done = subprocess.run([KPIWATCH, "report"], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == (
        f"kpiwatch: KPIWATCH_REPORT_DIR={str(tmp_path / 'reports')!r} is a file; point it at a directory "
        "(it is created if missing).\n"
    )


def test_a_withheld_mrr_shows_why_instead_of_the_bridge_and_economics():
    from kpiwatch.report.facts import ReportFacts
    from kpiwatch.report.html import render

    facts = ReportFacts(as_of=dt.date(2024, 3, 31), generated_at=dt.datetime(2024, 4, 1, 6), target="dev")
    facts.withheld = {"mrr": "raw.subscriptions no_overlapping_periods", "unit_economics": "raw.subscriptions x"}
    page = Page(render(facts))
    assert [e["data-withheld-section"] for e in page.find() if "data-withheld-section" in e] == [
        "unit_economics",
        "mrr",
    ]
    text = " ".join(page.text)
    assert "Not shown: mrr was withheld, built from data that failed raw.subscriptions no_overlapping_periods." in text
