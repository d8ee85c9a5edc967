#!/usr/bin/env bash
# Crash consistency: kill -9 at random moments of `block import --replace`
# (200k prefixes, list A <-> list B) and of single adds and deletes. After
# each kill and the next command (restore), the state parses, the data
# plane (real TCP from marker sources) agrees with the state, the state is
# wholly list A or wholly list B, and no acknowledged change is lost.
# CRASH_KILLS (default 20 imports + 10 single-change runs) sets how many.
source "$(dirname "$0")/lib.sh"

MA=198.51.100.10 MB=198.51.100.20
KILLS=${CRASH_KILLS:-20}
SINGLE=${CRASH_SINGLE:-10}
lab_up $MA
ip -n "$CL" addr add $MB/24 dev cl0 2>/dev/null
check "attach" mx attach mx0
# two lists of 200k /32s and 256 /24s in 100.64.0.0/10 (never traffic), each
# with its marker
gen() {
	awk -v off="$1" 'BEGIN { for (i = 0; i < 200000; i++)
		printf "100.%d.%d.%d/32\n", 64 + int(i / 65536) + off, int(i / 256) % 256, i % 256
		for (i = 0; i < 256; i++) printf "100.%d.%d.0/24\n", 72 + off, i }'
}
{ gen 0; echo $MA/32; } >"$work/A.txt"
{ gen 4; echo $MB/32; } >"$work/B.txt"
check "import list A" mx block import "$work/A.txt" --replace
nA=$(wc -l <"$work/A.txt")

# which list the state holds: A, B, or MIXED
state_is() {
	local has_a has_b
	mx block list >"$work/list.out" 2>"$work/list.err" || { echo DAMAGED; return; }
	has_a=$(grep -c "^$MA/32 " "$work/list.out")
	has_b=$(grep -c "^$MB/32 " "$work/list.out")
	if [ "$has_a" = 1 ] && [ "$has_b" = 0 ]; then echo A
	elif [ "$has_a" = 0 ] && [ "$has_b" = 1 ]; then echo B
	else echo "MIXED($has_a,$has_b)"; fi
}
# which list the data plane enforces: the marker that cannot connect
plane_is() {
	local a b
	cannot_connect $MA 25 && a=1 || a=0
	cannot_connect $MB 25 && b=1 || b=0
	if [ $a = 1 ] && [ $b = 0 ]; then echo A
	elif [ $a = 0 ] && [ $b = 1 ]; then echo B
	else echo "MIXED($a,$b)"; fi
}

bad=0
cur=A
for i in $(seq "$KILLS"); do
	next=$([ $cur = A ] && echo B || echo A)
	delay=$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.3f", rand() * 0.45 }')
	mx block import "$work/$next.txt" --replace >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	# the controller itself (mx runs it under ip netns exec)
	pkill -9 -f "^$MXS --state-dir $work/state .*block import" 2>/dev/null
	wait $pid
	acked=$?
	mx restore >/dev/null 2>&1
	s=$(state_is)
	p=$(plane_is)
	n=$(grep -vc "^PREFIX " "$work/list.out")
	if [ "$acked" = 0 ] && [ "$s" != "$next" ]; then
		not_ok "kill $i after ${delay}s: import acknowledged but the state holds $s"
		bad=1
	elif [ "$s" != A ] && [ "$s" != B ]; then
		not_ok "kill $i after ${delay}s: state is $s" "$(cat "$work/list.err")"
		bad=1
	elif [ "$p" != "$s" ]; then
		not_ok "kill $i after ${delay}s: state $s but the data plane enforces $p"
		bad=1
	elif [ "$n" != "$(wc -l <"$work/$s.txt")" ]; then
		not_ok "kill $i after ${delay}s: list $s with $n entries, not wholly"
		bad=1
	else
		ok "kill $i at ${delay}s of import --replace ($([ $acked = 0 ] && echo done ||
			echo killed)): state $s, data plane $s, $n entries"
	fi
	check "... state check sound after kill $i" mx state check
	cur=$s
done

# single changes: adds and deletes of /32s in 203.0.113.128/25, killed at
# random; every one acknowledged (exit 0) must be in the state and in the
# live build (lookup reads the compiled maps).
for i in $(seq "$SINGLE"); do
	: >"$work/acked"
	(
		# "? ADDR" before each change: the one under way when the kill
		# comes was never acknowledged, and may or may not have happened
		for k in $(seq 100 140); do
			echo "? 203.0.113.$k" >>"$work/acked"
			if mx block add 203.0.113.$k/32 >/dev/null 2>&1; then
				echo "+ 203.0.113.$k" >>"$work/acked"
			fi
			[ $((k % 3)) = 0 ] || continue
			echo "? 203.0.113.$k" >>"$work/acked"
			if mx block del 203.0.113.$k/32 >/dev/null 2>&1; then
				echo "- 203.0.113.$k" >>"$work/acked"
			fi
		done
	) &
	loop=$!
	sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.3f", 0.3 + rand() * 1.5 }')"
	pkill -9 -f "^$MXS --state-dir $work/state .*block (add|del)" 2>/dev/null
	kill $loop 2>/dev/null
	wait $loop 2>/dev/null
	pkill -9 -f "^$MXS --state-dir $work/state .*block (add|del)" 2>/dev/null
	mx restore >/dev/null 2>&1
	lost=0 wrong=0
	mx block list >"$work/list.out" 2>/dev/null
	# the last acknowledged word on each address
	declare -A want=()
	while read -r op a; do want[$a]=$op; done <"$work/acked"
	for a in "${!want[@]}"; do
		[ "${want[$a]}" = "?" ] && continue	# in flight: either is right
		inlist=$(grep -c "^$a/32 " "$work/list.out")
		verdict=$(mx --json lookup "$a" | jq -r .verdict)
		if [ "${want[$a]}" = + ]; then
			[ "$inlist" = 1 ] || lost=$((lost + 1))
			[ "$verdict" = drop ] || wrong=$((wrong + 1))
		else
			[ "$inlist" = 0 ] || lost=$((lost + 1))
			[ "$verdict" != drop ] || wrong=$((wrong + 1))
		fi
	done
	if [ $lost = 0 ] && [ $wrong = 0 ]; then
		ok "single-change kill $i: $(grep -c '^[+-]' "$work/acked") acknowledged changes kept, live build agrees"
	else
		not_ok "single-change kill $i" "$lost acknowledged changes lost, $wrong verdicts differ"
	fi
	unset want
	check "... state check sound after single-change kill $i" mx state check
	mx block import "$work/$cur.txt" --replace >/dev/null 2>&1
done
lab_finish
