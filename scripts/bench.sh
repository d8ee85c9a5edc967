#!/usr/bin/env bash
# make bench: build, then measure, in one run:
#   1. per-packet kernel time, mxshield vs a four-trie LPM baseline
#      (BPF_PROG_TEST_RUN, tests/bench/bench.c)
#   2. loading and replacing big lists: ipset, nft, mxshield
#      (scripts/bench-import.sh)
#   3. end-to-end drop rate on a veth pair: bare XDP, mxshield, nftables,
#      with 508 documentation and 65,536 random sources, generator and
#      filter on separate CPUs (scripts/bench-e2e.sh --split-cpu)
#   4. churn: new /32 entries through the service's push queue during a
#      flood (scripts/bench-e2e.sh --split-cpu --churn)
#   5. the content milter: messages per second on one core, 10 KB and 1 MB,
#      with and without 1,000 subject and content patterns
#      (scripts/bench-milter.sh)
# Not a test: numbers depend on the machine; compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all
echo "# $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo "## 1. per-packet time (BPF_PROG_TEST_RUN)"
build/bench "$@"
echo
echo "## 2. loading and replacing big lists"
scripts/bench-import.sh
echo
echo "## 3. end-to-end drop rate on a veth pair"
scripts/bench-e2e.sh --split-cpu
echo
echo "## 4. churn: pushed entries under a flood"
scripts/bench-e2e.sh --split-cpu --churn
echo
echo "## 5. the content milter, messages per second on one core"
scripts/bench-milter.sh
