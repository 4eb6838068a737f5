#!/usr/bin/env bash
# The test command (README and CI call exactly this). Extra arguments go to pytest (`-n 0` runs in one process).
# Two workers, one per core: much of the suite waits on servers (Prometheus scrapes, Alertmanager, the UI, dbt
# subprocesses), so the second core is otherwise idle. Each test file stays on one worker (--dist loadfile):
# its module fixtures (a generated company, a stack, the UI) are built once. The 25 slowest tests are listed at
# the end, so a test that grows slow stays visible.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_TEST_PACKAGES=1 bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 2 --dist loadfile --durations=25 "$@"
