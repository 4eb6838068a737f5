"""(c) The usual alternative: the same metrics in pandas, the way a team's notebook-turned-script does it
(read the raw tables into DataFrames, then group and loop in Python). Prints the headline numbers as JSON.

    python benchmarks/pandas_metrics.py WAREHOUSE.duckdb YYYY-MM-DD
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import duckdb
import numpy as np
import pandas as pd

from benchmarks.headline import headline, seed


def main(path: str, as_of_text: str) -> None:
    as_of = dt.date.fromisoformat(as_of_text)
    cutoff = pd.Timestamp(as_of + dt.timedelta(days=1))
    con = duckdb.connect(path, read_only=True)
    events = con.execute("select user_id, event_name, occurred_at from raw.events").df()
    users = con.execute("select user_id, created_at from raw.users").df()
    subs = con.execute("select * from raw.subscriptions").df()
    con.close()

    fx = {r["currency"]: float(r["usd_per_unit"]) for r in seed("fx_rates")}
    subs["mrr_usd"] = (
        subs["amount"].astype(float) * subs["currency"].map(fx) / np.where(subs["billing_interval"] == "year", 12, 1)
    )
    first_month = subs["started_at"].min().to_period("M").to_timestamp()
    mrr = {}
    for month in pd.date_range(first_month, cutoff - pd.Timedelta(days=1), freq="MS"):
        snapshot = min(month + pd.offsets.MonthBegin(1), cutoff)
        live = (subs["started_at"] < snapshot) & (subs["ended_at"].isna() | (subs["ended_at"] >= snapshot))
        mrr[month.date()] = subs.loc[live, "mrr_usd"].sum()

    events = events[events["occurred_at"] < cutoff]
    events["day"] = events["occurred_at"].dt.normalize()
    user_days = events[["user_id", "day"]].drop_duplicates()
    days = pd.date_range(user_days["day"].min(), cutoff - pd.Timedelta(days=1), freq="D")
    active = {}
    for day in days:  # trailing windows: distinct users per day, the straightforward way
        window = user_days[(user_days["day"] > day - pd.Timedelta(days=30)) & (user_days["day"] <= day)]
        week = window[window["day"] > day - pd.Timedelta(days=7)]
        active[day] = ((window["day"] == day).sum(), week["user_id"].nunique(), window["user_id"].nunique())
    last = active.get(pd.Timestamp(as_of), (0, 0, 0))

    feature_map = {r["event_name"]: r["feature"] for r in seed("feature_map")}
    events["feature"] = events["event_name"].map(feature_map)
    recent = events[(events["day"] > pd.Timestamp(as_of) - pd.Timedelta(days=30)) & events["feature"].notna()]
    adopters = recent.groupby("feature")["user_id"].nunique().to_dict()
    for feature in set(feature_map.values()) - set(adopters):
        adopters[feature] = 0

    users = users[users["created_at"] < cutoff].assign(cohort=lambda u: u["created_at"].dt.to_period("M"))
    months = events[["user_id"]].assign(month=events["day"].dt.to_period("M")).drop_duplicates()
    joined = months.merge(users[["user_id", "cohort"]], on="user_id")
    joined = joined[joined["month"] >= joined["cohort"]]
    age = (joined["month"].dt.year - joined["cohort"].dt.year) * 12 + (
        joined["month"].dt.month - joined["cohort"].dt.month
    )
    retained = age.value_counts().to_dict()
    print(json.dumps(headline(mrr, last, retained, adopters, as_of)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
