#!/usr/bin/env bash
# The systemd units and the udev hook (docs/packaging.md):
# - `make install DESTDIR=... PREFIX=/usr` renders the units with the
#   installed paths; `systemd-analyze verify --root` passes on each (no
#   warning at all), and fails when the binary is missing;
# - `systemd-analyze security --offline=yes`: the policy service <= 3.0,
#   the boot-time restore unit (and its kin) <= 3.0 as well;
# - ordering: restore Before= postfix@-.service and postfix.service, no
#   ExecStop; the policy service Wants= (not Requires=) it;
# - the units' capability sets are enough: restore, and the policy service
#   started as the unit starts it (bounding set, no_new_privs) answer with
#   the IP verdicts, in the lab's namespace;
# - the udev helper attaches a recorded interface that appears later, and
#   ignores others;
# - the service `mxshield serve`: Type=notify, reload by SIGHUP, Wants= the
#   filter, its sockets by name (policy, metrics); run as its unit runs it
#   (bounding set, no_new_privs) it answers Postfix with IP verdicts,
#   serves the metrics, logs drop events, sweeps and loads a country
#   database, and its state files keep the directory's group;
# - VERSION agrees with debian/changelog; uninstall removes what install put.
LAB_NAME=${LAB_NAME:-mxunit}
source "$(dirname "$0")/lib.sh"

root=$work/root
make -s units >/dev/null
check "make install DESTDIR PREFIX=/usr" make -s install DESTDIR="$root" PREFIX=/usr \
	SYSTEMDUNITDIR=/lib/systemd/system UDEVRULESDIR=/lib/udev/rules.d
units=$root/lib/systemd/system
check "binary in SBINDIR" test -x "$root/usr/sbin/mxshield"
check "units in SYSTEMDUNITDIR" test -f "$units/mxshield.service"
check "udev rule in UDEVRULESDIR" test -f "$root/lib/udev/rules.d/90-mxshield.rules"
if grep -q /usr/local "$units"/* "$root/usr/libexec/mxshield/mxshield-ifup"; then
	not_ok "rendered units name the installed paths" "$(grep -l /usr/local "$units"/*)"
else
	ok "rendered units name the installed paths"
fi
check_eq "restore runs the installed binary" "ExecStart=/usr/sbin/mxshield restore" \
	"$(grep ^ExecStart= "$units/mxshield.service")"

# systemd-analyze verify --root needs systemd's own units in the root, and
# the programs the units run (ExecReload=/bin/kill)
mkdir -p "$root/lib/systemd" "$root/bin"
cp -an /lib/systemd/system "$root/lib/systemd/"
cp /bin/kill "$root/bin/kill"
for u in mxshield.service mxshield-policy.service mxshield-sweep.service \
	mxshield-sweep.timer mxshield-attach@eth0.service mxshield-serve.service \
	mxshield-policy.socket mxshield-metrics.socket mxshield-feeds.service \
	mxshield-feeds.timer; do
	out=$(systemd-analyze verify --root="$root" "$u" 2>&1); rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "verify $u"; else not_ok "verify $u" "rc $rc: $out"; fi
done
mv "$root/usr/sbin/mxshield" "$work/mxshield.aside"
check_fails "verify fails when the binary is missing" \
	systemd-analyze verify --root="$root" mxshield.service
mv "$work/mxshield.aside" "$root/usr/sbin/mxshield"

# exposure N UNIT: "Overall exposure level for UNIT: N ..." <= N
exposure() {
	systemd-analyze security --offline=yes --root="$root" "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for u in mxshield-policy.service mxshield.service mxshield-sweep.service \
	mxshield-attach@eth0.service mxshield-serve.service mxshield-feeds.service; do
	e=$(exposure "$u")
	if [ -n "$e" ] && awk -v e="$e" 'BEGIN { exit !(e <= 3.0) }'; then
		ok "security $u: $e <= 3.0"
	else
		not_ok "security $u: <= 3.0" "got '$e'"
	fi
done

# key=value lines of a unit (the last one wins, as for systemd)
ukey() { sed -n "s/^$2=//p" "$units/$1" | tail -1; }
check_eq "restore: Before= postfix@-.service and postfix.service" "yes" \
	"$(b=$(ukey mxshield.service Before); [[ " $b " == *" postfix@-.service "* && \
		" $b " == *" postfix.service "* ]] && echo yes)"
check_eq "restore: no ExecStop (stop/restart/upgrade keep the filter)" "" \
	"$(ukey mxshield.service ExecStop)"
check_eq "restore: oneshot, RemainAfterExit" "oneshot yes" \
	"$(ukey mxshield.service Type) $(ukey mxshield.service RemainAfterExit)"
check_eq "policy: Wants=mxshield.service" "mxshield.service" "$(ukey mxshield-policy.service Wants)"
check_eq "policy: no Requires=" "" "$(ukey mxshield-policy.service Requires)"
check "the sweep timer is kept" grep -q '^OnCalendar=hourly' "$units/mxshield-sweep.timer"
check_eq "feeds: the timer runs feed update --due" "/usr/sbin/mxshield feed update --due" \
	"$(ukey mxshield-feeds.service ExecStart)"
check_eq "feeds timer: every 5 minutes after the last run" "5min" \
	"$(ukey mxshield-feeds.timer OnUnitInactiveSec)"
check_eq "serve: Type=notify, ExecReload sends SIGHUP" "notify|/bin/kill -HUP \$MAINPID" \
	"$(ukey mxshield-serve.service Type)|$(ukey mxshield-serve.service ExecReload)"
check_eq "serve: Wants=mxshield.service, no Requires=" "mxshield.service|" \
	"$(ukey mxshield-serve.service Wants)|$(ukey mxshield-serve.service Requires)"
check_eq "serve: Before= both Postfix units" "postfix.service postfix@-.service" \
	"$(ukey mxshield-serve.service Before)"
check_eq "serve: no ExecStop (the filter stays)" "" "$(ukey mxshield-serve.service ExecStop)"
check_eq "policy socket: named policy, for serve" "policy mxshield-serve.service 127.0.0.1:10040" \
	"$(ukey mxshield-policy.socket FileDescriptorName) $(ukey mxshield-policy.socket Service) $(ukey mxshield-policy.socket ListenStream)"
check_eq "metrics socket: named metrics, for serve" "metrics mxshield-serve.service 127.0.0.1:9456" \
	"$(ukey mxshield-metrics.socket FileDescriptorName) $(ukey mxshield-metrics.socket Service) $(ukey mxshield-metrics.socket ListenStream)"

# as_unit UNIT CMD...: CMD with the unit's capability bounding set and
# no_new_privs, in the lab's mail namespace (what systemd would do)
caps_of() {
	local caps=-all c
	for c in $(ukey "$1" CapabilityBoundingSet); do
		c=${c#CAP_}
		caps+=",+${c,,}"
	done
	echo "$caps"
}
as_unit() {
	local unit=$1
	shift
	ip netns exec "$MAIL" setpriv --no-new-privs --inh-caps=-all --bounding-set="$(caps_of "$unit")" "$@"
}

lab_up 198.51.100.10
chmod 0711 "$work"
mkdir -p "$work/state"
chgrp nogroup "$work/state"
chmod 0750 "$work/state"
MXA=("$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs")
check "attach mx0 (the state records it)" mx attach mx0 --mode generic
check "block add 198.51.100.10" mx block add 198.51.100.10
check "sender add (an envelope list)" mx sender add bad@example.org --list block
check "restore with the restore unit's capabilities" as_unit mxshield.service "${MXA[@]}" restore
check "sweep with the sweep unit's capabilities" as_unit mxshield-sweep.service "${MXA[@]}" sweep
check "block add with them (state files keep the group)" \
	as_unit mxshield.service "${MXA[@]}" block add 192.0.2.9
# (what the policy service reads: settings and envelope lists)
check_eq "state files it writes get the directory's group, 0640" "640 nogroup 640 nogroup" \
	"$(stat -c '%a %G' "$work/state/envelope" "$work/state/ifaces" | tr '\n' ' ' | sed 's/ $//')"
# an IP list's journal too (a new journal file, not a rewritten one)
check_eq "... the block list's journal too" "640 nogroup" \
	"$(stat -c '%a %G' "$work/state/block.journal")"

# the policy service, started as its unit starts it, as nogroup's user
# (the unit's own command line, with --user nobody for mxshield: the lab
# uses the system's nobody/nogroup, the package creates mxshield)
read -r -a pol <<<"$(ukey mxshield-policy.service ExecStart)"
args=()
for ((i = 1; i < ${#pol[@]}; i++)); do
	args+=("${pol[i]}")
	[ "${pol[i]}" = --user ] && { args+=(nobody); i=$((i + 1)); }
done
check_eq "policy unit: the binary, policy serve ... --user mxshield" \
	"/usr/sbin/mxshield policy serve mxshield" \
	"${pol[0]} ${pol[1]} ${pol[2]} $(for ((i = 0; i < ${#pol[@]}; i++)); do [ "${pol[i]}" = --user ] && echo "${pol[i + 1]}"; done)"
as_unit mxshield-policy.service "${MXA[@]}" "${args[@]}" >"$work/policy.log" 2>&1 &
lab_pids+=($!)
ask() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=%s\nrecipient=a@example.com\n\n' \
		"$1" "$2" | ip netns exec "$MAIL" socat -t2 - TCP:127.0.0.1:10040 2>/dev/null | head -1
}
for _ in $(seq 50); do [ -n "$(ask 192.0.2.1 x@example.org)" ] && break; sleep 0.1; done
check_eq "policy (unit's capabilities, as nobody): IP verdict" \
	"action=550 5.7.1 mxshield: rejected (IP block list 198.51.100.10/32)" \
	"$(ask 198.51.100.10 x@example.org)"
check_eq "policy (unit's capabilities, as nobody): envelope verdict" \
	"action=550 5.7.1 mxshield: rejected (sender block list bad@example.org)" \
	"$(ask 192.0.2.1 bad@example.org)"
ppid=$(pgrep -f "^$MXS .*policy serve .*--user nobody" | head -1)
check_eq "policy runs with no capabilities, no_new_privs" "0000000000000000 1" \
	"$(awk '/^CapEff/ { e = $2 } /^NoNewPrivs/ { n = $2 } END { print e, n }' /proc/$ppid/status 2>/dev/null)"
kill "$ppid" 2>/dev/null

# the service, started as its unit starts it: its command line with a
# config of the test's, under its bounding set, with the sockets systemd
# would pass (by name); every part at work
read -r -a srv <<<"$(ukey mxshield-serve.service ExecStart)"
check_eq "serve unit: the binary, serve" "/usr/sbin/mxshield serve" "${srv[*]}"
mkdir -p "$work/geo"
echo "192.0.2.0/26 DE" | scripts/make-test-mmdb.pl --schema geoip2 "$work/geo/c.mmdb" 2>/dev/null
mx block add 198.51.100.77 --expires 1s >/dev/null
printf '[sweep]\ninterval = 2s\n[geo]\nwatch = %s\n[metrics]\nenabled = yes\n[events]\nenabled = yes\n' \
	"$work/geo/c.mmdb" >"$work/serve.conf"
sleep 1
ip netns exec "$MAIL" systemd-socket-activate -l 127.0.0.1:10040 -l 127.0.0.1:9456 --fdname=policy:metrics \
	setpriv --no-new-privs --inh-caps=-all --bounding-set="$(caps_of mxshield-serve.service)" \
	"${MXA[@]}" serve --config "$work/serve.conf" --log stderr >"$work/serve.log" 2>&1 &
spid=$!
lab_pids+=($spid)
for _ in $(seq 50); do [ -n "$(ask 192.0.2.1 x@example.org)" ] && break; sleep 0.1; done
check_eq "serve (unit's capabilities): IP verdict on the passed policy socket" \
	"action=550 5.7.1 mxshield: rejected (IP block list 198.51.100.10/32)" "$(ask 198.51.100.10 x@example.org)"
# (a scrape while the start's upkeep holds the lock has no filter figures
# yet: the service does not wait for it)
for _ in $(seq 50); do
	m=$(ip netns exec "$MAIL" curl -s --max-time 3 http://127.0.0.1:9456/metrics)
	grep -q '^mxshield_filter_loaded ' <<<"$m" && break
	sleep 0.2
done
check_eq "serve (unit's capabilities): metrics on the passed socket, policy with IP verdicts" "1 1 1" \
	"$(awk '$1 == "mxshield_filter_loaded" || $1 == "mxshield_policy_ip_verdicts" || $1 == "mxshield_events_reader" { printf "%s ", $2 }' <<<"$m" | sed 's/ $//')"
for _ in $(seq 100); do grep -q "sweep: 1 expired entry removed" "$work/serve.log" && grep -q "geo watch: loaded" "$work/serve.log" && break; sleep 0.1; done
check "serve (unit's capabilities): a sweep removed the expired entry" grep -q "sweep: 1 expired entry removed" "$work/serve.log"
check "serve (unit's capabilities): the watched country database was loaded" grep -q "geo watch: loaded" "$work/serve.log"
check "serve (unit's capabilities): drop events read" grep -q "drop events: reading the ring buffer" "$work/serve.log"
check_eq "serve (unit's capabilities): every state file keeps the group, none readable by others" "" \
	"$(find "$work/state" -type f ! -name .lock \( ! -group nogroup -o -perm /o=r \))"
check_fails "serve (unit's capabilities): no error logged" grep -qiE "not permitted|error|failed" "$work/serve.log"
kill -TERM $spid
wait $spid
check_eq "serve (unit's capabilities): SIGTERM, exit 0" 0 $?

# the feeds unit, as its timer starts it: a due feed is refreshed with the
# unit's bounding set and no_new_privs
printf '192.0.2.200/29\n' >"$work/feed.txt"
check "feed add (a local file)" mx feed add u "$work/feed.txt"
check "feed update --due with the feeds unit's capabilities" \
	as_unit mxshield-feeds.service "${MXA[@]}" feed update --due
check_eq "... the feed's entry is live" "drop" "$(mx --json lookup 192.0.2.201 | jq -r .verdict)"

# udev hook: mx0 goes away and comes back (a new ifindex): the helper
# re-attaches it in its recorded mode; an interface not recorded is left be
ifup=$root/usr/libexec/mxshield/mxshield-ifup
ifup_as_unit() {
	MXSHIELD_STATE_DIR=$work/state MXSHIELD_BPFFS_DIR=$bpffs MXSHIELD=$MXS \
		as_unit mxshield-attach@.service "$ifup" "$1"
}
ip -n "$MAIL" link del mx0
ip -n "$MAIL" link add mx0 type veth peer name cl0 netns "$CL"
ip -n "$MAIL" addr add 203.0.113.1/24 dev mx0
ip -n "$MAIL" link set mx0 up
ip -n "$CL" addr add 198.51.100.10/24 dev cl0
ip -n "$CL" link set cl0 up
ip -n "$MAIL" route add default dev mx0
ip -n "$CL" route add default dev cl0
check "mx0 re-created: 198.51.100.10 connects (not attached)" can_connect 198.51.100.10 25
check "mxshield-ifup mx0 (recorded)" ifup_as_unit mx0
check "... 198.51.100.10 is dropped again" cannot_connect 198.51.100.10 25
check_eq "... in its recorded mode" "xdpgeneric" \
	"$(ip -n "$MAIL" -d link show mx0 | grep -o 'xdpgeneric' | head -1)"
ip -n "$MAIL" link add other7 type veth peer name other8
check "mxshield-ifup other7 (not recorded): exit 0" ifup_as_unit other7
check_eq "... other7 left alone" "" "$(ip -n "$MAIL" -d link show other7 | grep -o 'xdp[a-z]*')"
check_eq "udev rule starts mxshield-attach@IFACE for added net devices" 1 \
	"$(grep -c '^SUBSYSTEM=="net", ACTION=="add".*SYSTEMD_WANTS}+="mxshield-attach@$name.service"' \
		"$root/lib/udev/rules.d/90-mxshield.rules")"

# one version: VERSION and debian/changelog agree
check_eq "VERSION agrees with debian/changelog" "$(cat VERSION)" \
	"$(dpkg-parsechangelog -l debian/changelog -S Version)"

rm -f "$root/bin/kill"
rm -rf "$root/lib/systemd/system/"[!m]* "$root/lib/systemd/system/"m[!x]*
check "make uninstall" make -s uninstall DESTDIR="$root" PREFIX=/usr \
	SYSTEMDUNITDIR=/lib/systemd/system UDEVRULESDIR=/lib/udev/rules.d
check_eq "uninstall leaves no file" "" "$(find "$root" -type f)"
lab_finish
