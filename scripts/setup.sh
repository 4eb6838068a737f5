#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: system packages, then the Python venv in .venv/.
# Re-running is cheap: pip runs only when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
APT_PACKAGES=(python3-venv prometheus prometheus-pushgateway prometheus-alertmanager postgresql)
# The tests also open the HTML report in a real browser (scripts/test.sh sets SETUP_TEST_PACKAGES=1).
if [ "${SETUP_TEST_PACKAGES:-0}" = 1 ]; then APT_PACKAGES+=(chromium); fi

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.kpiwatch-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing kpiwatch and its dependencies into .venv (pinned by constraints.txt)..."
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi
# Byte-compile kpiwatch's own modules, as pip does for the packages it installs: where PYTHONDONTWRITEBYTECODE
# is set (common in containers, and on this project's machines) every run would compile them again (0.2 s).
.venv/bin/python -m compileall -q kpiwatch orchestration metrics
