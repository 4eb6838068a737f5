"""What a source adapter's view is built from: any change to it rebuilds the view (orchestration/source_views.py)."""

import re

from kpiwatch.paths import DBT_PROJECT_DIR
from orchestration.source_views import ADAPTER_FILES, definition

MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\(")


def test_every_macro_an_adapter_calls_is_part_of_its_definition():
    defined = {
        name: path.relative_to(DBT_PROJECT_DIR).as_posix()
        for path in (DBT_PROJECT_DIR / "macros").glob("*.sql")
        for name in MACRO.findall(path.read_text())
    }
    called = set()
    for model in (DBT_PROJECT_DIR / "models" / "sources").rglob("*.sql"):
        text = model.read_text()
        called |= {name for name in defined if re.search(rf"\b{name}\(", text)}
    for macro_file in {defined[name] for name in called}:  # and what those macros call in turn
        called |= {name for name in defined if re.search(rf"\b{name}\(", (DBT_PROJECT_DIR / macro_file).read_text())}
    assert {"stripe_priced_periods", "present_as_raw", "epoch_timestamp"} <= called
    assert {defined[name] for name in called} <= set(ADAPTER_FILES)


def test_the_schema_and_the_options_change_the_definition():
    base = definition("stripe_fivetran", "stripe", {})
    assert base == definition("stripe_fivetran", "stripe", {})
    assert base != definition("stripe_fivetran", "billing", {})
    assert base != definition("stripe_fivetran", "stripe", {"KPIWATCH_SOURCE_AD_REPORTING_CHANNEL": "campaign"})
