#!/usr/bin/env bash
# Run the libFuzzer targets (make fuzz; docs/fuzzing.md) and report.
#
#   scripts/fuzz.sh SECONDS TARGET...     (the binaries: build/fuzz/fuzz_TARGET)
#
# Each target runs SECONDS on its corpus: tests/fuzz/corpus/TARGET (committed)
# plus generated seeds (scripts/fuzz-seeds.sh), growing a working corpus of
# its own under $FUZZ_OUT/corpus/TARGET that later runs start from. Crash
# reproducers (crash-*, leak-*, timeout-*, oom-*) go to build/fuzz/crashes/
# TARGET/, logs to $FUZZ_OUT/logs/TARGET.log. The end is a table of
# executions and crashes per target (libFuzzer's final
# stat::number_of_executed_units, -print_final_stats=1) and
# $FUZZ_OUT/results.tsv; the exit status is 1 when any target crashed.
#
# Targets named in FUZZ_KEEP_GOING (default: the store loaders, which have
# known crashes being fixed elsewhere; see docs/fuzzing.md) are restarted after a crash until
# their time is up, so one known bug does not end their campaign; their
# crashes still count.
#
# Environment: FUZZ_OUT (default build/fuzz/run), FUZZ_CRASHES (default
# build/fuzz/crashes), FUZZ_KEEP_GOING, FUZZ_ARGS (more libFuzzer flags),
# FUZZ_TIMEOUT (seconds one input may take, default 10), FUZZ_RUNS (run
# exactly that many inputs from a fixed seed instead: a repeatable smoke
# run, SECONDS then only bounds it; tests/test_fuzz_smoke.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: $0 SECONDS TARGET...}
shift
out=${FUZZ_OUT:-build/fuzz/run}
keep=" ${FUZZ_KEEP_GOING-snapshot journal} "
crashes=${FUZZ_CRASHES:-build/fuzz/crashes}
limit=()
[ -n "${FUZZ_RUNS:-}" ] && { limit=(-runs="$FUZZ_RUNS" -seed=1); keep=" "; }
mkdir -p "$out/logs" "$out/corpus" "$out/seeds" "$crashes"
# the store targets fsync every input: a tmpfs keeps that cheap
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=$(mktemp -d /dev/shm/mxs-fuzz.XXXXXX)
else
	tmp=$(mktemp -d "$PWD/build/fuzz/tmp.XXXXXX")
fi
trap 'rm -rf "$tmp"' EXIT

scripts/fuzz-seeds.sh "$out/seeds" || echo "fuzz: generated seeds failed; committed corpus only" >&2

# count_artifacts DIR: reproducer files in it
count_artifacts() { find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
	-o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) 2>/dev/null | wc -l; }

printf '%s\n' "target	seconds	execs	exec_per_s	corpus	crashes	distinct" > "$out/results.tsv"
status=0
for t in "$@"; do
	bin=build/fuzz/fuzz_$t
	work=$out/corpus/$t
	cdir=$crashes/$t
	log=$out/logs/$t.log
	mkdir -p "$work" "$cdir"
	seeds=()
	for d in "tests/fuzz/corpus/$t" "$out/seeds/$t"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	before=$(count_artifacts "$cdir")
	: > "$log"
	start=$(date +%s)
	execs=0
	runs=0
	while :; do
		left=$((secs - ($(date +%s) - start)))
		[ "$left" -gt 0 ] || break
		[ "$runs" -gt 0 ] && [[ $keep != *" $t "* ]] && break
		runs=$((runs + 1))
		# mxshield's own error messages (bad input refused) are left out
		TMPDIR=$tmp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/known.supp \
			"$bin" -max_total_time="$left" -print_final_stats=1 \
			-timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -artifact_prefix="$cdir/" \
			"${limit[@]}" ${FUZZ_ARGS:-} "$work" "${seeds[@]}" 2>&1 | grep -av '^mxshield: ' >> "$log"
		rc=${PIPESTATUS[0]}
		n=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
		# a crash before the first input completes prints no stats
		[ "$rc" -ne 0 ] || [ -n "$n" ] || { echo "fuzz: $t: no stats (see $log)" >&2; break; }
		execs=$((execs + ${n:-0}))
		echo "=== run $runs ended, status $rc" >> "$log"
		[ "$rc" -eq 0 ] && break
	done
	elapsed=$(($(date +%s) - start))
	found=$(($(count_artifacts "$cdir") - before))
	# distinct failures: sanitizer summaries (kind and place), failed
	# properties (file:line), timeouts and memory exhaustion
	distinct=$(grep -aoE '^SUMMARY: [A-Za-z]+Sanitizer: .*|^fuzz check [^ ]+|ERROR: libFuzzer: (timeout|out-of-memory)' \
		"$log" | sort -u | wc -l)
	# a crash whose input was already saved keeps its file name: count the run
	[ "$found" -eq 0 ] && grep -aq '^SUMMARY: \|^==.*ERROR: libFuzzer' "$log" && found=1
	[ "$found" -gt 0 ] && status=1
	corpus=$(find "$work" -type f | wc -l)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$elapsed" "$execs" \
		$((execs / (elapsed > 0 ? elapsed : 1))) "$corpus" "$found" "$distinct" >> "$out/results.tsv"
done

echo
column -t -s $'\t' "$out/results.tsv" | sed '1{p;s/./-/g}'
[ "$status" -eq 0 ] || echo "fuzz: crashes: reproducers under $crashes/, logs under $out/logs/" >&2
exit $status
