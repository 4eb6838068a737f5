"""expectations/checks.yml: one place for severities and thresholds, with exact errors for mistakes."""

import pytest

from kpiwatch.errors import ConfigError
from kpiwatch.quality.config import load_checks_config
from orchestration.raw_checks import ensure_suites_match


def write(tmp_path, text):
    path = tmp_path / "checks.yml"
    path.write_text(text)
    return path


def test_shipped_configuration_loads_and_matches_the_suites():
    config = load_checks_config()
    ensure_suites_match(config)
    events = {c.name: c for c in config.for_table("events")}
    assert events["unique_event_id"].is_blocking
    assert events["freshness"].params == {"max_lag_hours": 36}
    assert events["unique_event_id"].params == {"max_unexpected_ratio": 0.0}


def test_unknown_parameter_is_named(tmp_path):
    path = write(tmp_path, "version: 1\ntables:\n  events:\n    freshness: {severity: warn, max_lag_hour: 5}\n")
    with pytest.raises(ConfigError) as error:
        load_checks_config(path)
    assert str(error.value) == (
        f"{path}: tables.events.freshness has unknown parameter(s) ['max_lag_hour']; it accepts ['max_lag_hours']."
    )


def test_bad_severity_is_named(tmp_path):
    path = write(tmp_path, "version: 1\ntables:\n  users:\n    not_empty: {severity: fatal}\n")
    with pytest.raises(
        ConfigError, match=r"tables.users.not_empty.severity must be one of \('error', 'warn'\), got 'fatal'"
    ):
        load_checks_config(path)


def test_unknown_table_is_named(tmp_path):
    path = write(tmp_path, "version: 1\ntables:\n  payments:\n    not_empty: {severity: warn}\n")
    with pytest.raises(ConfigError, match="unknown table 'payments'"):
        load_checks_config(path)


def test_a_gx_check_missing_from_the_configuration_is_reported(tmp_path):
    shipped = load_checks_config().path.read_text()
    path = write(tmp_path, shipped.replace("    unique_event_id: {severity: error}                  # GX\n", ""))
    with pytest.raises(ConfigError, match=r"in the suite but not configured: \['unique_event_id'\]"):
        ensure_suites_match(load_checks_config(path))
