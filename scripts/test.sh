#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the test suite: everything, or with `fast` first the fast
# tier alone (pytest -m "not slow": no end-to-end runs). Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${LOWCAP_VENV:-.venv}"
"$venv/bin/ruff" check src tests benchmarks scripts
if [ "${1:-}" = fast ]; then
    shift
    set -- -m "not slow" "$@"
fi
"$venv/bin/python" -m pytest -q "$@"
