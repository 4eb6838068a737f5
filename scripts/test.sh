#!/usr/bin/env bash
# The test command (README and CI call exactly this). Extra arguments go to pytest; the 25 slowest tests are
# listed at the end, so a test that grows slow stays visible.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_TEST_PACKAGES=1 bash scripts/setup.sh
exec .venv/bin/python -m pytest --durations=25 "$@"
