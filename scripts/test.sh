#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${LOWCAP_VENV:-.venv}"
"$venv/bin/ruff" check src tests benchmarks
"$venv/bin/python" -m pytest -q "$@"
