#!/usr/bin/env bash
# Run every mxshield test and end with "N passed, N failed".
#
# Each test is a program (build/test_*) or a script (tests/test_*.sh) that
# prints one line per check: "ok - NAME" or "not ok - NAME [reason]". A test
# that exits non-zero without printing a "not ok" counts one failure.
# Usage: tests/run.sh [FILTER]   (only tests whose name contains FILTER)
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
pass=0 fail=0
# Every test names its namespaces after $LAB_NAME (scripts/lab.sh, the
# bench scripts): a namespace left behind is told from one of another run
# going on beside this one (mx...), and every other new namespace counts.
export LAB_NAME=${LAB_NAME:-mxt$$}
netns_mine() { ip netns list 2>/dev/null | awk '{print $1}' | grep -v "^mx" ; \
	ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_NAME"; }
log=$(mktemp -d /tmp/mxs-testlog.XXXXXX)

run_one() {
	local name=$1; shift
	[ -n "$filter" ] && [[ $name != *"$filter"* ]] && return
	echo "=== $name"
	local ns_before
	ns_before=$(netns_mine | sort)
	"$@" > "$log/$name.out" 2>&1
	local rc=$?
	cat "$log/$name.out"
	# Tests clean up after themselves, failed or not: no namespace and no
	# controller process of this tree may outlive the test.
	local left
	left=$(comm -13 <(echo "$ns_before") \
		<(netns_mine | sort) | tr '\n' ' ')
	left+=$(pgrep -f "^$PWD/mxshield " | tr '\n' ' ')
	local p f
	p=$(grep -c '^ok - ' "$log/$name.out")
	f=$(grep -c '^not ok - ' "$log/$name.out")
	# (a leak counts like any other check)
	if [ -n "${left// /}" ]; then
		echo "not ok - $name left behind: $left"
		f=$((f + 1))
	elif [ "$p" -gt 0 ] || [ "$f" -gt 0 ]; then
		echo "ok - $name left no namespace or controller process behind"
		p=$((p + 1))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name ran no check"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f))
}

for t in build/test_*; do
	[ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
	[ -f "$t" ] && run_one "$(basename "$t" .sh)" bash "$t"
done
rm -rf "$log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
