#!/usr/bin/env bash
# The benchmark, one command: bash benchmarks/run.sh [--sizes 1m,10m,100m] [--pandas-sizes 1m,10m]
# Needs the venv of scripts/setup.sh; adds matplotlib for the plot. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
.venv/bin/python -m pip install --quiet "matplotlib>=3.8"
exec .venv/bin/python -m benchmarks.run "$@"
