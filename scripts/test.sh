#!/usr/bin/env bash
# Install (see setup.sh) and run the test suite. Slow end-to-end tests run when CI=true or with --runslow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# CI renders the demo report in headless Chromium (tests/test_demo.py): install it where it is missing.
if [[ "${CI:-}" == "true" && "$(id -u)" == "0" ]] && ! command -v chromium >/dev/null; then
    echo "test.sh: installing chromium for the report screenshot test" >&2
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } \
        || echo "test.sh: could not install chromium; the report screenshot test will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
