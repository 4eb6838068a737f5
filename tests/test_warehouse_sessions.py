"""A step's queries share one warehouse connection (`session`), closed with the block so dbt can write."""

import datetime as dt
import pickle
import threading

import duckdb
import fakesnow
import pytest

from kpiwatch.snowflake_warehouse import SnowflakeWarehouse
from kpiwatch.warehouse import DuckDBWarehouse
from tests.test_snowflake_paths import SETTINGS


@pytest.fixture()
def opened(monkeypatch):
    """Every duckdb.connect call, made for real."""
    calls = []
    real = duckdb.connect

    def connect(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    return calls


def test_a_session_opens_the_file_once_and_releases_it_at_the_end(tmp_path, opened):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select range as n from range(5)")
    opened.clear()
    warehouse = DuckDBWarehouse(path)
    with warehouse.session():
        with warehouse.session():  # nested: the same connection
            assert warehouse.query("select count(*) as n from t") == [{"n": 5}]
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(warehouse.query("select sum(n) as s from t")))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [[{"s": 10}]] * 4
    assert len(opened) == 1
    # Released: a writer (dbt, in a run) can open the file now.
    with duckdb.connect(str(path)) as writer:
        writer.execute("insert into t values (5)")
    assert warehouse.query("select count(*) as n from t") == [{"n": 6}]
    assert len(opened) == 3


def test_a_failing_query_in_a_session_still_closes_the_connection(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    warehouse = DuckDBWarehouse(path)
    with pytest.raises(duckdb.CatalogException), warehouse.session():
        warehouse.query("select * from missing_table")
    with duckdb.connect(str(path)) as writer:  # no read-only connection left open
        writer.execute("create table t (n int)")


def test_a_snowflake_session_logs_in_once():
    with fakesnow.patch():
        warehouse = SnowflakeWarehouse(SETTINGS)
        logins = []
        connect = warehouse.connect

        def counted():
            logins.append(1)
            return connect()

        warehouse.connect = counted
        with warehouse.session():
            warehouse.query("create database if not exists kpiwatch")
            assert warehouse.query("select 1 as one") == [{"one": 1}]
        assert len(logins) == 1
        assert warehouse.query("select 2 as two") == [{"two": 2}]
        assert len(logins) == 2


def test_the_raw_checks_of_a_step_open_the_file_once(tmp_path, opened):
    """run_raw_checks is lazy: its SQL checks must run inside its session, not one file open per query."""
    from kpiwatch.contract import raw_table_ddl
    from kpiwatch.quality.config import load_checks_config
    from kpiwatch.quality.runner import run_raw_checks

    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        for statement in raw_table_ddl():
            con.execute(statement)
    opened.clear()
    outcomes = list(
        run_raw_checks(DuckDBWarehouse(path), load_checks_config(), ["marketing_spend"], dt.date(2024, 3, 31))
    )
    # The SQL checks' session, once (GX's engine connects through duckdb_engine, with keyword arguments).
    assert outcomes and [args for args in opened if args[:1] == (str(path),)] == [(str(path),)]


def test_a_warehouse_sent_to_another_process_leaves_its_session_behind(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    warehouse = DuckDBWarehouse(path)
    with warehouse.session():
        copy = pickle.loads(pickle.dumps(warehouse))  # the GX suite worker gets its request this way
    assert copy.query("select 42 as n") == [{"n": 42}]
