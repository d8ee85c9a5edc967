#!/usr/bin/env bash
# Loading a big block list: for each N, N random IPv4 prefixes (build/flood
# --gen, the list of scripts/bench-e2e.sh) put into
#
#   ipset     `ipset restore` of a hash:net set (maxelem N + 1024)
#   nft       `nft -f` of an interval set (auto-merge: the random prefixes
#             overlap) in table inet bench
#   mxshield  `mxshield block import FILE --replace` into a fresh state and
#             bpffs (program and maps loaded, lists compiled and installed);
#             then `--replace` by another list of N (a swap: the first list
#             is live until the second one is), and one `block add` and one
#             `block del` on the full list (patched in place)
#
# each RUNS times, every run in a fresh network namespace (and for mxshield
# a fresh bpffs and state directory); the time is the median. Memory:
# ipset's "Size in memory" (ipset list -t), mxshield's compiled IPv4
# classifier and all its maps (mxshield --json status: compiled_ipv4_bytes,
# memory_bytes); nftables reports none.
#
# Usage (root): scripts/bench-import.sh [N...]   (default 100000 1000000)
# Environment: IMPORT_RUNS (default 3), IMPORT_SEED (default 1).
# Not a test: numbers depend on the machine. The root network namespace is
# never touched; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
for s in "${sizes[@]}"; do
	[[ $s =~ ^[0-9]+$ ]] || { echo "usage: $0 [N...]" >&2; exit 2; }
done
runs=${IMPORT_RUNS:-3} seed=${IMPORT_SEED:-1}

make -s all
MXS=$PWD/mxshield
FLOOD=$PWD/build/flood
id=$$
NS=
bpffs=/run/mxbi-$id
work=$(mktemp -d /tmp/mxbi.XXXXXX)

# the namespace of the current run, with its bpffs
ns_down() {
	if [ -n "$(ls -A "$bpffs" 2>/dev/null)" ]; then
		mx unload >/dev/null 2>&1 || true
	fi
	if mountpoint -q "$bpffs"; then umount "$bpffs"; fi
	rmdir "$bpffs" 2>/dev/null || true
	if [ -n "$NS" ]; then ip netns del "$NS" 2>/dev/null || true; fi
	rm -rf "$work/state"
	NS=
}
cleanup() {
	set +e
	local pids
	if [ -n "$NS" ]; then
		pids=$(ip netns pids "$NS" 2>/dev/null)
		# shellcheck disable=SC2086 # one argument per process id
		[ -n "$pids" ] && kill $pids 2>/dev/null
	fi
	ns_down
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ns_up() {
	NS=${LAB_NAME:+$LAB_NAME-}mxbi-$id-$1	# run.sh: its run's prefix
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	mkdir -p "$bpffs"
	mount -t bpf bpf "$bpffs"
}

mx() { ip netns exec "$NS" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
mib() {
	awk -v b="$1" 'BEGIN { if (b < 1048576) printf "%.0f KiB", b / 1024
			       else printf "%.1f MiB", b / 1048576 }'
}

echo "# $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d), load average" \
	"$(cut -d" " -f1-3 /proc/loadavg); median of $runs runs, seed $seed"
rows=()
for n in "${sizes[@]}"; do
	"$FLOOD" --gen "$n" "$seed" >"$work/list.txt"
	"$FLOOD" --gen "$n" "$((seed + 1))" >"$work/list2.txt"
	{
		echo "create blocked hash:net family inet maxelem $((n + 1024))"
		sed 's/^/add blocked /' "$work/list.txt"
	} >"$work/list.ipset"
	{
		printf 'table inet bench {\n\tset blocked {\n\t\ttype ipv4_addr\n'
		printf '\t\tflags interval\n\t\tauto-merge\n\t\telements = {\n'
		sed 's/^/\t\t\t/; s/$/,/' "$work/list.txt"
		printf '\t\t}\n\t}\n}\n'
	} >"$work/list.nft"
	t_ipset=() t_nft=() t_mxs=() ms_mxs=() t_swap=() t_add=() t_del=()
	for r in $(seq "$runs"); do
		ns_up "$r"
		t0=$(now)
		ip netns exec "$NS" ipset restore <"$work/list.ipset"
		t_ipset+=("$(elapsed "$t0")")
		ipset_list=$(ip netns exec "$NS" ipset list -t blocked)
		ipset_mem=$(awk -F': ' '/^Size in memory/ { print $2 }' <<<"$ipset_list")
		ipset_n=$(awk -F': ' '/^Number of entries/ { print $2 }' <<<"$ipset_list")

		t0=$(now)
		ip netns exec "$NS" nft -f "$work/list.nft"
		t_nft+=("$(elapsed "$t0")")

		t0=$(now)
		summary=$(mx --json block import "$work/list.txt" --replace)
		t_mxs+=("$(elapsed "$t0")")
		ms_mxs+=("$(jq -r '.milliseconds // 0' <<<"$summary")")
		status=$(mx --json status)
		mxs_n=$(jq -r '.entries // 0' <<<"$summary")
		mxs_cmem=$(jq -r '.compiled_ipv4_bytes // 0' <<<"$status")
		mxs_mem=$(jq -r '.memory_bytes // 0' <<<"$status")
		t0=$(now)
		mx block import "$work/list2.txt" --replace >/dev/null
		t_swap+=("$(elapsed "$t0")")
		t0=$(now)
		mx block add 192.0.2.1 >/dev/null
		t_add+=("$(elapsed "$t0")")
		t0=$(now)
		mx block del 192.0.2.1 >/dev/null
		t_del+=("$(elapsed "$t0")")
		printf '#   %8d run %d: ipset %s s, nft %s s, mxshield %s s, --replace %s s, ' \
			"$n" "$r" "${t_ipset[-1]}" "${t_nft[-1]}" "${t_mxs[-1]}" "${t_swap[-1]}"
		printf 'add %s s, del %s s\n' "${t_add[-1]}" "${t_del[-1]}"
		ns_down
	done
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" ipset \
		"$(printf '%s\n' "${t_ipset[@]}" | median)" "$(mib "$ipset_mem") (Size in memory)" \
		"hash:net, $ipset_n entries")")
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" nft \
		"$(printf '%s\n' "${t_nft[@]}" | median)" "-" "interval set, auto-merge")")
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" mxshield \
		"$(printf '%s\n' "${t_mxs[@]}" | median)" \
		"$(mib "$mxs_cmem") compiled, $(mib "$mxs_mem") maps" \
		"$mxs_n entries; import's own time $(printf '%s\n' "${ms_mxs[@]}" | median) ms")")
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" mxshield \
		"$(printf '%s\n' "${t_swap[@]}" | median)" "-" \
		"--replace by another list of $n (a swap)")")
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" mxshield \
		"$(printf '%s\n' "${t_add[@]}" | median)" "-" "block add of one entry (in place)")")
	rows+=("$(printf '%-9s %-9s %8s  %-36s %s' "$n" mxshield \
		"$(printf '%s\n' "${t_del[@]}" | median)" "-" "block del of one entry (in place)")")
done
printf '\n%-9s %-9s %8s  %-36s %s\n' PREFIXES TOOL "LOAD s" MEMORY NOTES
printf '%s\n' "${rows[@]}"
