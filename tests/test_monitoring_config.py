"""Prometheus and Alertmanager configuration pass the official tools, and every alert has a unit test."""

import re
import shutil
import subprocess

import pytest
import yaml

from kpiwatch.paths import DOCS_DIR, MONITORING_DIR
from metrics.catalog import METRICS

PROMETHEUS = MONITORING_DIR / "prometheus"
ALERTMANAGER = MONITORING_DIR / "alertmanager"


def run(*command):
    if not shutil.which(command[0]):
        pytest.fail(f"{command[0]} is not installed; scripts/setup.sh installs it")
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alert_names():
    rules = yaml.safe_load((PROMETHEUS / "rules" / "kpiwatch_alerts.yml").read_text())
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_accepts_the_configuration_and_rules():
    run("promtool", "check", "config", str(PROMETHEUS / "prometheus.yml"))
    run("promtool", "check", "rules", *map(str, sorted((PROMETHEUS / "rules").glob("*.yml"))))


def unit_test_files():
    return sorted((PROMETHEUS / "tests").glob("*_test.yml"))


def test_promtool_unit_tests_pass():
    files = unit_test_files()
    assert len(files) == 2, files  # the minute-grain tests and the hourly ones
    assert run("promtool", "test", "rules", *map(str, files)).count("SUCCESS") == len(files)


def test_every_alert_is_unit_tested_firing_and_quiet():
    tests = [test for path in unit_test_files() for test in yaml.safe_load(path.read_text())["tests"]]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for name in alert_names():
        assert any(c["alertname"] == name and c["exp_alerts"] for c in cases), f"{name} never tested firing"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in cases), f"{name} never tested quiet"


def test_every_alert_is_documented_for_the_person_on_call():
    runbooks = (DOCS_DIR / "alerts.md").read_text()
    rules = yaml.safe_load((PROMETHEUS / "rules" / "kpiwatch_alerts.yml").read_text())
    for rule in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        anchor = rule["annotations"]["runbook_url"].split("#")[1]
        assert re.search(rf"^## {rule['alert']}$", runbooks, re.M), f"no runbook section for {rule['alert']}"
        assert anchor == rule["alert"].lower()


def test_amtool_accepts_the_alertmanager_configurations():
    run("amtool", "check-config", str(ALERTMANAGER / "alertmanager.yml"))
    run("amtool", "check-config", str(ALERTMANAGER / "alertmanager.production.example.yml"))


def test_stale_data_inhibits_business_alerts_and_a_withheld_metric_only_its_own():
    for name in ("alertmanager.yml", "alertmanager.production.example.yml"):
        config = yaml.safe_load((ALERTMANAGER / name).read_text())
        by_source = {" ".join(rule["source_matchers"]): rule for rule in config["inhibit_rules"]}
        assert by_source['alertname=~"KpiwatchDataStale|KpiwatchRunFailed"']["equal"] == ["environment"]
        assert by_source['alertname="KpiwatchMetricWithheld"']["equal"] == ["environment", "metric"]
        assert all(rule["target_matchers"] == ['team="business"'] for rule in config["inhibit_rules"])


def test_every_business_alert_names_its_metric():
    rules = yaml.safe_load((PROMETHEUS / "rules" / "kpiwatch_alerts.yml").read_text())
    business = [r for g in rules["groups"] for r in g["rules"] if r.get("labels", {}).get("team") == "business"]
    # The label is the rule's own, or the gauge's (kpiwatch_restated_value and kpiwatch_metric_anomaly carry `metric`).
    from_gauge = ("kpiwatch_restated_value", "kpiwatch_metric_anomaly")
    named = [r for r in business if "metric" in r["labels"] or r["expr"].startswith(from_gauge)]
    assert business and named == business
    assert all(r["labels"]["metric"] in {m.name for m in METRICS} for r in business if "metric" in r["labels"])
