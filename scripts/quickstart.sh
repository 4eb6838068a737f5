#!/usr/bin/env bash
# One command for a newcomer: set up, create sample data, run the whole job through Dagster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

if [ -z "${KPIWATCH_DUCKDB_PATH:-}" ]; then
  # Only the default sample file is (re)generated, so it is fresh as of today; your own warehouse is never touched.
  kpiwatch generate --out data/kpiwatch.duckdb --force
fi
kpiwatch run "$@"

cat <<MSG

Next:
  kpiwatch ui                 # Dagster UI with lineage and this run: http://127.0.0.1:3000
  bash scripts/test.sh        # the test suite
MSG
