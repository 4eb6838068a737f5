#!/usr/bin/env bash
# The test command (README and CI call exactly this). Extra arguments go to pytest (`-n 0` runs in one process).
# Three workers on two cores: much of the suite waits on servers (Prometheus scrapes and rule evaluations,
# Alertmanager's grouping, the Dagster daemon's 30 s backfill loop), and a third worker fills those waits
# (the whole suite: 732 s against 807 s with two workers, measured back to back on 2026-12-05). Each test file
# stays on one worker (--dist loadfile): its module fixtures (a generated company, a stack, the UI) are built once;
# files start longest first (tests/conftest.py LONGEST_FILES), not by their number of tests. The 25 slowest
# tests are listed at the end, so a test that grows slow stays visible.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_TEST_PACKAGES=1 bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=25 "$@"
