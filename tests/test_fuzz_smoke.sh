#!/usr/bin/env bash
# CI smoke run of the fuzz targets (docs/fuzzing.md): build them (clang,
# ASan, UBSan, libFuzzer) and run each on its corpus for a fixed number of
# inputs from a fixed seed, so that a run is repeatable: a harness that no
# longer builds, a seed that now crashes, or a property that no longer
# holds fails here. The fuzzing campaigns themselves are `make fuzz`.
set -u
cd "$(dirname "$0")/.."
runs=${FUZZ_SMOKE_RUNS:-2000}
work=$(mktemp -d /tmp/mxs-fuzzsmoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! make -s fuzz-build > "$work/build.log" 2>&1; then
	echo "not ok - fuzz targets build: $(grep -m1 -i error "$work/build.log")"
	exit 1
fi
echo "ok - fuzz targets build"
targets=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
FUZZ_OUT=$work/out FUZZ_CRASHES=$work/crashes FUZZ_RUNS=$runs \
	scripts/fuzz.sh 30 $targets > "$work/fuzz.log" 2>&1
for t in $targets; do
	row=$(awk -F'\t' -v t="$t" '$1 == t' "$work/out/results.tsv")
	execs=$(cut -f3 <<< "$row")
	crashes=$(cut -f6 <<< "$row")
	if [ -n "$row" ] && [ "${crashes:-1}" -eq 0 ] && [ "${execs:-0}" -ge "$runs" ]; then
		echo "ok - fuzz $t: $execs execs, 0 crashes"
	else
		echo "not ok - fuzz $t: ${execs:-?} execs, ${crashes:-?} crashes"
		grep -a -m3 -E '^SUMMARY|^fuzz check|ERROR:' "$work/out/logs/$t.log" | sed 's/^/# /'
	fi
done
