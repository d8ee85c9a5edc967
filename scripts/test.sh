#!/usr/bin/env bash
# The test command: install dependencies (Debian, as root), build, run every
# test. Ends with "N passed, N failed". Usage: scripts/test.sh [FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -s all
exec tests/run.sh "$@"
