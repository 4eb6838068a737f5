"""(b) The floor: floor.sql straight on DuckDB in one process; prints the headline numbers as JSON.

python benchmarks/floor.py WAREHOUSE.duckdb YYYY-MM-DD
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import duckdb

from benchmarks.headline import headline, seed


def main(path: str, as_of_text: str) -> None:
    as_of = dt.date.fromisoformat(as_of_text)
    fx = ", ".join(f"('{r['currency']}', {float(r['usd_per_unit'])})" for r in seed("fx_rates"))
    features = ", ".join(f"('{r['event_name']}', '{r['feature']}')" for r in seed("feature_map"))
    script = (
        Path(__file__)
        .with_name("floor.sql")
        .read_text()
        .replace("$AS_OF", as_of_text)
        .replace("$FX", fx)
        .replace("$FEATURE_MAP", features)
    )
    con = duckdb.connect(path, read_only=True)
    con.execute(script)
    mrr = dict(con.execute("select month, mrr_usd from mrr_monthly").fetchall())
    active = con.execute("select dau, wau, mau from active_users where day = ?", [as_of]).fetchone() or (0, 0, 0)
    retained = dict(con.execute("select months_since_signup, sum(retained_users) from retention group by 1").fetchall())
    adopters = dict(con.execute("select feature, adopters_30d from feature_adoption where day = ?", [as_of]).fetchall())
    con.close()
    print(json.dumps(headline(mrr, active, retained, adopters, as_of)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
