#!/usr/bin/env bash
# CI smoke run of the fuzz targets (docs/fuzzing.md): build them (clang,
# ASan, UBSan, libFuzzer) and run each on its corpus for a fixed number of
# inputs from a fixed seed, so that a run is repeatable: a harness that no
# longer builds, a seed that now crashes, or a property that no longer
# holds fails here. The fuzzing campaigns themselves are `make fuzz`.
#
# Targets in FUZZ_SMOKE_REPLAY (default: none) only replay their seeds:
# real files from the current ./mxshield must still load, be used and
# round-trip. (The snapshot target replayed only while store.c took
# entries unchecked; it validates every field now and mutates again.)
set -u
cd "$(dirname "$0")/.."
runs=${FUZZ_SMOKE_RUNS:-2000}
replay=" ${FUZZ_SMOKE_REPLAY-} "
work=$(mktemp -d /tmp/mxs-fuzzsmoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! make -s fuzz-build > "$work/build.log" 2>&1; then
	echo "not ok - fuzz targets build: $(grep -m1 -i error "$work/build.log")"
	exit 1
fi
echo "ok - fuzz targets build"
for t in $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'); do
	n=$runs what="execs"
	[[ $replay == *" $t "* ]] && n=0 what="seeds replayed (no mutation)"
	FUZZ_OUT=$work/out-$t FUZZ_CRASHES=$work/crashes FUZZ_RUNS=$n \
		scripts/fuzz.sh 60 "$t" > "$work/$t.log" 2>&1
	row=$(awk -F'\t' -v t="$t" '$1 == t' "$work/out-$t/results.tsv" 2>/dev/null)
	execs=$(cut -f3 <<< "$row")
	crashes=$(cut -f6 <<< "$row")
	if [ -n "$row" ] && [ "${crashes:-1}" -eq 0 ] && [ "${execs:-0}" -ge "$((n > 0 ? n : 1))" ]; then
		echo "ok - fuzz $t: $execs $what, 0 crashes"
	else
		echo "not ok - fuzz $t: ${execs:-?} $what, ${crashes:-?} crashes"
		grep -a -m3 -E '^SUMMARY|^fuzz check|ERROR:' "$work/out-$t/logs/$t.log" | sed 's/^/# /'
	fi
done
