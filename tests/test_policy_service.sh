#!/usr/bin/env bash
# The policy service (`mxshield policy serve`) under attack and with least
# privilege, inside the lab's mail namespace (its loopback and a unix socket
# under the test's directory), the filter loaded with a block list:
# - 2,000 idle connections and garbage senders held open: well-formed
#   requests are still answered (unix with --max-conn below the flood, inet
#   with the defaults, inet with every idle connection kept);
# - a partial request, and one dripping in, are closed at the deadline; an
#   idle connection is not;
# - --max-per-peer evicts within one peer's share, not another peer's;
# - the unix socket: mode 0660, the group asked for, a stale socket replaced,
#   a symlink at the path refused and not followed, a world-writable parent
#   refused;
# - --user nobody: CapEff/CapPrm/CapBnd 0, no_new_privs, answers with the IP
#   lists (also after a full rebuild: new arrays, through the broker) and the
#   envelope lists (re-read as nobody), every map fd read-only and a write
#   through one fails; started as nobody directly, it still serves.
source "$(dirname "$0")/lib.sh"

CLIENT=198.51.100.7 BLOCKED=198.51.100.20 LATER=198.51.100.21
LAB_PORTS=8080 lab_up $CLIENT || { not_ok "lab setup"; exit 1; }
# DNS that never answers (for SPF): a check takes its full deadline
trap 'rm -rf "/etc/netns/$MAIL"; lab_cleanup' EXIT
mkdir -p "/etc/netns/$MAIL"
printf 'nameserver 192.0.2.53\noptions timeout:2 attempts:3\n' > "/etc/netns/$MAIL/resolv.conf"
LOAD=$PWD/scripts/policy-load.py
in_mail() { ip netns exec "$MAIL" "$@"; }

mx block add $BLOCKED --action reject >/dev/null
check "filter loaded with a block list" test -e "$bpffs/c_gen"

pol=
# serve NAME ARGS...: start the service; 0 once it listens
serve() {
	local name=$1
	shift
	# not through a shell function: $! must be the service itself
	ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" policy serve "$@" \
		>"$work/$name.log" 2>&1 &
	pol=$!
	lab_pids+=("$pol")
	for _ in $(seq 100); do
		grep -q "listening on" "$work/$name.log" 2>/dev/null && return 0
		kill -0 "$pol" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop() { kill "$pol" 2>/dev/null; wait "$pol" 2>/dev/null; }
req() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=%s\nrecipient=r@corp.example\n\n' \
		"$1" "${2:-a@ok.example}"
}
# ask unix:PATH|inet:HOST:PORT CLIENT [SENDER]: the first line of the answer
ask() {
	local to=${1/#unix:/UNIX-CONNECT:}
	to=${to/#inet:/TCP:}
	req "$2" "${3:-}" | in_mail socat -t 3 - "$to" 2>/dev/null | head -1
}
REJECT="action=550 5.7.1 mxshield: rejected (IP block list $BLOCKED/32)"

# ---- bad options: a clear error, nothing started ------------------------------------
msg=$(mx policy serve --max-conn 0 2>&1)
check_eq "--max-conn 0 is refused" \
	"mxshield: policy serve: --max-conn: expected a number from 1 to 1000000, got '0'" "$msg"
msg=$(mx policy serve --listen inet:127.0.0.1:10049 --socket-group postfix 2>&1)
check_eq "--socket-group with inet is refused" "mxshield: --socket-group is for a unix: socket" "$msg"
msg=$(mx policy serve --listen unix:relative/path 2>&1)
check_eq "a relative unix path is refused" \
	"mxshield: unix:relative/path: expected an absolute path to the socket" "$msg"
msg=$(mx policy serve --user no-such-user-here 2>&1)
check_eq "an unknown --user is refused" "mxshield: --user no-such-user-here: no such user" "$msg"

# ---- the unix socket ---------------------------------------------------------
sd=$work/sock
mkdir -m 0750 "$sd"
check "unix: serves" serve unix --listen "unix:$sd/policy" --socket-group postfix
check_eq "unix: mode 0660, owner root, group postfix" "660 root postfix" \
	"$(stat -c '%a %U %G' "$sd/policy" 2>&1)"
check_eq "unix: answers with the IP lists" "$REJECT" "$(ask "unix:$sd/policy" $BLOCKED)"
stop
check "unix: a stale socket is left ..." test -S "$sd/policy"
check "... and replaced by the next start" serve unix2 --listen "unix:$sd/policy"
check_eq "... which answers" "action=DUNNO" "$(ask "unix:$sd/policy" 192.0.2.1)"
stop
rm -f "$sd/policy"
touch "$work/target"
chmod 0600 "$work/target"
ln -s "$work/target" "$sd/policy"
check_fails "unix: a symlink at the path is refused" serve link --listen "unix:$sd/policy"
check "... saying why" grep -q "is not a socket (a symlink)" "$work/link.log"
check_eq "... and not followed (the target keeps its mode, the link stays)" "600 link" \
	"$(stat -c %a "$work/target") $(test -L "$sd/policy" && echo link)"
mkdir -m 0777 "$work/ww"
check_fails "unix: a world-writable parent without the sticky bit is refused" \
	serve ww --listen "unix:$work/ww/policy"
check "... saying why" grep -q "writable by everyone without the sticky bit" "$work/ww.log"
chmod 1777 "$work/ww"
check "unix: ... with the sticky bit it serves" serve sticky --listen "unix:$work/ww/policy"
stop

# ---- starvation ------------------------------------------------------------------
rm -f "$sd/policy"
serve flood-unix --listen "unix:$sd/policy" --max-conn 1000
out=$(in_mail python3 "$LOAD" --connect "unix:$sd/policy" --idle 2000 --garbage 10 \
	--requests 1000 --clients 4 --client-address $BLOCKED --expect "550 5.7.1" 2>&1)
check "unix, --max-conn 1000, 2000 idle + 10 garbage: every request answered, no EOF ($out)" \
	grep -q "answered=1000 failed=0 wrong=0 retried=0" <<<"$out"
check "... the oldest idle ones made room" grep -q "closing its idle connection for a new one (--max-conn)" \
	"$work/flood-unix.log"
check "... and the garbage was cut off" grep -q "NUL byte in request\|line longer than\|request not complete" \
	"$work/flood-unix.log"
check "... still alive" kill -0 "$pol"
# a connection that has asked (Postfix's) outlives a silent flood over the limit
out=$(in_mail python3 - "$sd/policy" <<'EOF'
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
R = b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n"
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    return s
pf = conn()
pf.sendall(R)
first = pf.recv(100)
flood = [conn() for _ in range(2000)]
pf.sendall(R)
print(first.decode().split("\n")[0], pf.recv(100).decode().split("\n")[0] or "EOF")
EOF
)
check_eq "... a connection that has asked outlives 2000 silent ones over --max-conn 1000" \
	"action=DUNNO action=DUNNO" "$out"
stop

serve flood-inet --listen inet:127.0.0.1:10040
out=$(in_mail python3 "$LOAD" --connect inet:127.0.0.1:10040 --idle 2000 --garbage 10 \
	--requests 1000 --clients 4 2>&1)
check "inet, defaults, 2000 idle + 10 garbage from one peer: every request answered, no EOF ($out)" \
	grep -q "answered=1000 failed=0 wrong=0 retried=0" <<<"$out"
stop

serve flood-all --listen inet:127.0.0.1:10040 --max-per-peer 4096
out=$(in_mail python3 "$LOAD" --connect inet:127.0.0.1:10040 --idle 2000 --garbage 10 \
	--requests 1000 --clients 4 2>&1)
check "inet, room for all: 2000 idle kept open and every request answered, no EOF ($out)" \
	grep -q "answered=1000 failed=0 wrong=0 retried=0 idle_open=2000/2000" <<<"$out"
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pol/status")
check "... in bounded memory (VmRSS ${rss:-?} kB < 64 MB)" test "${rss:-999999}" -lt 65536
stop

# ---- deadlines ----------------------------------------------------------------------
serve deadline --listen inet:127.0.0.1:10041 --request-timeout 2
out=$(in_mail python3 - <<'EOF'
import socket, time
def conn():
    return socket.create_connection(("127.0.0.1", 10041))
idle, part, drip = conn(), conn(), conn()
part.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n")
for s in (idle, part, drip):
    s.setblocking(False)
t0, closed = time.time(), {}
while time.time() - t0 < 8 and len(closed) < 2:
    try:
        drip.send(b"x")
    except OSError:
        pass
    for name, s in (("part", part), ("drip", drip), ("idle", idle)):
        if name in closed:
            continue
        try:
            if s.recv(100) == b"":
                closed[name] = time.time() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed[name] = time.time() - t0
    time.sleep(0.25)
print(" ".join(f"{k}={v:.1f}" for k, v in sorted(closed.items())) or "none")
EOF
)
part=$(grep -o 'part=[0-9.]*' <<<"$out" | cut -d= -f2)
drip=$(grep -o 'drip=[0-9.]*' <<<"$out" | cut -d= -f2)
check "a partial request is closed after the 2 s deadline ($out)" \
	awk -v t="${part:-99}" 'BEGIN { exit !(t >= 1.5 && t < 6) }'
check "... one dripping in a byte every 250 ms too" \
	awk -v t="${drip:-99}" 'BEGIN { exit !(t >= 1.5 && t < 6) }'
check "... an idle connection is not" bash -c "! grep -q idle= <<<'$out'"
check "... and the log says why" grep -q "request not complete within 2 s" "$work/deadline.log"
stop

# ---- per-peer limit -----------------------------------------------------------------
serve peer --listen inet:127.0.0.1:10042 --max-per-peer 5
out=$(in_mail python3 - <<'EOF'
import socket, time
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", 10042))
    return s
def is_open(s):
    s.setblocking(False)
    try:
        return s.recv(100) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
b = [conn("127.0.0.2") for _ in range(3)]
a = []
for _ in range(10):
    a.append(conn("127.0.0.1"))
    time.sleep(0.05)
time.sleep(0.3)
print("a_open=%d b_open=%d a_newest_open=%d" % (sum(map(is_open, a)), sum(map(is_open, b)),
      sum(map(is_open, a[5:]))))
a[-1].setblocking(True)
a[-1].sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n")
print("answer=" + a[-1].recv(100).decode().split("\n")[0])
EOF
)
check_eq "--max-per-peer 5: 10 from one peer leave its 5 newest, another peer's 3 stay" \
	"a_open=5 b_open=3 a_newest_open=5" "$(head -1 <<<"$out")"
check_eq "... and the newest is answered" "answer=action=DUNNO" "$(sed -n 2p <<<"$out")"
check "... the log says why" grep -q "closing its idle connection for a new one (--max-per-peer)" \
	"$work/peer.log"
stop
serve peer1 --listen inet:127.0.0.1:10042 --max-per-peer 1
out=$(for _ in 1 2 3; do ask inet:127.0.0.1:10042 $BLOCKED; done | sort | uniq -c | awk '{ $1 = $1 } 1')
check_eq "--max-per-peer 1: each new connection replaces the last" "3 $REJECT" "$out"
check "... alive" kill -0 "$pol"
stop

# ---- SPF waits alone --------------------------------------------------------------
# allow list + SPF for a blocked address: the SPF check runs into the dead
# DNS server; another connection's request is answered meanwhile
mx sender add friend@slow.example --list allow >/dev/null
serve spf --listen inet:127.0.0.1:10045
out=$(in_mail python3 - "$BLOCKED" <<'EOF'
import socket, sys, time
R = "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=%s\n\n"
slow = socket.create_connection(("127.0.0.1", 10045))
fast = socket.create_connection(("127.0.0.1", 10045))
slow.sendall((R % (sys.argv[1], "friend@slow.example")).encode())
time.sleep(0.2)
fast.sendall((R % (sys.argv[1], "a@ok.example")).encode())
order = []
for s in (slow, fast):
    s.setblocking(False)
t0 = time.time()
while len(order) < 2 and time.time() - t0 < 10:
    for name, s in (("slow", slow), ("fast", fast)):
        try:
            d = s.recv(200)
            if d:
                order.append(name + ":" + d.decode().split("\n")[0])
        except BlockingIOError:
            pass
    time.sleep(0.02)
print(" | ".join(order))
EOF
)
check_eq "a request waiting for SPF does not hold up another connection's" \
	"fast:$REJECT | slow:action=DUNNO" "$out"
check "... whose allow list applied when SPF gave no result" \
	grep -q "allowed sender (friend@slow.example) overrides" "$work/spf.log"
stop

# ---- --user nobody -------------------------------------------------------------------
# the state directory readable by nobody's group; the controller keeps it so
chmod 0711 "$work"
chgrp nogroup "$work/state" "$work"/state/*
chmod 0750 "$work/state"
chmod g+r "$work"/state/*
check "--user nobody: serves" serve user --listen inet:127.0.0.1:10043 --user nobody
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
check_eq "... CapEff 0" 0000000000000000 "$(status "$pol" CapEff)"
check_eq "... CapPrm 0, CapBnd 0, CapAmb 0" "0000000000000000 0000000000000000 0000000000000000" \
	"$(status "$pol" CapPrm) $(status "$pol" CapBnd) $(status "$pol" CapAmb)"
check_eq "... NoNewPrivs, uid 65534" "1 65534" "$(status "$pol" NoNewPrivs) $(status "$pol" Uid)"
broker=$(pgrep -P "$pol" | head -1)
check_eq "... its broker: CAP_SYS_ADMIN alone (also bounding), uid 65534, no_new_privs" \
	"0000000000200000 0000000000200000 0000000000200000 65534 1" \
	"$(status "$broker" CapEff) $(status "$broker" CapPrm) $(status "$broker" CapBnd) $(status "$broker" Uid) $(status "$broker" NoNewPrivs)"
check_eq "... answers with the IP lists" "$REJECT" "$(ask inet:127.0.0.1:10043 $BLOCKED)"
mx block add $LATER --action reject >/dev/null
mx partner add later --ip 192.0.2.50 >/dev/null	# a full build: new arrays
check_eq "... and after a full rebuild (new arrays, through the broker)" \
	"action=550 5.7.1 mxshield: rejected (IP block list $LATER/32)" "$(ask inet:127.0.0.1:10043 $LATER)"
mx sender add bad@evil.example --list block --action reject >/dev/null
check_eq "... re-reads the envelope lists as nobody" \
	"action=550 5.7.1 mxshield: rejected (sender block list bad@evil.example)" \
	"$(ask inet:127.0.0.1:10043 192.0.2.1 bad@evil.example)"
out=$(python3 - "$pol" <<'EOF'
# Every bpf-map fd of the service is read-only (fdinfo flags: O_RDONLY), and
# a write through one (taken with pidfd_getfd) fails with EPERM.
import ctypes, os, struct, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR_bpf, NR_pidfd_open, NR_pidfd_getfd = 321, 434, 438
maps, rw, target = 0, 0, None
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-map":
            continue
        info = dict(l.split(":", 1) for l in open(f"/proc/{pid}/fdinfo/{fd}") if ":" in l)
    except OSError:
        continue
    maps += 1
    if int(info["flags"].strip(), 8) & 3:
        rw += 1
    if info["map_type"].strip() == "2" and info["key_size"].strip() == "4" and target is None:
        target = (int(fd), int(info["value_size"].strip()))
pidfd = libc.syscall(NR_pidfd_open, pid, 0)
fd = libc.syscall(NR_pidfd_getfd, pidfd, target[0], 0)
key, val = ctypes.c_uint32(0), ctypes.create_string_buffer(target[1])
attr = ctypes.create_string_buffer(struct.pack("IIQQQ", fd, 0, ctypes.addressof(key),
                                               ctypes.addressof(val), 0), 128)
look = libc.syscall(NR_bpf, 1, attr, 128)
upd = libc.syscall(NR_bpf, 2, attr, 128)	# the same value back: harmless if it worked
err = ctypes.get_errno()
print(f"maps={maps} rw={rw} lookup={look} update={upd} errno={os.strerror(err) if upd else 0}")
EOF
)
check "... holds map fds ($out)" grep -q "maps=[1-9]" <<<"$out"
check "... every one read-only, a lookup works, an update fails with EPERM" \
	grep -q "rw=0 lookup=0 update=-1 errno=Operation not permitted" <<<"$out"
stop

# started as nobody: the envelope lists work; the pins are root's, so the IP
# verdicts are off and the log says so
ip netns exec "$MAIL" setpriv --reuid=nobody --regid=nogroup --clear-groups "$MXS" --state-dir "$work/state" \
	--bpffs-dir "$bpffs" policy serve --listen inet:127.0.0.1:10044 >"$work/nobody.log" 2>&1 &
pol=$!
lab_pids+=("$pol")
for _ in $(seq 50); do grep -q "listening on" "$work/nobody.log" 2>/dev/null && break; sleep 0.1; done
check_eq "started as nobody: serves the envelope lists" \
	"action=550 5.7.1 mxshield: rejected (sender block list bad@evil.example)" \
	"$(ask inet:127.0.0.1:10044 192.0.2.1 bad@evil.example)"
check "... and says the IP verdicts are off" grep -q "IP verdicts are off" "$work/nobody.log"
stop

lab_finish
