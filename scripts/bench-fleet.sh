#!/usr/bin/env bash
# make bench-fleet (and part of make bench): the fleet's figures, on the
# lab of scripts/fleet-lab.sh (three etcd members, edges with XDP):
#   1. change-to-NIC latency: BENCH_FLEET_CHANGES (1000) single blocks made
#      with the CLI on edge 1, each timed until the live classifier of every
#      edge (the maps its XDP program reads: `mxshield lookup`) drops it;
#      p50, p99 and max per edge
#   2. bootstrap: a BENCH_FLEET_BIG (1,000,000) entry block list replaced on
#      edge 1, then a new edge 4 joins: time from its `sync serve` start to
#      its compiled classifier holding every entry
#   3. etcd's storage for that list: chunk bytes, keys, and the database
#      size before and after
# Not a test: the numbers depend on the machine.
set -u
export FLEET_EDGES=4 SETUP_EDGES=3
source "$(dirname "$0")/fleet-lab.sh"
N=${BENCH_FLEET_CHANGES:-1000}
BIG=${BENCH_FLEET_BIG:-1000000}

make -s all || exit 1
setup || { echo "bench-fleet: lab setup failed" >&2; exit 1; }
for i in 1 2 3; do start_sync $i; done
wait_for 15 sh -c "ip netns exec $pre-e3 $MXS --state-dir $work/s3 --json sync status | jq -e .connected" ||
	{ echo "bench-fleet: the edges did not connect" >&2; exit 1; }
sleep 1

echo "### change-to-NIC latency, $N single changes made on edge 1"
python3 - "$N" "$pre" "$work" "$MXS" <<'EOF'
import json, subprocess, sys, time
n, pre, work, mxs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def mx(i, *args):
    return subprocess.run(["ip", "netns", "exec", f"{pre}-e{i}", mxs, "--state-dir",
                           f"{work}/s{i}", "--bpffs-dir", f"/run/{pre}-b{i}", *args],
                          capture_output=True, text=True)
def dropped(i, addr):
    r = mx(i, "--json", "lookup", addr)
    try:
        return json.loads(r.stdout).get("nic") == "drop"
    except ValueError:
        return False
lat = {1: [], 2: [], 3: []}
for k in range(n):
    addr = f"2001:db8:f1ee:{k // 65536:x}:{k % 65536:x}::1"
    t0 = time.monotonic()
    r = mx(1, "block", "add", addr, "--comment", f"bench {k}")
    if r.returncode:
        sys.exit("bench-fleet: block add failed: " + r.stderr)
    left = {1, 2, 3}
    while left:
        for i in sorted(left):
            if dropped(i, addr):
                lat[i].append(time.monotonic() - t0)
                left.discard(i)
        if time.monotonic() - t0 > 30:
            sys.exit(f"bench-fleet: change {k} not at edges {sorted(left)} after 30 s")
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print("| edge | p50 | p99 | max |")
print("|---|---|---|---|")
for i in (1, 2, 3):
    v = lat[i]
    print(f"| edge {i}{' (writer)' if i == 1 else ''} | {pct(v, 50) * 1000:.0f} ms | "
          f"{pct(v, 99) * 1000:.0f} ms | {max(v) * 1000:.0f} ms |")
EOF

echo
echo "### bootstrap of a new edge with a $BIG-entry shared block list"
db_size() { ectl endpoint status -w json | jq '[.[].Status.dbSize] | max'; }
db0=$(db_size)
python3 -c "
import sys
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    for a in range(n):
        f.write('2001:db8:%x:%x::/64\n' % (a // 65536 + 256, a % 65536))
" "$BIG" "$work/big.txt"
t0=$(date +%s.%N)
mx 1 block import "$work/big.txt" --replace >/dev/null || { echo "import failed" >&2; exit 1; }
t1=$(date +%s.%N)
want=$(mx 1 --json status | jq '.lists[] | select(.list == "block") | .ipv4 + .ipv6')
for i in 2 3; do
	wait_for 120 sh -c "[ \"\$(ip netns exec $pre-e$i $MXS --state-dir $work/s$i --bpffs-dir /run/$pre-b$i --json status | jq '.lists[] | select(.list == \"block\") | .ipv4 + .ipv6')\" = $want ]"
done
t2=$(date +%s.%N)
echo "replace on edge 1 (its own import, build and publish): $(echo "$t1 - $t0" | bc) s;" \
	"at edges 2 and 3 $(echo "$t2 - $t0" | bc) s after the command started"
setup_edge 4 || { echo "bench-fleet: edge 4 setup failed" >&2; exit 1; }
s0=$(date +%s.%N)
start_sync 4
wait_for 120 sh -c "[ \"\$(ip netns exec $pre-e4 $MXS --state-dir $work/s4 --bpffs-dir /run/$pre-b4 --json status | jq '.lists[] | select(.list == \"block\") | .ipv4 + .ipv6')\" = $want ]"
s1=$(date +%s.%N)
echo "a new edge (4) joins: its compiled classifier holds all $want entries after" \
	"$(echo "$s1 - $s0" | bc) s"
sleep 1
chunks=$(ectl get /mxshield/blob/block/ --prefix --keys-only | grep -c .)
bytes=$(ectl get /mxshield/blob/block/ --prefix --print-value-only | wc -c)
keys=$(ectl get /mxshield/ --prefix --keys-only | grep -c .)
db1=$(db_size)
echo "etcd: the list is $chunks chunk keys, $bytes bytes of values ($((bytes / BIG)) bytes an" \
	"entry); $keys keys under the prefix in all"
echo "etcd database size: $((db0 / 1048576)) MiB before, $((db1 / 1048576)) MiB after" \
	"(bbolt grows in steps and keeps freed pages until a defragment)"
