#!/usr/bin/env bash
# Install (see setup.sh) and run the test suite. Slow end-to-end tests run when CI=true or with --runslow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
