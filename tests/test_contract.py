"""Raw tables that break the contract are named, with a pointer to the contract, before dbt runs."""

import duckdb
import pytest

from kpiwatch.errors import ContractError
from kpiwatch.warehouse import DuckDBWarehouse, ensure_raw_contract
from tests.conftest import write_raw_warehouse

EMPTY = {"users": [], "subscriptions": [], "events": [], "marketing_spend": []}


def altered(tmp_path, *statements):
    path = write_raw_warehouse(tmp_path / "w.duckdb", EMPTY)
    con = duckdb.connect(str(path))
    for statement in statements:
        con.execute(statement)
    con.close()
    return DuckDBWarehouse(path)


def test_contract_tables_pass(tmp_path):
    ensure_raw_contract(altered(tmp_path))


def test_missing_table_is_named(tmp_path):
    with pytest.raises(ContractError) as error:
        ensure_raw_contract(altered(tmp_path, "drop table raw.events"))
    assert str(error.value) == (
        "The raw data does not match the kpiwatch contract: table raw.events is missing. See docs/data-contract.md."
    )


def test_dropped_column_and_wrong_type_are_named_together(tmp_path):
    warehouse = altered(
        tmp_path,
        "alter table raw.subscriptions drop column currency",
        "alter table raw.marketing_spend alter amount type varchar",
    )
    with pytest.raises(ContractError) as error:
        ensure_raw_contract(warehouse)
    assert str(error.value) == (
        "The raw data does not match the kpiwatch contract: column raw.subscriptions.currency is missing; "
        "column raw.marketing_spend.amount has type VARCHAR, expected number. See docs/data-contract.md."
    )


def test_zoned_timestamps_are_refused_with_the_fix(tmp_path):
    warehouse = altered(tmp_path, "alter table raw.events alter occurred_at type timestamptz")
    with pytest.raises(ContractError, match=r"AT TIME ZONE 'UTC'"):
        ensure_raw_contract(warehouse)


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(Exception, match="kpiwatch generate --out"):
        DuckDBWarehouse(tmp_path / "nope.duckdb").query("select 1")
