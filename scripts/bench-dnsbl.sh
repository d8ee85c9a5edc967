#!/usr/bin/env bash
# DNSBL lookups in the policy service (`make bench-dnsbl`, docs/dnsbl.md):
# `mxshield serve` in a lab namespace with two lists (a DNSBL and a DNSWL)
# served by tests/dnsbl-dns.py on the namespace's loopback; CONNS
# persistent policy connections (Postfix's smtpd keeps its own) ask about
# N distinct IPv6 clients (2001:db8:5::/64) one request at a time each:
#
#   uncached  every client new: two DNS queries (one per list), NXDOMAIN
#   cached    the same clients again: answered from the cache
#
# Prints requests per second and the latency of a request (p50, p99, max).
# The DNS server is a small Python program: the uncached figure is bound
# by it, not by the service.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${N:-4000} CONNS=${CONNS:-8}
LAB_NAME=mxbd source tests/lib.sh
LAB_PORTS=25 lab_up 198.51.100.1 || { echo "bench-dnsbl: lab setup failed" >&2; exit 1; }
trap 'rm -rf "/etc/netns/$MAIL"; lab_cleanup' EXIT
mkdir -p "/etc/netns/$MAIL"
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n' >"/etc/netns/$MAIL/resolv.conf"
ip netns exec "$MAIL" python3 tests/dnsbl-dns.py --log "$work/dns.log" --zone bl.test \
	--zone wl.test --neg-ttl 600 &
lab_pids+=($!)
mx dnsbl add 'bl.test=127.0.0.[2..11]*3' 'wl.test=127.0.[0..255].[1..3]*-4' >/dev/null
mx attach mx0 --mode native >/dev/null || exit 1
printf '[policy]\nlisten = inet:127.0.0.1:10081\n' >"$work/c.conf"
ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" serve \
	--config "$work/c.conf" --log stderr >"$work/serve.log" 2>&1 &
lab_pids+=($!)
for _ in $(seq 100); do
	ip netns exec "$MAIL" ss -ltnH "sport = :10081" | grep -q . && break
	sleep 0.1
done
ip netns exec "$MAIL" python3 - "$N" "$CONNS" <<'EOF'
import socket, sys, threading, time
N, CONNS = int(sys.argv[1]), int(sys.argv[2])
REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\n"
       "sender=a@sender.example\nrecipient=r@corp.example\n\n")

def run(addrs, out):
    s = socket.create_connection(("127.0.0.1", 10081))
    for a in addrs:
        t = time.perf_counter()
        s.sendall((REQ % a).encode())
        buf = b""
        while not buf.endswith(b"\n\n"):
            buf += s.recv(4096)
        out.append((time.perf_counter() - t) * 1000)

def phase(name, addrs):
    lat, th = [], []
    t0 = time.perf_counter()
    for k in range(CONNS):
        th.append(threading.Thread(target=run, args=(addrs[k::CONNS], lat)))
        th[-1].start()
    for t in th:
        t.join()
    el = time.perf_counter() - t0
    lat.sort()
    print("%-9s %6d requests %6.2f s %8.0f/s  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms" %
          (name, len(lat), el, len(lat) / el, lat[len(lat) // 2], lat[int(len(lat) * .99)],
           lat[-1]))

addrs = ["2001:db8:5::%x" % (i + 1) for i in range(N)]
phase("uncached", addrs)
phase("cached", addrs)
EOF
echo "DNS queries: $(grep -c . "$work/dns.log") (2 per client expected: $((2 * N)))"
