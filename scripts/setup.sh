#!/usr/bin/env bash
# Create or reuse ./.venv, install the CPU build of torch first, then braindecode with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
  || python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"
