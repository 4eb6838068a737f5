"""The short table `kpiwatch run` prints: the numbers a person checks first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kpiwatch.numbers import number
from kpiwatch.warehouse import MARTS_SCHEMA, Warehouse

HEADLINE_SQL = f"""
with latest_month as (
    select * from {MARTS_SCHEMA}.fct_mrr_monthly where month = (select max(month) from {MARTS_SCHEMA}.fct_mrr_monthly)
),
economics as (
    -- Rates of the last complete month: the running month's churn is only month-to-date.
    select * from {MARTS_SCHEMA}.fct_unit_economics_monthly
    where month = (select max(month) from {MARTS_SCHEMA}.fct_mrr_monthly where is_complete)
),
activity as (
    select * from {MARTS_SCHEMA}.fct_active_users_daily where activity_date = ?
)
select
    latest_month.month, latest_month.mrr_usd, latest_month.arr_usd, latest_month.net_new_mrr_usd,
    latest_month.paying_customers, latest_month.arpa_usd,
    economics.month as economics_month, economics.logo_churn_rate, economics.net_revenue_retention,
        economics.ltv_to_cac,
    activity.dau, activity.wau, activity.mau
from latest_month
left join economics on true
left join activity on true
"""


def headline(warehouse: Warehouse, as_of: dt.date) -> dict[str, Any] | None:
    rows = warehouse.query(HEADLINE_SQL, [as_of])
    return rows[0] if rows else None


def _fmt(value: Any, kind: str) -> str:
    return number(value, kind, missing="n/a")


def format_headline(row: dict[str, Any] | None, as_of: dt.date) -> str:
    if row is None:
        return f"No metrics as of {as_of}: the warehouse has no subscriptions, users or spend before that date."
    last = row["economics_month"].strftime("%b %Y") if row["economics_month"] else "no complete month"
    lines = [
        ("MRR", _fmt(row["mrr_usd"], "usd")),
        ("ARR", _fmt(row["arr_usd"], "usd")),
        ("Net new MRR (month to date)", _fmt(row["net_new_mrr_usd"], "usd")),
        ("Paying customers", _fmt(row["paying_customers"], "count")),
        ("ARPA", _fmt(row["arpa_usd"], "usd")),
        (f"Logo churn rate ({last})", _fmt(row["logo_churn_rate"], "percent")),
        (f"Net revenue retention ({last})", _fmt(row["net_revenue_retention"], "percent")),
        (f"LTV : CAC ({last})", _fmt(row["ltv_to_cac"], "plain")),
        (f"DAU / WAU / MAU on {as_of}", " / ".join(_fmt(row[k], "count") for k in ("dau", "wau", "mau"))),
    ]
    width = max(len(name) for name, _ in lines)
    body = "\n".join(f"  {name.ljust(width)}  {value}" for name, value in lines)
    return f"Headline metrics as of {as_of} (month {row['month']}):\n{body}"
