#!/usr/bin/env bash
# One command for a newcomer: set up, start the local monitoring stack, create sample data,
# run the whole job through Dagster (checks, dbt, push) and say where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

kpiwatch stack up
if [ -z "${KPIWATCH_DUCKDB_PATH:-}" ]; then
  # Only the default sample file is (re)generated, so it is fresh as of today; your own warehouse is never touched.
  kpiwatch generate --out data/kpiwatch.duckdb --force
fi
kpiwatch run "$@"

echo
kpiwatch stack where
cat <<MSG
Try a data fault:   kpiwatch generate --out /tmp/bad.duckdb --force --inject duplicate_event_id
                    KPIWATCH_DUCKDB_PATH=/tmp/bad.duckdb kpiwatch run
Stop the stack:     kpiwatch stack down
Tests:              bash scripts/test.sh
MSG
