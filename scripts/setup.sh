#!/usr/bin/env bash
# Set up lowcap on a fresh machine: a virtual environment in .venv (or $LOWCAP_VENV), torch
# pinned to the CPU build first (a bare `torch` requirement would pull a multi-GB CUDA build),
# then lowcap with its test, Ray and docs extras, then verified MNIST in the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LOWCAP_VENV:-.venv}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,ray,docs]"
"$venv/bin/lowcap" data --quiet
# Chromium renders report.html in the browser test; install it where Debian's apt-get runs as root.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
