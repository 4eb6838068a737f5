"""The numbers the three implementations must agree on before any time is reported."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from kpiwatch.paths import DBT_PROJECT_DIR


def seed(name: str) -> list[dict[str, str]]:
    with open(DBT_PROJECT_DIR / "seeds" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def headline(
    mrr: dict[dt.date, float],
    active: tuple[int, int, int],
    retained_by_age: dict[int, int],
    adopters: dict[str, int],
    as_of: dt.date,
) -> dict[str, Any]:
    """MRR of every month (cents), DAU/WAU/MAU on as_of, retained users per months-since-signup summed
    over cohorts, and 30-day adopters per feature on as_of."""
    return {
        "as_of": as_of.isoformat(),
        "mrr_usd_by_month": {str(k)[:10]: round(float(v), 2) for k, v in sorted(mrr.items())},
        "dau_wau_mau": [int(x) for x in active],
        "retained_users_by_months_since_signup": {
            str(int(k)): int(v) for k, v in sorted(retained_by_age.items(), key=lambda kv: int(kv[0]))
        },
        "adopters_30d_by_feature": {k: int(v) for k, v in sorted(adopters.items())},
    }


def kpiwatch_headline(path, as_of: dt.date) -> dict[str, Any]:
    """The same numbers, read from the marts a kpiwatch run built."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        mrr = dict(con.execute("select month, mrr_usd from marts.fct_mrr_monthly").fetchall())
        active = con.execute(
            "select dau, wau, mau from marts.fct_active_users_daily where activity_date = ?", [as_of]
        ).fetchone() or (0, 0, 0)
        retained = dict(
            con.execute(
                "select months_since_signup, sum(retained_users) from marts.fct_retention_cohorts "
                "group by 1 having sum(retained_users) > 0"
            ).fetchall()
        )
        adopters = dict(
            con.execute(
                "select feature, adopters_30d from marts.fct_feature_adoption_daily where activity_date = ?", [as_of]
            ).fetchall()
        )
    finally:
        con.close()
    return headline(mrr, active, retained, adopters, as_of)


def disagreements(reference: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Differences beyond a cent of MRR (summation order) or any count; empty when they agree."""
    problems = []
    for key, value in reference.items():
        theirs = other.get(key)
        if key == "mrr_usd_by_month":
            if value.keys() != theirs.keys() or any(abs(value[m] - theirs[m]) > 0.011 for m in value):
                problems.append(f"{key}: {value} != {theirs}")
        elif value != theirs:
            problems.append(f"{key}: {value} != {theirs}")
    return problems
