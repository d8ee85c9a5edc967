#!/usr/bin/env bash
# make bench: build, then measure (BPF_PROG_TEST_RUN, see tests/bench/bench.c).
# Not a test: numbers depend on the machine; compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all
echo "# $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
exec build/bench "$@"
