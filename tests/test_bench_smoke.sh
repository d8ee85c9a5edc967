#!/usr/bin/env bash
# CI runs the benchmarks in a tiny version only: they must run, the mxshield
# program and the four-trie baseline must agree on every verdict, and every
# filter of the end-to-end benchmark must drop the generated flood, from the
# documentation sources and from random hosts of the block list (with
# --split-cpu too), nft every frame its xdp_pass program passed (and, with
# drop events on, report it); the churn driver's pushes through the
# service's queue must all be applied and (nearly) all be seen dropping at
# the NIC; the policy service must answer every request under its
# connection flood, and the content milter every message, marking those
# that match (no timing).
cd "$(dirname "$0")/.." || exit 1
rc=0
build/bench --smoke || rc=1
if out=$(IMPORT_RUNS=1 scripts/bench-import.sh 1000 2>&1) &&
	[ "$(grep -c '^1000 ' <<<"$out")" -eq 6 ]; then
	echo "ok - import benchmark ran (ipset, nft, mxshield import, --replace, add, del)"
else
	echo "not ok - import benchmark: $(tail -3 <<<"$out" | tr '\n' ' ')"
	rc=1
fi
scripts/bench-e2e.sh --smoke || rc=1
E2E_RUNS=1 E2E_SKIP_NFT=1 scripts/bench-e2e.sh --smoke --split-cpu | grep '^ok - \|^not ok - ' |
	sed 's/^\(not \)\?ok - /&split-cpu: /' || rc=1
E2E_RUNS=2 E2E_WINDOW=1 E2E_CHURN_RATE=2000 scripts/bench-e2e.sh --smoke --churn |
	grep '^ok - \|^not ok - ' || rc=1
E2E_RUNS=1 scripts/bench-e2e.sh --smoke --events | grep '^ok - \|^not ok - ' || rc=1
scripts/bench-policy.sh --smoke | grep '^ok - \|^not ok - ' || rc=1
scripts/bench-milter.sh --smoke | grep '^ok - \|^not ok - ' || rc=1
exit $rc
