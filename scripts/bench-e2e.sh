#!/usr/bin/env bash
# End-to-end drop rate: real frames through a veth into three filters in
# turn, each holding the same N random block prefixes (build/flood --gen)
# plus 192.0.2.0/24 and 198.51.100.0/24, so that every generated source is
# blocked:
#
#   bare      tests/bench/bare.bpf.c: XDP drop of all TCP to port 25, no
#             lookup at all (the floor of any XDP filter)
#   mxshield  ./mxshield block import --replace, attach mx0 (native XDP)
#   nft       an interval set in an ingress chain on mx0 (table inet bench);
#             a pass-everything XDP program (bare.bpf.c, xdp_pass) stays on
#             mx0 so that the veth takes the generator's XDP_TX frames
#
#   generator namespace  gen0 ──veth── mx0  filter namespace (203.0.113.1/24)
#
# The generator (build/flood, tests/bench/flood.bpf.c) runs an XDP program
# in live-frame mode on gen0: TCP SYNs to 203.0.113.1:25 from a different
# host of the two /24s each, sent with XDP_TX. Each filter gets RUNS windows
# of WINDOW seconds, bare and mxshield in turn (a bare window, then a
# mxshield one, RUNS times: the VM's speed drifts by a few percent over a
# minute, and neighbouring windows share it); a rate is the filter's own
# drop counter over the window, the figure the median of the runs, and
# "window pairs" the ratio of each mxshield window to the bare one before.
#
# CPUs: the generator and mx0's NAPI poll (the filter) share a CPU (the
# scheduler's choice): every batch of 64 frames the generator sends is
# received and filtered on that CPU before the next, so nothing is lost and
# the rate is that of generator and filter together; ns/pkt is its
# inverse, and "+ns" over bare the filter's own cost per packet (generator,
# veth and XDP overheads are the same for all three and cancel).
# --split-cpu: the generator on CPU 0, mx0's NAPI polling in a kernel
# thread (threaded NAPI) pinned to CPU 1, a CPU for the filter alone;
# "lost" then counts frames the veth could not queue because the filter
# was behind (ring full). On a small VM the two CPUs are often hyperthreads
# of one core and the frames cross CPUs: slower and noisier.
#
# nft counters can only be read with the whole set (some 20 s a read at 1M
# prefixes): the script takes minutes at the default size.
#
# Usage (root): scripts/bench-e2e.sh [--smoke] [--split-cpu] [N_PREFIXES]
#   N_PREFIXES  default 1000000
#   --smoke     N=1000, 0.5 s windows; fails unless every filter dropped
# Environment: E2E_WINDOW (seconds, default 3), E2E_RUNS (default 5),
# E2E_SEED (prefix list, default 1), E2E_SKIP_NFT=1 (bare and mxshield
# only: the nft run takes minutes at 1M, for quick comparisons).
# Not a test: numbers depend on the machine; compare the ratios. The root
# network namespace is never touched; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

n=1000000 smoke=0 split=0
window=${E2E_WINDOW:-3} runs=${E2E_RUNS:-5} seed=${E2E_SEED:-1}
for a in "$@"; do
	case $a in
	--smoke) smoke=1 n=1000 window=${E2E_WINDOW:-0.5} ;;
	--split-cpu) split=1 ;;
	[0-9]*) n=$a ;;
	*) echo "usage: $0 [--smoke] [--split-cpu] [N_PREFIXES]" >&2; exit 2 ;;
	esac
done
[ "$(nproc)" -ge 2 ] || split=0

make -s all
MXS=$PWD/mxshield
FLOOD=$PWD/build/flood
id=$$
# under tests/run.sh, its run's prefix (LAB_NAME): another run beside it tells them apart
ns_pfx=${LAB_NAME:+$LAB_NAME-}
GEN=${ns_pfx}mxbe-gen-$id
FLT=${ns_pfx}mxbe-flt-$id
bpffs=/run/mxbe-$id
work=$(mktemp -d /tmp/mxbe.XXXXXX)
# documentation MAC addresses (RFC 7042)
MX_MAC=00:00:5e:00:53:01
GEN_MAC=00:00:5e:00:53:02

cleanup() {
	set +e
	local ns pids
	for ns in "$GEN" "$FLT"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one argument per process id
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	sleep 0.2
	if [ -n "$(ls -A "$bpffs" 2>/dev/null)" ]; then
		mx unload >/dev/null 2>&1
	fi
	mountpoint -q "$bpffs" && umount "$bpffs"
	rmdir "$bpffs" 2>/dev/null
	ip netns del "$GEN" 2>/dev/null
	ip netns del "$FLT" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mx() { ip netns exec "$FLT" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

napi_before=$(pgrep '^napi/mx0-' | sort || true)

# ---- the lab -----------------------------------------------------------
ip netns add "$GEN"
ip netns add "$FLT"
ip -n "$FLT" link add mx0 address $MX_MAC type veth peer name gen0 address $GEN_MAC netns "$GEN"
ip -n "$FLT" addr add 203.0.113.1/24 dev mx0
ip -n "$FLT" link set lo up
ip -n "$FLT" link set mx0 up
ip -n "$GEN" link set lo up
ip -n "$GEN" link set gen0 up
mkdir -p "$bpffs"
mount -t bpf bpf "$bpffs"
# --split-cpu: the generator on CPU 0, the filter on CPU 1
gen_cpu=0 napi_cpu=1

# After an attach, --split-cpu: mx0's NAPI (there while an XDP program is)
# polls in a kernel thread, pinned; a new one comes with every attach. Ours
# are those not there before the lab (no other mx0 polls in a thread).
pin_napi() {
	local p
	[ $split -eq 1 ] || return 0
	ip netns exec "$FLT" sh -c 'echo 1 > /sys/class/net/mx0/threaded'
	for p in $(comm -13 <(echo "$napi_before") <(pgrep '^napi/mx0-' | sort)); do
		taskset -pc $napi_cpu "$p" >/dev/null
	done
}

# ---- the block list, for all three -------------------------------------
"$FLOOD" --gen "$n" "$seed" >"$work/blocked.txt"
printf '192.0.2.0/24\n198.51.100.0/24\n' >>"$work/blocked.txt"
total=$(wc -l <"$work/blocked.txt")
{
	printf 'table inet bench {\n\tset blocked {\n\t\ttype ipv4_addr\n'
	printf '\t\tflags interval\n\t\tauto-merge\n\t\telements = {\n'
	sed 's/^/\t\t\t/; s/$/,/' "$work/blocked.txt"
	printf '\t\t}\n\t}\n\tchain ingress {\n'
	printf '\t\ttype filter hook ingress device "mx0" priority filter; policy accept;\n'
	printf '\t\tip saddr @blocked tcp dport 25 counter drop\n\t}\n}\n'
} >"$work/bench.nft"

# ---- counters ----------------------------------------------------------
xdp_prog_id() { ip -n "$FLT" -j link show mx0 | jq -r '.[0].xdp.prog.id // empty'; }

# sum over the CPUs of a per-CPU __u64 array (bpftool prints the bytes
# when it has no BTF for the map)
bare_drops() {
	local map
	map=$(bpftool prog show id "$(xdp_prog_id)" -j | jq -r '.map_ids[0]')
	bpftool map dump id "$map" -j | jq -r '
		def hex: ascii_downcase | explode |
			reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
		.[0] | if .formatted then [.formatted.values[].value] | add
		else [.values[].value | reverse | map(ltrimstr("0x")) | join("") | hex] | add end'
}
mxs_drops() { mx --json stats | jq -r '.xdp.drop'; }
# nft reads the whole set with any listing (some 20 s at 1M prefixes)
nft_drops() {
	ip netns exec "$FLT" nft -j list chain inet bench ingress |
		jq -r '[.nftables[].rule? // empty | .expr[] | .counter? // empty | .packets] | add // 0'
}

# window NAME COUNTER RUN: one window of the generator into the filter
# attached now; its drop rate, generator rate and loss are appended to
# rates[NAME], gens[NAME], losts[NAME] (space-separated), the drops added to
# drops[NAME]. finish NAME: the medians into rate[NAME], gen[NAME], lost[NAME].
declare -A rates gens losts rate gen lost drops
window() {
	local name=$1 counter=$2 r=$3 before after out sent secs mpps l d
	before=$($counter)
	if [ $split -eq 1 ]; then
		out=$(taskset -c $gen_cpu ip netns exec "$GEN" "$FLOOD" gen0 "$window" $MX_MAC)
	else
		out=$(ip netns exec "$GEN" "$FLOOD" gen0 "$window" $MX_MAC)
	fi
	after=$($counter)
	d=$((after - before))
	drops[$name]=$((${drops[$name]:-0} + d))
	read -r _ sent _ secs _ mpps _ l <<<"$out"
	last_rate=$(awk -v d=$d -v s="$secs" 'BEGIN { printf "%.3f", d / s / 1e6 }')
	rates[$name]+=" $last_rate"
	gens[$name]+=" $mpps"
	losts[$name]+=" $(awk -v l="$l" -v s="$sent" 'BEGIN { printf "%.1f", (l == "-" ? -1 : 100 * l / s) }')"
	printf '#   %-8s run %d: %d drops in %s s = %s Mpps; generator %s Mpps, %s lost\n' \
		"$name" "$r" $d "$secs" "$last_rate" "$mpps" "$l"
}
finish() {
	local name=$1
	rate[$name]=$(printf '%s\n' ${rates[$name]} | median)
	gen[$name]=$(printf '%s\n' ${gens[$name]} | median)
	lost[$name]=$(printf '%s\n' ${losts[$name]} | median)
}

echo "# $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)," \
	"load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "# $total blocked IPv4 prefixes ($n random, seed $seed, + 192.0.2.0/24, 198.51.100.0/24)"
if [ $split -eq 1 ]; then
	echo "# generator on CPU $gen_cpu, mx0 NAPI thread on CPU $napi_cpu (--split-cpu);" \
		"$runs runs x $window s"
else
	echo "# generator and mx0 NAPI on one CPU; $runs runs x $window s"
fi

# ---- (a) bare and (b) mxshield, window by window in turn ---------------
# (the VM's speed drifts over a minute by a few percent: pairs of windows
# next to each other make the ratio hold)
t0=$(now)
mx block import "$work/blocked.txt" --replace >/dev/null
mxs_import=$(elapsed "$t0")
echo "# mxshield: block import --replace of $total prefixes: $mxs_import s"
pairs=""
for r in $(seq "$runs"); do
	ip -n "$FLT" link set dev mx0 xdpdrv obj build/bare.bpf.o sec xdp
	pin_napi
	window bare bare_drops "$r"
	b=$last_rate
	ip -n "$FLT" link set dev mx0 xdpdrv off
	mx attach mx0 --mode native >/dev/null
	pin_napi
	window mxshield mxs_drops "$r"
	mx detach mx0 >/dev/null
	pairs+=" $(awk -v a="$last_rate" -v b="$b" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
done
mx unload >/dev/null
finish bare
finish mxshield

# ---- (c) nftables ----------------------------------------------------------
filters="bare mxshield nft"
if [ "${E2E_SKIP_NFT:-0}" = 1 ]; then
	filters="bare mxshield" nft_load=-
	rate[nft]=0 gen[nft]=- lost[nft]=-
else
	t0=$(now)
	ip netns exec "$FLT" nft -f "$work/bench.nft"
	nft_load=$(elapsed "$t0")
	echo "# nft: nft -f of the interval set ($total prefixes, auto-merge) and chain: $nft_load s"
	echo "# nft: XDP_PASS program (bare.bpf.c, section xdp_pass) on mx0 for the veth's XDP path"
	ip -n "$FLT" link set dev mx0 xdpdrv obj build/bare.bpf.o sec xdp_pass
	pin_napi
	for r in $(seq "$runs"); do
		window nft nft_drops "$r"
	done
	finish nft
	ip -n "$FLT" link set dev mx0 xdpdrv off
	ip netns exec "$FLT" nft delete table inet bench
fi

# ---- results -------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
nspp() { awk -v r="$1" 'BEGIN { printf "%.1f", (r > 0 ? 1e3 / r : 0) }'; }
printf '\n%-9s %11s %8s %8s %8s %10s %7s\n' FILTER "DROP Mpps" "vs BARE" "ns/pkt" \
	"+ns" "GEN Mpps" "LOST %"
for f in $filters; do
	printf '%-9s %11s %8s %8s %8s %10s %7s\n' "$f" "${rate[$f]}" \
		"$(ratio "${rate[$f]}" "${rate[bare]}")" "$(nspp "${rate[$f]}")" \
		"$(awk -v a="$(nspp "${rate[$f]}")" -v b="$(nspp "${rate[bare]}")" \
			'BEGIN { printf "%.1f", a - b }')" "${gen[$f]}" "${lost[$f]}"
done
echo "mxshield/bare, window pairs:$pairs (median $(printf '%s\n' $pairs | median))"
echo "mxshield/nft: $(ratio "${rate[mxshield]}" "${rate[nft]}")"
echo "load: mxshield block import $mxs_import s, nft -f $nft_load s ($total prefixes)"

if [ $smoke -eq 1 ]; then
	bad=0
	for f in $filters; do
		if [ "${drops[$f]:-0}" -gt 0 ]; then
			echo "ok - $f dropped the flood (${drops[$f]} packets)"
		else
			echo "not ok - $f dropped nothing"
			bad=1
		fi
	done
	exit $bad
fi
