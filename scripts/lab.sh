# shellcheck shell=bash
# Namespace lab for the mxshield demo and tests (sourced).
#
#   client namespace $CL  ──veth──  mail namespace $MAIL (the MX)
#   cl0: the senders                 mx0: 203.0.113.1/24, 2001:db8:1::1/64,
#                                         listeners on $LAB_PORTS (25 587 8080)
#
# The root network namespace is never touched. Everything (namespaces,
# listeners, the bpffs mount, temporary files) goes away on exit, failed or not.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MXS=${MXS:-$PWD/mxshield}
lab_id=$$
lab_name=${LAB_NAME:-mxt}
MAIL=$lab_name-mail-$lab_id
CL=$lab_name-cl-$lab_id
work=$(mktemp -d /tmp/$lab_name.XXXXXX)
bpffs=/run/$lab_name-$lab_id
lab_pids=()

lab_cleanup() {
	set +e
	for p in "${lab_pids[@]}"; do kill "$p" 2>/dev/null; done
	# Anything still running inside the lab (children of background shell
	# functions outlive the subshell $! names) goes before its namespace.
	local ns pids
	for ns in "$MAIL" "$CL"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$MAIL" 2>/dev/null; ip netns pids "$CL" 2>/dev/null)
		[ -z "$pids" ] && break
		sleep 0.1
	done
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	if [ -e "$bpffs/c_gen" ]; then
		ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" unload \
			>/dev/null 2>&1
	fi
	mountpoint -q "$bpffs" && umount "$bpffs"
	rmdir "$bpffs" 2>/dev/null
	ip netns del "$MAIL" 2>/dev/null
	ip netns del "$CL" 2>/dev/null
	rm -rf "$work"
}
trap lab_cleanup EXIT
trap 'exit 1' INT TERM

# The controller, as the mail host runs it (ip netns exec hides /sys/fs/bpf:
# the test's own bpffs lives under /run).
mx() { ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }
# The same through nsenter, which keeps /sys.
mx_nsenter() { nsenter --net=/run/netns/"$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }

# lab_up ADDR[/LEN]...: build the lab; the client namespace gets every ADDR
# (bare IPv4 /24, bare IPv6 /64). Both sides route everything over the veth,
# so sources in any documentation range reach the mail host.
lab_up() {
	ip netns add "$MAIL" || return 1
	ip netns add "$CL" || return 1
	ip -n "$MAIL" link add mx0 type veth peer name cl0 netns "$CL" || return 1
	for ns in "$MAIL" "$CL"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.all.router_solicitations=0
		ip -n "$ns" link set lo up
	done
	ip -n "$MAIL" addr add 203.0.113.1/24 dev mx0
	ip -n "$MAIL" addr add 2001:db8:1::1/64 dev mx0 nodad
	ip -n "$MAIL" link set mx0 up
	for a in "$@"; do
		case $a in
		*/*:*|*:*/*) ip -n "$CL" addr add "$a" dev cl0 nodad ;;
		*:*) ip -n "$CL" addr add "$a/64" dev cl0 nodad ;;
		*/*) ip -n "$CL" addr add "$a" dev cl0 ;;
		*) ip -n "$CL" addr add "$a/24" dev cl0 ;;
		esac
	done
	ip -n "$CL" link set cl0 up
	for ns in "$MAIL" "$CL"; do
		dev=$([ "$ns" = "$MAIL" ] && echo mx0 || echo cl0)
		ip -n "$ns" route add default dev "$dev"
		ip -n "$ns" -6 route add default dev "$dev"
	done
	for port in ${LAB_PORTS:-25 587 8080}; do
		ip netns exec "$MAIL" socat TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=0 \
			SYSTEM:"echo 220 mx.test.example ESMTP port $port" &
		lab_pids+=($!)
	done
	mkdir -p "$bpffs" && mount -t bpf bpf "$bpffs" || return 1
	# listeners up?
	local first=${LAB_PORTS:-25 587 8080}
	first=${first%% *}
	for _ in $(seq 50); do
		ip netns exec "$MAIL" ss -ltn | grep -q ":$first " && return 0
		sleep 0.1
	done
	return 1
}

# connect_from SRC PORT: a real TCP connection from SRC to the mail host;
# prints the banner (empty when the connection could not be made).
connect_from() {
	local src=$1 port=$2 dst=203.0.113.1 bind=$1
	case $src in *:*) dst="[2001:db8:1::1]" bind="[$src]" ;; esac
	ip netns exec "$CL" timeout 4 socat -T2 STDIO \
		"TCP:$dst:$port,bind=$bind,connect-timeout=1" </dev/null 2>/dev/null | head -1 | tr -d '\r'
}
can_connect() { [ -n "$(connect_from "$1" "$2")" ]; }
cannot_connect() { [ -z "$(connect_from "$1" "$2")" ]; }

