#!/usr/bin/env bash
# Set up (scripts/setup.sh) and reproduce the paper: every phase, both protocols, then the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${LOWCAP_VENV:-.venv}"
"$venv/bin/lowcap" reproduce --profile "${1:-paper}" "${@:2}"
