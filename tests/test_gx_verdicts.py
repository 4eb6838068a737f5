"""Great Expectations results turned into check outcomes: a failure of the machine is not a verdict on data."""

from types import SimpleNamespace

import pytest

from kpiwatch.errors import RunError
from kpiwatch.quality.config import CheckSettings
from kpiwatch.quality.gx_runner import _verdict

SETTINGS = CheckSettings(table="events", name="unique_event_id", severity="error", params={"max_unexpected_ratio": 0})


def result(exception_message: str | None):
    config = SimpleNamespace(
        type="expect_no_unexpected_rows", kwargs={}, description="no event_id appears more than once", meta={}
    )
    info = {"raised_exception": True, "exception_message": exception_message} if exception_message else {}
    return SimpleNamespace(expectation_config=config, exception_info=info, result={"observed_value": 0}, success=True)


def test_out_of_memory_fails_the_run_instead_of_the_check():
    oom = "Out of Memory Error: could not allocate block of size 256.0 KiB (3.0 GiB/3.0 GiB used)"
    with pytest.raises(RunError) as error:
        _verdict("events", SETTINGS, [result(oom)], row_count=100_000_000)
    assert str(error.value).startswith("raw.events unique_event_id could not run: Out of Memory Error:")
    assert "This is the machine, not the data" in str(error.value)


def test_a_data_error_inside_an_expectation_is_still_a_failed_check():
    outcome = _verdict("events", SETTINGS, [result("Conversion Error: could not convert string 'x' to INT")], 10)
    assert not outcome.passed
    assert "could not be evaluated: Conversion Error" in outcome.description


def test_a_clean_result_passes():
    assert _verdict("events", SETTINGS, [result(None)], 10).passed
