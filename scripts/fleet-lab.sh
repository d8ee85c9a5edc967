# shellcheck shell=bash
# The fleet lab (sourced by tests/test_fleet.sh and scripts/bench-fleet.sh):
#
#   etcd namespace: members m1..m3 on 192.0.2.11..13 (its loopback), each
#     edge reached over a veth (198.51.100.0/30 blocks)
#   edge i (1..FLEET_EDGES): its own state dir and bpffs, XDP on mx0
#     (203.0.113.1/24), a listener on port 25, `sync serve` (edge 3: the
#     service with a [sync] section)
#   client i: senders 203.0.113.50.. over the veth to edge i
#
# Nothing outside these namespaces is touched; everything goes on exit.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MXS=${MXS:-$PWD/mxshield}
EDGES=${FLEET_EDGES:-3}
id=$$
pre=${LAB_NAME:-mxt}-fl$id
ET=$pre-etcd
work=$(mktemp -d /tmp/mxfleet.XXXXXX)
pids=()
declare -A syncpid member
PART=${FLEET_PARTITION:-60}
EPS=http://192.0.2.11:2379,http://192.0.2.12:2379,http://192.0.2.13:2379
CLUSTER=m1=http://192.0.2.11:2380,m2=http://192.0.2.12:2380,m3=http://192.0.2.13:2380

all_ns() { for i in $(seq "$EDGES"); do echo $pre-e$i $pre-c$i; done; }
cleanup() {
	set +e
	for i in $(seq "$EDGES"); do [ -n "${syncpid[$i]:-}" ] && kill "${syncpid[$i]}" 2>/dev/null; done
	for p in "${pids[@]}" "${member[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${member[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "$ET" $(all_ns); do
		p=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$p" ] && kill $p 2>/dev/null
	done
	sleep 0.3
	for ns in "$ET" $(all_ns); do
		p=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$p" ] && kill -9 $p 2>/dev/null
	done
	for i in $(seq "$EDGES"); do
		if [ -e "/run/$pre-b$i/c_gen" ]; then
			mx "$i" unload >/dev/null 2>&1
		fi
		mountpoint -q "/run/$pre-b$i" && umount "/run/$pre-b$i"
		rmdir "/run/$pre-b$i" 2>/dev/null
	done
	for ns in "$ET" $(all_ns); do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${FLEET_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mx() { local i=$1; shift; ip netns exec $pre-e$i "$MXS" --state-dir "$work/s$i" \
	--bpffs-dir "/run/$pre-b$i" "$@"; }
ectl() { ip netns exec "$ET" etcdctl --endpoints "$EPS" --command-timeout=5s "$@"; }

# connect I SRC: a real TCP connection from client I's SRC to edge I
connect() {
	ip netns exec $pre-c$1 timeout 4 socat -T2 STDIO \
		"TCP:203.0.113.1:25,bind=$2,connect-timeout=1" </dev/null 2>/dev/null | head -1
}
can() { [ -n "$(connect "$1" "$2")" ]; }
cannot() { [ -z "$(connect "$1" "$2")" ]; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local t=$1 end
	shift
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	until "$@" >/dev/null 2>&1; do
		[ $(($(date +%s%N) / 1000000)) -gt $end ] && return 1
		sleep 0.1
	done
}
has() { mx "$1" --json "$2" list | jq -e --arg p "$3" '.[] | select(.prefix == $p)' >/dev/null; }
hasnt() { ! has "$@"; }
everywhere() { local f=$1; shift; for i in 1 2 3; do $f "$i" "$@" || return 1; done; }

start_member() {
	local k=$1 state=${2:-new}
	ip netns exec "$ET" etcd --name m$k --data-dir "$work/etcd$k" \
		--listen-client-urls http://192.0.2.1$k:2379 \
		--advertise-client-urls http://192.0.2.1$k:2379 \
		--listen-peer-urls http://192.0.2.1$k:2380 \
		--initial-advertise-peer-urls http://192.0.2.1$k:2380 \
		--initial-cluster "$CLUSTER" --initial-cluster-state "$state" \
		--initial-cluster-token $pre --heartbeat-interval 50 --election-timeout 500 \
		>>"$work/etcd$k.log" 2>&1 &
	member[$k]=$!
}
# edges 1 and 2 run `sync serve`; edge 3 the service with a [sync] section
start_sync() {
	local i=$1
	if [ "$i" = 3 ]; then
		cat >"$work/serve3.conf" <<-EOF
		[sync]
		enabled = yes
		endpoints = $EPS
		name = edge3
		[metrics]
		enabled = yes
		listen = 127.0.0.1:9911
		EOF
		ip netns exec $pre-e$i "$MXS" --state-dir "$work/s$i" --bpffs-dir "/run/$pre-b$i" \
			serve --config "$work/serve3.conf" --no-policy --log stderr \
			>>"$work/sync$i.log" 2>&1 &
	else
		ip netns exec $pre-e$i "$MXS" --state-dir "$work/s$i" --bpffs-dir "/run/$pre-b$i" \
			sync serve --endpoints "$EPS" --name edge$i >>"$work/sync$i.log" 2>&1 &
	fi
	syncpid[$i]=$!
}
stop_sync() {
	kill "${syncpid[$1]}" 2>/dev/null
	wait "${syncpid[$1]}" 2>/dev/null
	syncpid[$1]=
}
sstat() { mx "$1" --json sync status | jq -r ".$2"; }

# ------------------------------------------------------------ the lab
setup() {
	ip netns add "$ET" || return 1
	ip -n "$ET" link set lo up
	for k in 1 2 3; do ip -n "$ET" addr add 192.0.2.1$k/32 dev lo; done
	for i in $(seq "${SETUP_EDGES:-$EDGES}"); do
		setup_edge $i || return 1
	done
	for k in 1 2 3; do start_member $k; done
	wait_for 20 ectl endpoint health || return 1
	wait_for 10 can 1 203.0.113.50 || return 1
}
# setup_edge I: edge I's namespaces, its XDP and listener
setup_edge() {
	local i=$1
	{
		local e=$pre-e$i c=$pre-c$i
		ip netns add $e && ip netns add $c || return 1
		ip -n $e link set lo up
		ip -n $c link set lo up
		ip -n "$ET" link add fl$i type veth peer name fl0 netns $e || return 1
		ip -n "$ET" addr add 198.51.100.$((4 * i - 3))/30 dev fl$i
		ip -n "$ET" link set fl$i up
		ip -n $e addr add 198.51.100.$((4 * i - 2))/30 dev fl0
		ip -n $e link set fl0 up
		ip -n $e route add 192.0.2.0/24 via 198.51.100.$((4 * i - 3)) || return 1
		ip -n $e link add mx0 type veth peer name cl0 netns $c || return 1
		ip -n $e addr add 203.0.113.1/24 dev mx0
		ip -n $e link set mx0 up
		for a in 50 51 60 61 70 80 90 100 101 110 120 130 131; do
			ip -n $c addr add 203.0.113.$a/24 dev cl0 2>/dev/null
		done
		ip -n $c link set cl0 up
		ip netns exec $e socat TCP-LISTEN:25,bind=203.0.113.1,fork,reuseaddr \
			SYSTEM:"echo 220 edge$i" &
		pids+=($!)
		mkdir -p "/run/$pre-b$i" && mount -t bpf bpf "/run/$pre-b$i" || return 1
		mx $i attach mx0 --mode native >/dev/null || return 1
	}
}
