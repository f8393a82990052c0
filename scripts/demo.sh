#!/usr/bin/env bash
# Install (see setup.sh) and run the main job: `braindecode demo` on the embedded default data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/braindecode demo "$@"
