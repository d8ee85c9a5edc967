#!/usr/bin/env bash
# make bench-milter: messages per second through the content milter on one
# core (docs/benchmarks.md). `mxshield milter serve` on a unix socket, pinned
# to one CPU; build/milter_bench on another speaks the milter protocol as
# Postfix does, one message after the other, for 10 KB and 1 MB messages,
# with no rules, with 1,000 subject and 1,000 content text patterns, and
# with 1,000 content regular expressions beside those.
#   --smoke: a second per case, and checks that could fail (every message
#   answered; the rules hit where they must), no timing asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=
secs=${MILTER_BENCH_SECONDS:-5}
[ "${1:-}" = --smoke ] && { smoke=1; secs=1; }
make -s mxshield build/milter_bench
work=$(mktemp -d /tmp/mxmb.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
st=$work/state
mxs() { ./mxshield --state-dir "$st" --bpffs-dir "$work/bpf" "$@"; }
mkdir -p "$st"
ncpu=$(nproc)
mcpu=0 ccpu=$((ncpu > 1 ? 1 : 0))

start() {
	[ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
	taskset -c $mcpu ./mxshield --state-dir "$st" --bpffs-dir "$work/bpf" milter serve \
		--listen "unix:$work/m.sock" 2>"$work/milter.log" &
	pid=$!
	for _ in $(seq 50); do [ -S "$work/m.sock" ] && return 0; sleep 0.1; done
	echo "milter did not start: $(cat "$work/milter.log")" >&2
	return 1
}
# run NAME SIZE [SUBJECT]: one line of the table
run() {
	local out
	out=$(taskset -c $ccpu build/milter_bench "unix:$work/m.sock" "$secs" "$2" "${3:-}")
	printf '%-34s %8s  %s\n' "$1" "$2" "$out" >&3
	echo "$out"
}
rules() {	# N: N subject and N content text patterns, random words
	python3 - "$1" > "$work/words" <<'PY'
import random, sys
random.seed(7)
a = "abcdefghijklmnopqrstuvwxyz"
for _ in range(int(sys.argv[1])):
    print("".join(random.choice(a) for _ in range(random.randint(6, 14))) + " " +
          "".join(random.choice(a) for _ in range(random.randint(4, 9))))
PY
	mxs pattern import "$work/words" --field subject --action spam >/dev/null
	mxs pattern import "$work/words" --field content --action quarantine >/dev/null
}

echo "# milter: $(nproc) CPUs; milter on CPU $mcpu, client on CPU $ccpu; ${secs}s a case"
printf '%-34s %8s  %s\n' case bytes result
rc=0
exec 3>&1
start
r0=$(run "no rules (accepted at MAIL FROM)" 10240 | tail -1)
mxs content empty --action spam >/dev/null
start
r1=$(run "decoded, no pattern (empty rule)" 10240 | tail -1)
r1=$(run "decoded, no pattern (empty rule)" 1048576 | tail -1)
mxs content empty --action off >/dev/null
rules 1000
start
r2=$(run "1000 subject + 1000 content text" 10240 | tail -1)
r3=$(run "1000 subject + 1000 content text" 1048576 | tail -1)
hit=$(head -1 "$work/words")
r4=$(run "... subject matching a pattern" 10240 "re: $hit" | tail -1)
python3 - > "$work/re" <<'PY'
import random
random.seed(11)
a = "abcdefghijklmnopqrstuvwxyz"
for i in range(1000):
    w = "".join(random.choice(a) for _ in range(random.randint(5, 9)))
    print(f"\\b{w}\\s+(\\d+|[a-z]{{3}})\\b")
PY
mxs pattern import "$work/re" --field content --type regex --action spam >/dev/null
start
r5=$(run "... and 1000 content regexes" 10240 | tail -1)
r6=$(run "... and 1000 content regexes" 1048576 | tail -1)

if [ -n "$smoke" ]; then
	ok() { echo "ok - $1"; }
	bad() { echo "not ok - $1"; rc=1; }
	for r in "$r0" "$r1" "$r2" "$r3" "$r4" "$r5" "$r6"; do
		n=$(awk '{ print $2 }' <<<"$r")
		[ "${n:-0}" -gt 0 ] || { bad "milter benchmark: a case answered no message: $r"; }
	done
	# every message with the matching subject spam-marked (two headers each)
	n=$(awk '{ print $2 }' <<<"$r4"); h=$(sed 's/.*h=//' <<<"$r4")
	[ "$h" -ge $((2 * n)) ] && ok "milter benchmark ran; the matching subject was marked every time" ||
		bad "milter benchmark: $n messages, $h headers (expected 2 a message): $r4"
	n=$(awk '{ print $2 }' <<<"$r2"); h=$(sed 's/.*h=//' <<<"$r2")
	[ "$h" -eq 0 ] && ok "milter benchmark: no false hit on the plain messages" ||
		bad "milter benchmark: headers on messages that match nothing: $r2"
fi
exit $rc
