#!/usr/bin/env bash
# End-to-end drop rate: real frames through a veth into three filters in
# turn, each holding the same N random block prefixes (build/flood --gen)
# plus 192.0.2.0/24 and 198.51.100.0/24, so that every generated source is
# blocked, from two sets of sources in turn:
#
#   doc       a host of the two documentation /24s per frame (508 sources:
#             the packet path, with the classifier's data in cache)
#   rand      a random one of E2E_SOURCES (default 65,536) distinct hosts
#             of random prefixes of the list (build/flood --sources): every
#             frame a blocked hit at a random place in the classifier, with
#             its cache misses
#
# The filters:
#
#   bare      tests/bench/bare.bpf.c: XDP drop of all TCP to port 25, no
#             lookup at all (the floor of any XDP filter)
#   mxshield  ./mxshield block import --replace, attach mx0 (native XDP)
#   nft       an interval set in an ingress chain on mx0 (table inet bench);
#             a pass-everything XDP program (bare.bpf.c, xdp_pass) stays on
#             mx0 so that the veth takes the generator's XDP_TX frames, and
#             counts them: the frames nft drops (nft reads its own counter
#             only with the whole set, some 30 s at 1M: read once, at the
#             end, to check that it dropped every one)
#
#   generator namespace  gen0 ──veth── mx0  filter namespace (203.0.113.1/24)
#
# The generator (build/flood, tests/bench/flood.bpf.c) runs an XDP program
# in live-frame mode on gen0: TCP SYNs to 203.0.113.1:25, each from a
# source of the set, sent with XDP_TX. RUNS rounds, each a window of WINDOW
# seconds for every filter and set in turn (bare, mxshield, nft with doc
# sources, then the same with random ones: the VM's speed drifts by a few
# percent over a minute, and neighbouring windows share it); a rate is the
# filter's own drop counter over the window, the figure the median of the
# runs, and "rounds" the ratio of mxshield's window to bare's and nft's of
# the same round and set.
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
# of one core and the frames cross CPUs: slower and noisier. The NAPI
# thread runs SCHED_FIFO at priority E2E_RT (default 50; 0: not changed),
# so that other work on a shared machine moves to the generator's CPU
# instead of taking turns with the filter (without it, at a load average of
# 7 on 2 CPUs, bare XDP fell from 4 to 0.7 Mpps, window to window 2x apart).
#
# --events: mxshield alone, with drop events on and off in turn (window by
# window, as above): "off" is the cap at 0 (events disabled), "on" the cap
# at E2E_EV_RATE events a second (default 1000, per-source limit off, so
# the flood's 508 sources keep the cap reached: events are emitted at the
# cap every second and every other packet takes the suppressed path),
# with a reader (`mxshield events --json`) running throughout both.
#
# --churn: mxshield alone, new /32 entries pushed to the block list's
# "auto" source one at a time (build/churn: srcq_push for each, srcq_flush
# on the service's schedule) at E2E_CHURN_RATE a second (default 5000)
# during every other window (all of it but the last quarter, at most
# 0.5 s, so that the last pushes go live while the probes still run):
# "churn" and "quiet" windows in turn. The
# flood (508 documentation sources) sends one frame in 4 from a just-
# pushed address (flood --probe: a ring of the last 4,096 pushes), and
# the drop events (cap 1,000,000 a second, one a source and second) give
# the moment each pushed address first dropped at the NIC: build/churn
# reports the latency from each push to that drop, the entries a second
# pushed and applied, and the flush times. With --split-cpu the driver
# shares the generator's CPU (E2E_CHURN_CPU), and the generator, slowed,
# sets the flood's pace (see docs/benchmarks.md); without, generator and
# filter share CPU 0 and the driver has CPU 1: the flood's rate then moves
# only with what the churn does to the data plane.
#
# Usage (root): scripts/bench-e2e.sh [--smoke] [--split-cpu] [--events|--churn] [N_PREFIXES]
#   N_PREFIXES  default 1000000
#   --smoke     N=1000, 0.5 s windows; fails unless every filter dropped
# Environment: E2E_WINDOW (seconds, default 3), E2E_RUNS (default 5),
# E2E_SEED (prefix list and sources, default 1), E2E_SOURCES (random
# sources, default 65536), E2E_SKIP_NFT=1 (bare and mxshield only: loading
# the nft set takes some 15 s at 1M, for quick comparisons).
# Not a test: numbers depend on the machine; compare the ratios. The root
# network namespace is never touched; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

n=1000000 smoke=0 split=0 events=0 churn=0
window=${E2E_WINDOW:-3} runs=${E2E_RUNS:-5} seed=${E2E_SEED:-1}
nsrc=${E2E_SOURCES:-65536}
rt=${E2E_RT:-50}
for a in "$@"; do
	case $a in
	--smoke) smoke=1 n=1000 window=${E2E_WINDOW:-0.5} nsrc=${E2E_SOURCES:-1000} ;;
	--split-cpu) split=1 ;;
	--events) events=1 ;;
	--churn) churn=1 ;;
	[0-9]*) n=$a ;;
	*) echo "usage: $0 [--smoke] [--split-cpu] [--events|--churn] [N_PREFIXES]" >&2; exit 2 ;;
	esac
done
[ "$(nproc)" -ge 2 ] || split=0

make -s all
MXS=$PWD/mxshield
FLOOD=$PWD/build/flood
id=$$
GEN=${LAB_NAME:-mx}be-gen-$id
FLT=${LAB_NAME:-mx}be-flt-$id
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
	mountpoint -q "$bpffs.probe" && umount "$bpffs.probe"
	rmdir "$bpffs.probe" 2>/dev/null
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
		# SCHED_FIFO: the filter's CPU is the filter's, whatever else
		# the machine runs (the kernel's RT throttling leaves others 5%)
		[ "$rt" -gt 0 ] && chrt -f -p "$rt" "$p"
	done
}

# ---- the block list, for all three -------------------------------------
"$FLOOD" --gen "$n" "$seed" >"$work/blocked.txt"
# the random sources: hosts of random prefixes of the list (not of the
# documentation /24s), the same for every filter
"$FLOOD" --sources "$nsrc" "$seed" "$work/blocked.txt" >"$work/sources.txt"
printf '192.0.2.0/24\n198.51.100.0/24\n' >>"$work/blocked.txt"
total=$(wc -l <"$work/blocked.txt")
{
	printf 'table inet bench {\n\tcounter drops { }\n\tset blocked {\n\t\ttype ipv4_addr\n'
	printf '\t\tflags interval\n\t\tauto-merge\n\t\telements = {\n'
	sed 's/^/\t\t\t/; s/$/,/' "$work/blocked.txt"
	printf '\t\t}\n\t}\n\tchain ingress {\n'
	printf '\t\ttype filter hook ingress device "mx0" priority filter; policy accept;\n'
	printf '\t\tip saddr @blocked tcp dport 25 counter name "drops" drop\n\t}\n}\n'
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
# nft reads the whole set with any listing, even of one counter (some 30 s
# at 1M prefixes): read once, at the end
nft_drops() {
	ip netns exec "$FLT" nft -j list counter inet bench drops |
		jq -r '[.nftables[].counter? // empty | .packets] | add // 0'
}

# window NAME COUNTER RUN: one window (flood_opts: the generator's options) of the generator into the filter
# attached now; its drop rate, generator rate and loss are appended to
# rates[NAME], gens[NAME], losts[NAME] (space-separated), the drops added to
# drops[NAME]. finish NAME: the medians into rate[NAME], gen[NAME], lost[NAME].
declare -A rates gens losts rate gen lost drops
flood_opts=()
# E2E_PROG_STATS=1: the kernel's BPF statistics on during each window
# (flood --prog-stats), and the filter program's own time per frame printed
# (they cost every program run some 20-40 ns: a diagnosis, not the figures)
prog_stats=${E2E_PROG_STATS:-0}
prog_runtime() {
	bpftool prog show id "$(xdp_prog_id)" -j | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}
window() {
	local name=$1 counter=$2 r=$3 before after out sent secs mpps l d ps=() t0 c0 t1 c1
	local in=""
	before=$($counter)
	if [ "$prog_stats" = 1 ]; then
		ps=(--prog-stats)
		read -r t0 c0 <<<"$(prog_runtime)"
	fi
	if [ "${E2E_PERF:-}" = "$name" ]; then
		# a profile of the whole machine (software clock: no PMU in a VM)
		perf record -q -a -g -e cpu-clock -o "$work/perf.$r.data" -- sleep "$window" \
			>/dev/null 2>&1 &
	fi
	if [ $split -eq 1 ] || [ $churn -eq 1 ]; then
		out=$(taskset -c $gen_cpu ip netns exec "$GEN" "$FLOOD" "${flood_opts[@]}" \
			"${ps[@]}" gen0 "$window" $MX_MAC)
	else
		out=$(ip netns exec "$GEN" "$FLOOD" "${flood_opts[@]}" "${ps[@]}" \
			gen0 "$window" $MX_MAC)
	fi
	after=$($counter)
	if [ "${E2E_PERF:-}" = "$name" ]; then
		wait
		echo "#   $name run $r: where the CPUs' time went (perf, cpu-clock, top symbols):"
		perf report -q -i "$work/perf.$r.data" --no-children -g none --sort comm,sym 2>/dev/null |
			grep '%' | head -${E2E_PERF_TOP:-15} | sed 's/^/#     /'
	fi
	if [ "$prog_stats" = 1 ]; then
		read -r t1 c1 <<<"$(prog_runtime)"
		in=$(awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.0f", (c > 0 ? t / c : 0) }')
		in="; in the XDP program $in ns a frame"
	fi
	d=$((after - before))
	drops[$name]=$((${drops[$name]:-0} + d))
	read -r _ sent _ secs _ mpps _ l <<<"$out"
	last_rate=$(awk -v d=$d -v s="$secs" 'BEGIN { printf "%.3f", d / s / 1e6 }')
	rates[$name]+=" $last_rate"
	gens[$name]+=" $mpps"
	losts[$name]+=" $(awk -v l="$l" -v s="$sent" 'BEGIN { printf "%.1f", (l == "-" ? -1 : 100 * l / s) }')"
	printf '#   %-8s run %d: %d drops in %s s = %s Mpps; generator %s Mpps, %s lost%s\n' \
		"$name" "$r" $d "$secs" "$last_rate" "$mpps" "$l" "$in"
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

# ---- --events: mxshield with drop events off and on, in turn ----------------
ev_counts() { mx --json stats | jq -r '"\(.events.emitted) \(.events.suppressed)"'; }
if [ $events -eq 1 ]; then
	ev_rate=${E2E_EV_RATE:-1000}
	mx block import "$work/blocked.txt" --replace >/dev/null
	mx attach mx0 --mode native >/dev/null
	pin_napi
	ip netns exec "$FLT" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" \
		events --json >"$work/events.jsonl" &
	echo "# events: cap 0 (off) and $ev_rate/s, per source off (on); a reader throughout"
	pairs="" evs=""
	for r in $(seq "$runs"); do
		mx events --rate 0 --seconds 0 >/dev/null
		window ev-off mxs_drops "$r"
		off=$last_rate
		mx events --rate "$ev_rate" --per-source off --seconds 0 >/dev/null
		read -r e0 s0 <<<"$(ev_counts)"
		t0=$(now)
		window ev-on mxs_drops "$r"
		read -r e1 s1 <<<"$(ev_counts)"
		evs+=" $(awk -v e=$((e1 - e0)) -v t="$(elapsed "$t0")" 'BEGIN { printf "%.0f", e / t }')"
		echo "#   ev-on    run $r: $((e1 - e0)) events emitted, $((s1 - s0)) suppressed"
		pairs+=" $(awk -v a="$last_rate" -v b="$off" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
	done
	finish ev-off
	finish ev-on
	printf '\n%-9s %11s %8s %10s %7s\n' EVENTS "DROP Mpps" "ns/pkt" "GEN Mpps" "LOST %"
	for f in ev-off ev-on; do
		printf '%-9s %11s %8s %10s %7s\n' "$f" "${rate[$f]}" \
			"$(awk -v r="${rate[$f]}" 'BEGIN { printf "%.1f", (r > 0 ? 1e3 / r : 0) }')" \
			"${gen[$f]}" "${lost[$f]}"
	done
	echo "on/off, window pairs:$pairs (median $(printf '%s\n' $pairs | median))"
	echo "events emitted a second in the on windows (with the reads between):$evs"
	echo "events read by the reader: $(wc -l <"$work/events.jsonl")"
	if [ $smoke -eq 1 ]; then
		[ "${drops[ev-on]:-0}" -gt 0 ] && [ -s "$work/events.jsonl" ] &&
			echo "ok - events on: dropped and reported" && exit 0
		echo "not ok - events on: nothing dropped or reported"
		exit 1
	fi
	exit 0
fi

# ---- --churn: mxshield, churn and quiet windows in turn ---------------------
if [ $churn -eq 1 ]; then
	crate=${E2E_CHURN_RATE:-5000}
	# --split-cpu: on the generator's CPU (the filter's is the filter's);
	# else generator and filter on CPU 0, the driver on CPU 1
	ccpu=${E2E_CHURN_CPU:-$gen_cpu}
	[ $split -eq 1 ] || ccpu=${E2E_CHURN_CPU:-$napi_cpu}
	mkdir -p "$bpffs.probe"
	mount -t bpf bpf "$bpffs.probe"
	probe=$bpffs.probe/ring
	mx block import "$work/blocked.txt" --replace >/dev/null
	mx attach mx0 --mode native >/dev/null
	pin_napi
	mx events --rate 1000000 --per-source on --seconds 0 >/dev/null
	# a probe from an address whose entry is not live yet passes: drop it
	# at the ingress hook, before IP and TCP (no RST, no route lookup), so
	# that a churn window's passes cost the filter's CPU little
	ip netns exec "$FLT" nft -f - <<-'EOF'
		table netdev churn {
			chain in {
				type filter hook ingress device "mx0" priority 0; policy drop;
			}
		}
	EOF
	flood_opts=(--probe "$probe" --probe-shift 2)
	# E2E_CHURN_PROBES=0: no probes (no push-to-drop latency, live_ms
	# only): what the churn costs the flood without the probes' passes
	# and events
	[ "${E2E_CHURN_PROBES:-1}" = 0 ] && flood_opts=()
	# the driver pushes for all but the window's last quarter (at most
	# 0.5 s): the last pushes' entries go live while the probes still run
	cpush=$(awk -v w="$window" 'BEGIN { t = w / 4; if (t > 0.5) t = 0.5; print w - t }')
	cpin=(taskset -c "$ccpu")
	echo "# churn: $crate new /32 a second into block/auto (build/churn, the service's" \
		"push queue), every other window; driver on CPU ${cpin[2]:-any}"
	# events lost to a full ring, frames XDP passed (probes not live yet)
	ring_pass() { mx --json stats | jq -r '"\(.events.suppressed_ring_full // 0) \(.xdp.pass // 0)"'; }
	pairs=""
	for r in $(seq "$runs"); do
		"${cpin[@]}" ip netns exec "$FLT" build/churn --state-dir "$work/state" \
			--bpffs-dir "$bpffs" --probe "$probe" --exclude "$work/blocked.txt" \
			--rate "$crate" --seconds "$cpush" --first $((r * 100000000)) \
			>"$work/churn.$r" &
		cpid=$!
		for _ in $(seq 100); do [ -e "$probe" ] && break; sleep 0.05; done
		read -r rf0 ps0 <<<"$(ring_pass)"
		window churn mxs_drops "$r"
		c=$last_rate
		wait $cpid || { echo "not ok - churn driver failed"; exit 1; }
		read -r rf1 ps1 <<<"$(ring_pass)"
		echo "ring_full=$((rf1 - rf0)) passed=$((ps1 - ps0))" >>"$work/churn.$r"
		echo "#   churn    run $r: $(tr '\n' ' ' <"$work/churn.$r")"
		window quiet mxs_drops "$r"
		pairs+=" $(awk -v a="$c" -v b="$last_rate" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
	done
	finish churn
	finish quiet
	kv() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }
	med() { for f in "$work"/churn.*; do kv "$f" "$1"; done | median; }
	tot() { for f in "$work"/churn.*; do kv "$f" "$1"; done | awk '{ s += $1 } END { print s + 0 }'; }
	printf '\n%-9s %11s %8s %10s %7s\n' WINDOWS "DROP Mpps" "ns/pkt" "GEN Mpps" "LOST %"
	for f in churn quiet; do
		printf '%-9s %11s %8s %10s %7s\n' "$f" "${rate[$f]}" \
			"$(awk -v r="${rate[$f]}" 'BEGIN { printf "%.1f", (r > 0 ? 1e3 / r : 0) }')" \
			"${gen[$f]}" "${lost[$f]}"
	done
	echo "churn/quiet drop rate, window pairs:$pairs (median $(printf '%s\n' $pairs | median))"
	echo "entries a second, medians of the runs: pushed $(med push_rate)," \
		"applied $(med applied_rate)"
	echo "batches: $(tot flushes) flushes, mean $(med flush_ms_mean) ms, max" \
		"$(med flush_ms_max) ms (medians of the runs); lock busy $(tot busy) times"
	echo "push -> live (its flush returned), medians of the runs: p50 $(med live_ms_p50) ms," \
		"p90 $(med live_ms_p90) ms, max $(med live_ms_max) ms"
	echo "push -> first drop at the NIC, medians of the runs: p50 $(med lat_ms_p50) ms," \
		"p90 $(med lat_ms_p90) ms, p99 $(med lat_ms_p99) ms, max $(med lat_ms_max) ms;" \
		"within 100 ms $(med within_100ms); unseen $(tot unseen) of $(tot pushed);" \
		"events lost to a full ring $(tot ring_full)"
	echo "frames passed in the churn windows (probes from addresses not live yet):" \
		"$(tot passed) of $(awk -v d="${drops[churn]}" -v p="$(tot passed)" \
			'BEGIN { printf "%.0f (%.1f%%)", d + p, 100 * p / (d + p) }')"
	if [ $smoke -eq 1 ]; then
		bad=0
		seen=$(tot seen) pushed=$(tot pushed) applied=$(tot applied)
		# every pushed entry applied, and (nearly) every one seen dropping
		if [ "$pushed" -gt 0 ] && [ "$applied" -eq "$pushed" ]; then
			echo "ok - churn: $applied of $pushed pushed entries applied"
		else
			echo "not ok - churn: $applied of $pushed pushed entries applied"
			bad=1
		fi
		if [ "$seen" -gt 0 ] && [ "$seen" -ge $((pushed * 9 / 10)) ]; then
			echo "ok - churn: $seen of $pushed pushed addresses seen dropping at the NIC"
		else
			echo "not ok - churn: $seen of $pushed pushed addresses seen dropping"
			bad=1
		fi
		exit $bad
	fi
	exit 0
fi

# ---- rounds: bare, mxshield, nft; documentation and random sources ---------
# The nft table is loaded throughout: while an XDP program drops the flood
# its ingress hook sees nothing; with xdp_pass on mx0 it filters.
# (the VM's speed drifts over a minute by a few percent: windows next to
# each other, in rounds, make the ratios hold)
t0=$(now)
mx block import "$work/blocked.txt" --replace >/dev/null
mxs_import=$(elapsed "$t0")
echo "# mxshield: block import --replace of $total prefixes: $mxs_import s"
filters="bare mxshield nft"
if [ "${E2E_SKIP_NFT:-0}" = 1 ]; then
	filters="bare mxshield" nft_load=-
else
	t0=$(now)
	ip netns exec "$FLT" nft -f "$work/bench.nft"
	nft_load=$(elapsed "$t0")
	echo "# nft: nft -f of the interval set ($total prefixes, auto-merge) and chain: $nft_load s"
	echo "# nft: XDP_PASS program (bare.bpf.c, section xdp_pass) on mx0 for the veth's XDP" \
		"path; its count of passed frames is the nft window's drops"
fi
# attach_filter NAME / detach_filter NAME
attach_filter() {
	case $1 in
	bare) ip -n "$FLT" link set dev mx0 xdpdrv obj build/bare.bpf.o sec xdp ;;
	mxshield) mx attach mx0 --mode native >/dev/null ;;
	nft) ip -n "$FLT" link set dev mx0 xdpdrv obj build/bare.bpf.o sec xdp_pass ;;
	esac
	pin_napi
}
detach_filter() {
	case $1 in
	mxshield) mx detach mx0 >/dev/null ;;
	*) ip -n "$FLT" link set dev mx0 xdpdrv off ;;
	esac
}
counter_of() { case $1 in mxshield) echo mxs_drops ;; *) echo bare_drops ;; esac; }
declare -A pairs
for r in $(seq "$runs"); do
	for set in doc rand; do
		sfx="" flood_opts=()
		if [ $set = rand ]; then
			sfx=/rand flood_opts=(--src "$work/sources.txt")
		fi
		declare -A this=()
		for f in $filters; do
			attach_filter $f
			window "$f$sfx" "$(counter_of $f)" "$r"
			this[$f]=$last_rate
			detach_filter $f
		done
		pairs[bare$sfx]+=" $(awk -v a="${this[mxshield]}" -v b="${this[bare]}" \
			'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
		[ -n "${this[nft]:-}" ] && pairs[nft$sfx]+=" $(awk -v a="${this[mxshield]}" \
			-v b="${this[nft]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
	done
done
mx unload >/dev/null
for f in $filters; do
	finish "$f"
	finish "$f/rand"
done
if [ "${E2E_SKIP_NFT:-0}" = 1 ]; then
	for f in nft nft/rand; do rate[$f]=0 gen[$f]=- lost[$f]=-; done
else
	# one read of nft's own counter, at the end (a read takes the whole set)
	nft_total=$(nft_drops)
	nft_passed=$((${drops[nft]} + ${drops[nft/rand]}))
	echo "# nft: its counter $nft_total drops, xdp_pass passed $nft_passed"
	ip netns exec "$FLT" nft delete table inet bench
fi

# ---- results -------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
nspp() { awk -v r="$1" 'BEGIN { printf "%.1f", (r > 0 ? 1e3 / r : 0) }'; }
printf '\n%-14s %11s %8s %8s %8s %10s %7s\n' FILTER "DROP Mpps" "vs BARE" "ns/pkt" \
	"+ns" "GEN Mpps" "LOST %"
for sfx in "" /rand; do
	for f in $filters; do
		printf '%-14s %11s %8s %8s %8s %10s %7s\n' "$f$sfx" "${rate[$f$sfx]}" \
			"$(ratio "${rate[$f$sfx]}" "${rate[bare$sfx]}")" "$(nspp "${rate[$f$sfx]}")" \
			"$(awk -v a="$(nspp "${rate[$f$sfx]}")" -v b="$(nspp "${rate[bare$sfx]}")" \
				'BEGIN { printf "%.1f", a - b }')" "${gen[$f$sfx]}" "${lost[$f$sfx]}"
	done
done
for sfx in "" /rand; do
	which="508 documentation sources"
	[ -n "$sfx" ] && which="$nsrc random sources"
	echo "$which: mxshield/bare, rounds:${pairs[bare$sfx]}" \
		"(median $(printf '%s\n' ${pairs[bare$sfx]} | median))"
	[ -n "${pairs[nft$sfx]:-}" ] && echo "$which: mxshield/nft, rounds:${pairs[nft$sfx]}" \
		"(median $(printf '%s\n' ${pairs[nft$sfx]} | median))"
done
echo "load: mxshield block import $mxs_import s, nft -f $nft_load s ($total prefixes)"

if [ $smoke -eq 1 ]; then
	bad=0
	for f in $filters $(printf '%s/rand ' $filters); do
		if [ "${drops[$f]:-0}" -gt 0 ]; then
			echo "ok - $f dropped the flood (${drops[$f]} packets)"
		else
			echo "not ok - $f dropped nothing"
			bad=1
		fi
	done
	if [ "${E2E_SKIP_NFT:-0}" != 1 ]; then
		# the frames xdp_pass passed are those nft dropped, all of them
		if [ "$nft_total" -eq "$nft_passed" ]; then
			echo "ok - nft dropped every frame xdp_pass passed ($nft_total)"
		else
			echo "not ok - nft dropped $nft_total of the $nft_passed frames passed"
			bad=1
		fi
	fi
	exit $bad
fi
