"""kpiwatch's headline metrics declared in dbt's semantic layer (dbt_project/models/semantic/_semantic.yml),
compiled by MetricFlow and run in DuckDB, equal the marts and the hand-worked numbers of the fixture companies."""

import datetime as dt
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpiwatch.errors import ConfigError
from kpiwatch.executables import beside_interpreter
from kpiwatch.semantic_layer import SEMANTIC_MANIFEST_FILE, SemanticLayer
from tests.conftest import rows
from tests.fixtures import activity_world, mrr_world

pytestmark = pytest.mark.slow


def semantic_layer(db: Path, dialect: str = "duckdb") -> SemanticLayer:
    # build_world runs dbt with --target-path beside the DuckDB file; dbt writes the semantic manifest there.
    return SemanticLayer(db.parent / "target" / SEMANTIC_MANIFEST_FILE, dialect)


def query(db: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def number(value) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def rounded(value) -> float | None:
    return None if value is None else round(float(value), 6)


def test_the_shipped_revenue_metrics_equal_the_hand_worked_months_and_the_mart(mrr_world_db):
    layer = semantic_layer(mrr_world_db)
    got = {
        str(row["metric_time__month"])[:10]: row
        for row in query(mrr_world_db, layer.sql(["mrr", "arr", "paying_customers", "net_new_mrr", "arpa"], "month"))
    }
    assert sorted(got) == sorted(mrr_world.MONTHS)
    for month, (mrr, *_, net_new, paying, _new_c, _churned_c, arpa) in mrr_world.MONTHS.items():
        row = got[month]
        assert number(row["mrr"]) == pytest.approx(float(mrr)), month
        assert number(row["arr"]) == pytest.approx(12 * float(mrr)), month
        assert row["paying_customers"] == paying, month
        assert number(row["net_new_mrr"]) == pytest.approx(float(net_new)), month
        assert number(row["arpa"]) == (None if arpa is None else pytest.approx(float(arpa))), month

    mart = {str(row["month"]): row for row in rows(mrr_world_db, "select * from marts.fct_mrr_monthly")}
    for month, row in got.items():
        assert Decimal(str(row["mrr"])) == mart[month]["mrr_usd"], month
        assert Decimal(str(row["net_new_mrr"])) == mart[month]["net_new_mrr_usd"], month


def test_mrr_is_a_balance_a_quarter_shows_its_last_month_while_net_new_mrr_adds_up(mrr_world_db):
    # Q1 2024: MRR 435 (Jan), 397 (Feb), 343.5 (Mar): the quarter's MRR is March's; net new 435 - 38 - 53.5.
    layer = semantic_layer(mrr_world_db)
    got = {
        str(row["metric_time__quarter"])[:10]: (number(row["mrr"]), number(row["net_new_mrr"]))
        for row in query(mrr_world_db, layer.sql(["mrr", "net_new_mrr"], "quarter"))
    }
    assert got == {"2023-10-01": (0.0, 0.0), "2024-01-01": (343.5, 343.5), "2024-04-01": (397.5, 54.0)}


def test_a_cumulative_metric_accumulates_to_date_and_restarts_with_the_year(mrr_world_db):
    # Net new MRR 2024: +435 (Jan), -38 (Feb), -53.5 (Mar), +54 (Apr); 2023 had none. Year to date it is MRR.
    # MetricFlow carries a cumulative metric on along its time spine (to 2049), so the query ends with the data.
    layer = semantic_layer(mrr_world_db)
    sql = layer.sql(["net_new_mrr_ytd"], "month", end=dt.date(2024, 4, 30))
    got = {str(row["metric_time__month"])[:10]: number(row["net_new_mrr_ytd"]) for row in query(mrr_world_db, sql)}
    assert got == {
        "2023-11-01": 0.0,
        "2023-12-01": 0.0,
        "2024-01-01": 435.0,
        "2024-02-01": 397.0,
        "2024-03-01": 343.5,
        "2024-04-01": 397.5,
    }


def test_the_shipped_activity_metrics_equal_the_hand_worked_days(activity_world_db):
    layer = semantic_layer(activity_world_db)
    start, end = dt.date(2024, 1, 1), dt.date(2024, 2, 10)
    got = {
        str(row["metric_time__day"])[:10]: row
        for row in query(activity_world_db, layer.sql(["dau", "mau", "stickiness"], "day", start, end))
    }
    assert len(got) == 41
    for day, (dau, _wau, mau) in activity_world.ACTIVE_USERS.items():
        assert (got[day]["dau"], got[day]["mau"]) == (dau, mau), day
        assert got[day]["stickiness"] == (pytest.approx(dau / mau) if mau else None), day


def test_the_time_range_is_inclusive_and_each_metric_carries_its_declaration(mrr_world_db):
    layer = semantic_layer(mrr_world_db)
    got = query(mrr_world_db, layer.sql(["mrr"], "month", dt.date(2024, 2, 1), dt.date(2024, 3, 31)))
    assert [str(row["metric_time__month"])[:10] for row in got] == ["2024-02-01", "2024-03-01"]
    declared = {metric.name: metric for metric in layer.metrics()}
    assert {"mrr", "arr", "arpa", "paying_customers", "net_new_mrr", "dau", "mau", "stickiness"} <= set(declared)
    assert (declared["arpa"].type, declared["arpa"].label) == ("ratio", "ARPA (USD)")


def test_the_snowflake_dialect_runs_on_fakesnow_and_gives_the_same_numbers(mrr_world_db):
    import fakesnow
    import snowflake.connector

    mart = rows(mrr_world_db, "select month, mrr_usd, paying_customers from marts.fct_mrr_monthly")
    duckdb_sql = semantic_layer(mrr_world_db).sql(["mrr", "arpa"], "month")
    snowflake_sql = semantic_layer(mrr_world_db, "snowflake").sql(["mrr", "arpa"], "month")
    with fakesnow.patch():
        con = snowflake.connector.connect(database="mrr_world", schema="marts")
        cursor = con.cursor()
        cursor.execute("create database if not exists mrr_world")
        cursor.execute("create schema if not exists mrr_world.marts")
        cursor.execute(
            "create table mrr_world.marts.fct_mrr_monthly (month date, mrr_usd number(38,6), paying_customers int)"
        )
        cursor.executemany(
            "insert into mrr_world.marts.fct_mrr_monthly values (%s, %s, %s)",
            [(row["month"], row["mrr_usd"], row["paying_customers"]) for row in mart],
        )
        cursor.execute(snowflake_sql)
        on_snowflake = [(str(month)[:10], rounded(mrr), rounded(arpa)) for month, mrr, arpa in cursor.fetchall()]
    on_duckdb = [
        (str(row["metric_time__month"])[:10], rounded(row["mrr"]), rounded(row["arpa"]))
        for row in query(mrr_world_db, duckdb_sql)
    ]
    assert on_snowflake == on_duckdb
    assert len(on_snowflake) == len(mrr_world.MONTHS)


def test_bad_requests_are_one_sentence_naming_what_is_wrong(mrr_world_db, tmp_path):
    layer = semantic_layer(mrr_world_db)
    with pytest.raises(ConfigError, match="cannot compile exports_per_user by day"):
        layer.sql(["exports_per_user"], "day")
    with pytest.raises(ConfigError, match="Grain 'hourly' is not one of"):
        layer.sql(["mrr"], "hourly")
    with pytest.raises(ConfigError, match="cannot be read .* dbt writes it when it parses"):
        SemanticLayer(tmp_path / SEMANTIC_MANIFEST_FILE, "duckdb")
    with pytest.raises(ConfigError, match="no SQL dialect for warehouse 'postgres'"):
        semantic_layer(mrr_world_db, "postgres")


def run_metrics_cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env.update(
        KPIWATCH_DUCKDB_PATH=str(db),
        KPIWATCH_DBT_TARGET_DIR=str(db.parent / "target"),
        DAGSTER_HOME=str(db.parent / "home"),
    )
    return subprocess.run([beside_interpreter("kpiwatch"), "metrics", *args], capture_output=True, text=True, env=env)


def test_the_cli_lists_the_declared_metrics_and_queries_them_from_the_warehouse(mrr_world_db):
    listed = run_metrics_cli(mrr_world_db, "list")
    assert listed.returncode == 0, listed.stderr
    assert "arpa              ratio       ARPA (USD): Average revenue per paying account" in listed.stdout

    done = run_metrics_cli(
        mrr_world_db, "query", "mrr,arpa", "--grain", "month", "--start", "2024-03-01", "--format", "csv"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["month,mrr,arpa", "2024-03-01,343.500000,68.7", "2024-04-01,397.500000,66.25"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query"], "metrics query needs metric names, e.g. `kpiwatch metrics query mrr,arpa`."),
        (["query", " , "], "metrics query needs metric names, e.g. `kpiwatch metrics query mrr,arpa`."),
        (["query", "mrr", "--grain", "hourly"], "--grain 'hourly' must be one of day, week, month, quarter, year."),
        (["query", "mrr", "--start", "2024-13-01"], "--start"),
        (
            ["query", "mrr", "--start", "2024-03-02", "--end", "2024-03-01"],
            "--end 2024-03-01 is before --start 2024-03-02.",
        ),
        (
            ["query", "mrr,exports_per_user"],
            "unknown metric 'exports_per_user'; `kpiwatch metrics list` shows the declared ones.",
        ),
    ],
)
def test_malformed_metrics_arguments_exit_2_with_one_line(mrr_world_db, args, message):
    done = run_metrics_cli(mrr_world_db, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_the_declared_series_model_comes_after_every_model_a_declaration_can_ref(mrr_world_db):
    """fct_series_declared_daily lists its upstream models by hand (a declaration may ref any of them): a new
    model missing from the list would let the declared series read it before it is built."""
    import json

    manifest = json.loads((mrr_world_db.parent / "target" / "manifest.json").read_text())
    models = {key for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    declared = "model.kpiwatch.fct_series_declared_daily"
    assert set(manifest["nodes"][declared]["depends_on"]["nodes"]) >= models - {declared}
