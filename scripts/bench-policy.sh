#!/usr/bin/env bash
# Latency of the policy service (`mxshield policy serve`) for well-formed
# requests, quiet and under a flood held open for the whole measurement:
#
#   quiet       nothing else connected
#   idle flood  IDLE idle connections (never a byte) + GARBAGE connections
#               sending garbage every 100 ms (drips without an end, lines
#               without the empty line, over-long lines, NUL bytes, random
#               bytes), reopened when the service closes them
#   over limit  the same with --max-conn IDLE/2: every new connection
#               closes the oldest idle one
#   churn       over limit, and during the measurement CHURN new silent
#               connections a second; the clients pause THINK ms between
#               requests (an smtpd waits for its SMTP client: 8 requests
#               each), longer than an idle connection lasts at that churn
#               (--max-conn / CHURN); the service closes silent connections
#               first, so theirs stay
#   churn+ask   the same, but each new connection asks once before it goes
#               silent, as Postfix's do: the clients' idle connections are
#               closed in between, they reconnect and ask again, once, as
#               Postfix does ("retried"; the latency counts from the first
#               attempt)
#   per-peer    the defaults: the flood and the clients share 127.0.0.1,
#               so --max-per-peer (256) evicts within that share
#
# The service runs in the lab's mail namespace (scripts/lab.sh) with the
# filter loaded and a block list, on its loopback; the requests come from
# scripts/policy-load.py: CLIENTS persistent connections, one request at a
# time each (as Postfix's smtpd), timed from the first byte sent to the end
# of the answer, for an address on the block list (the full decision: the
# compiled classifier through bpf(2), the envelope lists). p50/p99/max in
# ms; the target is p99 <= 100 ms under the flood. The service logs every
# decision to a file, as it would to the journal.
#
# Usage (root): scripts/bench-policy.sh [--smoke]
#   IDLE=2000 GARBAGE=20 REQUESTS=20000 CLIENTS=4 CHURN=2000 THINK=1000;
#   --smoke: 200/5/400/2, churn 200 with 200 ms pauses
source "$(dirname "$0")/lab.sh"

IDLE=${IDLE:-2000} GARBAGE=${GARBAGE:-20} REQUESTS=${REQUESTS:-20000} CLIENTS=${CLIENTS:-4}
CHURN=${CHURN:-2000} THINK=${THINK:-1000}
if [ "${1:-}" = "--smoke" ]; then
	IDLE=200 GARBAGE=5 REQUESTS=400 CLIENTS=2 CHURN=200 THINK=200
fi
BLOCKED=198.51.100.20
LOAD=$PWD/scripts/policy-load.py
LAB_NAME=mxbp LAB_PORTS=8080 lab_up 198.51.100.7 || { echo "lab setup failed" >&2; exit 1; }
mx block add $BLOCKED --action reject >/dev/null || exit 1
mx sender add bad@evil.example --list block --action reject >/dev/null
mx domain add spam.example --list block --action spam >/dev/null

pol=
serve() {
	ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" policy serve \
		--listen inet:127.0.0.1:10040 "$@" >"$work/policy.log" 2>&1 &
	pol=$!
	lab_pids+=($pol)
	for _ in $(seq 100); do
		grep -q "listening on" "$work/policy.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the policy service did not start: $(cat "$work/policy.log")" >&2
	exit 1
}
stop() { kill "$pol"; wait "$pol" 2>/dev/null; }
rc=0
run() {
	local name=$1 idle=$2 garbage=$3 extra=$4 requests=$REQUESTS out
	shift 4
	[ -n "$extra" ] && requests=$((CLIENTS * 8))	# paced: 8 a client
	serve "$@"
	# shellcheck disable=SC2086
	out=$(ip netns exec "$MAIL" python3 "$LOAD" --connect inet:127.0.0.1:10040 --idle "$idle" \
		--garbage "$garbage" --requests "$requests" --clients "$CLIENTS" \
		--client-address $BLOCKED --expect "550 5.7.1" $extra 2>&1) || rc=1
	printf "%-11s %-36s %s\\n" "$name" "$*" "$out"
	stop
}

echo "policy service: $REQUESTS requests over $CLIENTS connections; flood: $IDLE idle + $GARBAGE garbage"
run quiet 0 0 ""
run "idle flood" "$IDLE" "$GARBAGE" "" --max-per-peer $((IDLE * 2))
run "over limit" "$IDLE" "$GARBAGE" "" --max-conn $((IDLE / 2)) --max-per-peer $((IDLE * 2))
run churn "$IDLE" "$GARBAGE" "--churn $CHURN --think $THINK" --max-conn $((IDLE / 2)) \
	--max-per-peer $((IDLE * 2))
run churn+ask "$IDLE" "$GARBAGE" "--churn $CHURN --churn-ask --think $THINK" \
	--max-conn $((IDLE / 2)) --max-per-peer $((IDLE * 2))
run "per-peer" "$IDLE" "$GARBAGE" ""
if [ "${1:-}" = "--smoke" ]; then
	[ $rc -eq 0 ] && echo "ok - policy benchmark ran: every request answered under the flood" ||
		echo "not ok - policy benchmark: a request was not answered"
fi
exit $rc
