#!/usr/bin/env bash
# Reads change nothing. Every read-only command (status, lookup, stats, tags,
# the lists' list), with no filter loaded and with one loaded:
#  - makes no changing system call: strace sees no BPF program or map
#    created, loaded, pinned or updated, no mount, mkdir, rename, unlink,
#    truncate, and no file opened for writing;
#  - leaves the state directory byte-identical (every file's content, size,
#    mode and mtime, the directory's own listing and mtime), creates no
#    state directory where there is none, no pin and no bpffs mount;
# and lookup with nothing loaded gives the verdict the filter gives once
# loaded (the same addresses looked up before and after `restore`).
source "$(dirname "$0")/lib.sh"

lab_up || { not_ok "lab setup"; exit 1; }
plain=$work/plain		# a plain directory, not a bpffs
mkdir -p "$plain"
reads_cleanup() {
	mountpoint -q "$plain" && umount "$plain"
	lab_cleanup
}
trap reads_cleanup EXIT

# rd BPFFS_DIR [STATE_DIR] -- ARGS...: a read, in the lab's network
# namespace but the root mount namespace (nsenter --net keeps /sys and
# every mount), so a read that mounted or pinned would really do it.
# Traced: the system calls that could change anything go to $trace.
trace=$work/trace
rd() {
	local b=$1 s=$work/state
	shift
	[ "$1" != -- ] && { s=$1; shift; }
	shift
	nsenter --net=/run/netns/"$MAIL" strace -f -qq -o "$trace" \
		-e trace=bpf,mount,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,truncate,ftruncate,open,openat,creat,link,linkat,symlink,symlinkat,chmod,fchmod,fchmodat,utimensat \
		"$MXS" --state-dir "$s" --bpffs-dir "$b" "$@"
}
# What in $trace would change something (empty: nothing).
changing_calls() {
	grep -E 'BPF_(PROG_LOAD|MAP_CREATE|OBJ_PIN|LINK_CREATE|LINK_UPDATE|LINK_DETACH|PROG_ATTACH|MAP_UPDATE|MAP_DELETE|MAP_FREEZE|BTF_LOAD)|^[0-9]+ +(mount|mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|rmdir|truncate|ftruncate|creat|link|linkat|symlink|symlinkat|chmod|fchmod|fchmodat|utimensat)\(|O_WRONLY|O_RDWR|O_CREAT|O_TRUNC' \
		"$trace" | head -1 | tr -s ' '
}
# Every file and directory under DIR: type, mode, size, mtime (ns), then
# the files' checksums.
fingerprint() {
	[ -d "$1" ] || { echo "no $1"; return; }
	(cd "$1" && find . -printf '%p %y %m %s %T@\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k2)
}

# run_reads LABEL BPFFS_DIR STATE_DIR WANT: every read-only command, one
# check for all: each exits as it should (stats and tags: WANT, 0 when
# loaded, 3 when not; the others 0) and makes no changing system call.
run_reads() {
	local label=$1 b=$2 s=$3 want=$4 cmd rc bad exp problems="" n=0
	local cmds=(
		"status" "--json status" "stats" "--json stats" "tags list" "--json tags list"
		"block list" "--json block list" "trust list" "gateway list" "partner list"
		"--json partner list" "country list" "--json country list" "sender list"
		"domain list" "tld list" "recipient list" "pattern list" "org-domain list"
	)
	for a in $ADDRS; do cmds+=("lookup $a" "--json lookup $a"); done
	for cmd in "${cmds[@]}"; do
		# shellcheck disable=SC2086 # the words of the command
		rd "$b" "$s" -- $cmd >/dev/null 2>&1
		rc=$?
		n=$((n + 1))
		bad=$(changing_calls)
		case $cmd in *stats*|*tags*) exp=$want ;; *) exp=0 ;; esac
		[ "$rc" -ne "$exp" ] && problems+="'$cmd' exits $rc, not $exp"$'\n'
		[ -n "$bad" ] && problems+="'$cmd' calls $bad"$'\n'
	done
	if [ -z "$problems" ]; then
		ok "$label: $n read commands exit as they should, no changing system call"
	else
		not_ok "$label: read commands" "$(wc -l <<<"${problems%$'\n'}") problems, first: $(head -3 <<<"$problems" | paste -sd';')"
	fi
}

# verdicts BPFFS_DIR: one line per address of $ADDRS: the verdict and every
# matching entry (lookup --json, without the hit counters)
verdicts() {
	for a in $ADDRS; do
		rd "$1" -- --json lookup "$a" | jq -c --arg a "$a" '{a: $a, verdict, nic, tag,
			monitor, reason, country, m: [.matches[] | {list, entry, decides}]}'
	done
}

# --- a state directory made by write commands (which load the filter)
scripts/make-test-mmdb.pl --schema geoip2 "$work/geo.mmdb" 2>/dev/null <<'EOF'
203.0.113.0/25      CN
203.0.113.128/25    DE
2001:db8:c0::/48    CN
EOF
cfg=(
	"block add 198.51.100.0/24"
	"block add 198.51.100.128/25 --action spam --comment half"
	"block add 198.51.100.200 --action reject"
	"block add 198.51.100.201 --action quarantine --expires 1d"
	"trust add 198.51.100.10 --comment inside-a-block"
	"partner add acme --ip 198.51.100.20,203.0.113.5 --domain acme.example"
	"gateway add 198.51.100.30"
	"block add 2001:db8:bad::/48 --action reject"
	"block add 2001:db8:bad:1::/64 --action spam"
	"trust add 2001:db8:bad::1"
	"block add 203.0.113.200 --action spam"
	"country add CN --action drop"
	"country add BR --action reject"
	"sender add bulk@spam.example --list block"
	"domain add friend.example --list allow"
	"org-domain add corp.example"
	"attach mx0"
	"block add 198.51.100.40 --expires 1s"
)
for c in "${cfg[@]}"; do
	# shellcheck disable=SC2086
	mx $c >/dev/null || not_ok "setup: mxshield $c"
done
check "setup: geo load" mx geo load "$work/geo.mmdb"
ADDRS="198.51.100.1 198.51.100.10 198.51.100.20 198.51.100.30 198.51.100.40 198.51.100.130
	198.51.100.200 198.51.100.201 2001:db8:bad::1 2001:db8:bad::2 2001:db8:bad:1::5
	203.0.113.7 203.0.113.5 203.0.113.150 203.0.113.200 2001:db8:c0::9 192.0.2.1
	2001:db8:ffff::1"
check "unload: the pins go, the state stays" mx unload
sleep 1.2	# 198.51.100.40's entry has expired, and is still in the state
# a change that never completed: a torn last journal line, which a read
# must leave to the next change
printf '999 + 198.51.100.99/32 1 0 0 torn' >>"$work/state/block.journal"

# --- nothing loaded ------------------------------------------------------
before=$(fingerprint "$work/state")
run_reads "not loaded" "$plain" "$work/state" 3
check_eq "not loaded: the state directory is byte-identical (mtimes too)" \
	"$before" "$(fingerprint "$work/state")"
check_eq "not loaded: nothing appeared in the --bpffs-dir" "" "$(ls -A "$plain")"
check_fails "not loaded: the --bpffs-dir is no mount point" mountpoint -q "$plain"

# the same on an empty bpffs (the lab's), and with no state directory
before_pins=$(ls -A "$bpffs")
run_reads "empty bpffs" "$bpffs" "$work/state" 3
check_eq "empty bpffs: the state directory is byte-identical" \
	"$before" "$(fingerprint "$work/state")"
check_eq "empty bpffs: no pin appeared" "$before_pins" "$(ls -A "$bpffs")"
run_reads "no state dir" "$plain" "$work/none" 3
check_fails "no state dir: reads create none" test -e "$work/none"
check_eq "no state dir: nothing in the --bpffs-dir" "" "$(ls -A "$plain")"

# --- what the reads say with nothing loaded
st=$(rd "$plain" -- --json status)
check_eq "status: loaded false" "false" "$(jq -r .loaded <<<"$st")"
check_eq "status: entry counts from the state (block: 5 IPv4, 2 IPv6; expired not counted)" \
	"5 2" "$(jq -r '.lists[] | select(.list == "block") | "\(.ipv4) \(.ipv6)"' <<<"$st")"
check_eq "status: country networks of the policy countries" "1 1" \
	"$(jq -r '.lists[] | select(.list == "country") | "\(.ipv4) \(.ipv6)"' <<<"$st")"
check_eq "status: the configured interface, not attached" "mx0 native false" \
	"$(jq -r '.interfaces[] | "\(.name) \(.xdp_mode) \(.attached)"' <<<"$st")"
out=$(rd "$plain" -- status)
check "status (text) says not loaded" grep -q '^mxshield: not loaded' <<<"$out"
check "... and lists the interface restore attaches" grep -q "mx0 .*not attached" <<<"$out"
check_eq "stats --json: loaded false" '{"loaded":false}' "$(rd "$plain" -- --json stats 2>/dev/null)"
msg=$(rd "$plain" -- tags list 2>&1 >/dev/null)
check "tags list: the error says not loaded and how to load" grep -q "not loaded.*restore" <<<"$msg"
check_eq "lookup --json: loaded false" "false" \
	"$(rd "$plain" -- --json lookup 198.51.100.1 | jq -r .loaded)"
out=$(rd "$plain" -- lookup 198.51.100.1)
check "lookup (text) says the filter is not loaded" grep -q 'filter:  not loaded' <<<"$out"
listing=$(rd "$plain" -- block list)
check "block list shows the expired entry as expired" grep -q "^198.51.100.40/32 .*expired" <<<"$listing"
check_fails "block list: the torn journal line is no entry" grep -q 198.51.100.99 <<<"$listing"

off=$(verdicts "$plain")
# the verdicts themselves (the comparison below must not be vacuous)
check_eq "not loaded: the verdicts of the lists" \
	"drop block,pass trust,pass partner,pass gateway,drop block,spam block,reject block,quarantine block,pass trust,reject block,spam block,drop country,pass partner,pass default,spam block,drop country,pass default,pass default" \
	"$(jq -r '"\(.verdict) \(.reason)"' <<<"$off" | paste -sd,)"
check_eq "not loaded: the country of 203.0.113.7 decides" "country CN" \
	"$(jq -r 'select(.a == "203.0.113.7") | "\(.reason) \(.country)"' <<<"$off")"

# --- load it: the same verdicts from the live maps
check "restore loads and attaches" mx restore
on=$(verdicts "$bpffs")
check_eq "loaded: lookup says so" "true" "$(rd "$bpffs" -- --json lookup 192.0.2.1 | jq -r .loaded)"
check_eq "lookup before the load gives the verdicts and entries of the loaded filter ($(wc -l <<<"$on") addresses)" \
	"$off" "$on"

# --- loaded: reads leave state and pins alone (an expired entry in the
# state, which a write would sweep, stays)
before=$(fingerprint "$work/state")
pins=$(cd "$bpffs" && find . -printf '%p %i\n' | sort)
run_reads "loaded" "$bpffs" "$work/state" 0
check_eq "loaded: the state directory is byte-identical (mtimes too)" \
	"$before" "$(fingerprint "$work/state")"
check_eq "loaded: the pins are the same" "$pins" "$(cd "$bpffs" && find . -printf '%p %i\n' | sort)"
check "sweep (a write) removes the expired entry" mx sweep
check "... and the fingerprint sees that change" \
	test "$before" != "$(fingerprint "$work/state")"

# --- monitor and gateway-only from the settings file, before and after a load
check "mode monitor" mx mode monitor
check "gateway-only on" mx gateway-only on
check "unload" mx unload
off=$(verdicts "$plain")
check "restore" mx restore
on=$(verdicts "$bpffs")
check_eq "monitor, gateway-only: lookup before the load gives the loaded filter's verdicts" \
	"$off" "$on"
check_eq "... gateway-only drops the unlisted (monitor: would drop)" "drop gateway-only true" \
	"$(jq -r 'select(.a == "192.0.2.1") | "\(.verdict) \(.reason) \(.monitor)"' <<<"$on")"

lab_finish
