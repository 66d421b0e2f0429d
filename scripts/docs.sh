#!/usr/bin/env bash
# The documentation site (MkDocs, from docs/): `bash scripts/docs.sh` serves it at
# http://127.0.0.1:8000; `bash scripts/docs.sh build` writes it to site/ (--strict: a broken
# link or reference fails). Needs the setup's .venv (scripts/setup.sh installs the docs extra).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LOWCAP_VENV:-.venv}"
export NO_MKDOCS_2_WARNING=1
if [ "${1:-serve}" = build ]; then
  "$venv/bin/mkdocs" build --strict
else
  "$venv/bin/mkdocs" serve --strict
fi
