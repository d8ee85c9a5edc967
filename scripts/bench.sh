#!/usr/bin/env bash
# make bench: build, then measure, in one run:
#   1. per-packet kernel time, mxshield vs a four-trie LPM baseline
#      (BPF_PROG_TEST_RUN, tests/bench/bench.c)
#   2. loading and replacing big lists: ipset, nft, mxshield
#      (scripts/bench-import.sh)
#   3. end-to-end drop rate on a veth pair: bare XDP, mxshield, nftables
#      (scripts/bench-e2e.sh)
#   5. the fleet through etcd (scripts/bench-fleet.sh)
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
scripts/bench-e2e.sh
echo
echo "## 5. the fleet: change-to-NIC latency, a new edge's bootstrap, etcd storage"
scripts/bench-fleet.sh
