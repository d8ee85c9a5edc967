#!/usr/bin/env bash
# The Debian package (docs/packaging.md), built from a copy of the tree
# under /tmp: dpkg-buildpackage -us -uc -b, lintian (no error), hardening
# of the binary; dpkg -i: the system user and group mxshield, the state
# directory root:mxshield 0750, the units enabled (symlinks: no systemd as
# PID 1 here), `mxshield --version`; an upgrade to a newer build keeps the
# filter attached (same link, in the lab's namespace with a private bpffs
# and the state directory bind-mounted); remove detaches it and keeps the
# state; purge removes the state and the enable links, keeps the user.
# Whatever happens, the package is purged at the end (machine shared with
# other tests), and a user the test created is removed.
LAB_NAME=${LAB_NAME:-mxpkg}
source "$(dirname "$0")/lib.sh"

had_user=$(getent passwd mxshield >/dev/null && echo yes)
pkg_cleanup() {
	dpkg --purge mxshield >/dev/null 2>&1
	[ -z "$had_user" ] && getent passwd mxshield >/dev/null && deluser --quiet --system mxshield >/dev/null 2>&1
	[ -z "$had_user" ] && getent group mxshield >/dev/null && delgroup --quiet --system mxshield >/dev/null 2>&1
	lab_cleanup
}
trap pkg_cleanup EXIT
# already installed (an earlier run, by hand): start from nothing
dpkg --purge mxshield >/dev/null 2>&1

# build: the tree as committed plus the working changes, without build/
src=$work/src
mkdir -p "$src/a"
git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T - | tar -xf - -C "$src/a"
version=$(cat VERSION)
build() { (cd "$1" && dpkg-buildpackage -us -uc -b) >"$1.log" 2>&1; }
check "dpkg-buildpackage -us -uc -b" build "$src/a"
deb=$src/mxshield_${version}_$(dpkg --print-architecture).deb
check "it made $(basename "$deb")" test -f "$deb"
lint=$(lintian "$src"/mxshield_*.changes 2>&1)
check_eq "lintian: no error, no warning" "" "$(grep '^[EW]:' <<<"$lint")"
grep '^W:' <<<"$lint" | sed 's/^/# lintian /'
dpkg-deb -x "$deb" "$work/x"
hc=$(hardening-check "$work/x/usr/sbin/mxshield")
for f in "Position Independent Executable" "Stack protected" "Fortify Source functions" \
	"Read-only relocations" "Immediate binding"; do
	check "hardening: $f" grep -q "^ $f: yes" <<<"$hc"
done

# a newer build to upgrade to: one more changelog entry and VERSION
cp -a "$src/a" "$src/b"
echo "$version+t1" >"$src/b/VERSION"
(cd "$src/b" && DEBFULLNAME=test DEBEMAIL=test@example.org \
	dch -v "$version+t1" -D unstable "Upgrade test build." >/dev/null 2>&1)
check "a newer build ($version+t1)" build "$src/b"
deb2=$src/mxshield_${version}+t1_$(dpkg --print-architecture).deb

# install
check "dpkg -i" dpkg -i "$deb"
check_eq "installed version" "$version" "$(dpkg-query -W -f='${Version}' mxshield)"
uid=$(id -u mxshield 2>/dev/null)
check_eq "user mxshield: a system user, group mxshield, no login" "yes mxshield /usr/sbin/nologin" \
	"$([ -n "$uid" ] && [ "$uid" -lt 1000 ] && echo yes) $(id -gn mxshield 2>/dev/null) $(getent passwd mxshield | cut -d: -f7)"
check_eq "/var/lib/mxshield: root:mxshield 750" "root:mxshield 750" \
	"$(stat -c '%U:%G %a' /var/lib/mxshield 2>/dev/null)"
check_eq "/usr/sbin/mxshield: root:root 755" "root:root 755" "$(stat -c '%U:%G %a' /usr/sbin/mxshield)"
for u in mxshield.service mxshield-policy.service mxshield-sweep.service mxshield-sweep.timer \
	mxshield-attach@.service mxshield-serve.service mxshield-policy.socket mxshield-metrics.socket \
	mxshield-feeds.service mxshield-feeds.timer; do
	check "unit $u installed" test -f /lib/systemd/system/$u
done
for l in multi-user.target.wants/mxshield.service multi-user.target.wants/mxshield-serve.service \
	sockets.target.wants/mxshield-policy.socket; do
	check_eq "enabled: $l" "/lib/systemd/system/${l#*/}" "$(readlink /etc/systemd/system/$l)"
done
# what the service does, shipped for a host that runs it apart (disabled)
for l in multi-user.target.wants/mxshield-policy.service timers.target.wants/mxshield-sweep.timer \
	timers.target.wants/mxshield-feeds.timer sockets.target.wants/mxshield-metrics.socket; do
	check_fails "not enabled: $l" test -e "/etc/systemd/system/$l"
done
check "the config file is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' mxshield | grep -q /etc/mxshield/mxshield.conf"
check "udev rule installed" test -f /lib/udev/rules.d/90-mxshield.rules
out=$(/usr/sbin/mxshield --version 2>&1)
check_eq "mxshield --version" "mxshield $version" "$out"
check "mxshield(8) installed" test -f /usr/share/man/man8/mxshield.8.gz
check "bash completion installed" test -f /usr/share/bash-completion/completions/mxshield

# upgrade and remove with a filter attached, in the lab's mail namespace:
# its own mount namespace gets a bpffs on /sys/fs/bpf and a directory of
# the test's over /var/lib/mxshield, so the maintainer scripts' mxshield
# sees that filter and that state, and nothing of the host's
lab_up 198.51.100.10
st=$work/state
mkdir -p "$st"
chgrp mxshield "$st"
chmod 0750 "$st"
inner() {
	set -u
	mount --bind "$st" /var/lib/mxshield && mount -t bpf bpf /sys/fs/bpf || exit 1
	linkid() { bpftool -j link show pinned /sys/fs/bpf/mxshield/link_mx0 2>/dev/null | jq -r .id; }
	progid() { bpftool -j link show pinned /sys/fs/bpf/mxshield/link_mx0 2>/dev/null | jq -r .prog_id; }
	drops() { [ -z "$(connect_from 198.51.100.10 25)" ] && echo drops || echo passes; }
	/usr/sbin/mxshield attach mx0 --mode generic >/dev/null
	/usr/sbin/mxshield block add 198.51.100.10 >/dev/null
	echo "before $(linkid) $(progid) $(drops)"
	dpkg -i "$deb2" >/dev/null 2>&1 || echo "upgrade failed"
	echo "upgraded $(linkid) $(progid) $(drops) $(dpkg-query -W -f='${Version}' mxshield)"
	# what `systemctl restart mxshield` (postinst, after an upgrade) runs
	/usr/sbin/mxshield restore >/dev/null
	echo "restored $(linkid) $(progid) $(drops) $(/usr/sbin/mxshield block list | grep -c 198.51.100.10)"
	dpkg -r mxshield >/dev/null 2>&1 || echo "remove failed"
	echo "removed $(ls /sys/fs/bpf/mxshield 2>/dev/null | wc -l) $(drops) $(ip -d link show mx0 | grep -c xdpgeneric)"
}
out=$(ip netns exec "$MAIL" bash -c "$(declare -f inner connect_from); CL=$CL st=$st deb2=$deb2 inner" 2>&1)
sed 's/^/# /' <<<"$out"
read -r _ l1 p1 d1 <<<"$(grep ^before <<<"$out")"
read -r _ l2 p2 d2 v2 <<<"$(grep ^upgraded <<<"$out")"
read -r _ l3 p3 d3 n3 <<<"$(grep ^restored <<<"$out")"
read -r _ pins d4 x4 <<<"$(grep ^removed <<<"$out")"
check_eq "attached, 198.51.100.10 dropped" "drops" "$([ -n "$l1" ] && [ "$l1" != null ] && echo "$d1")"
check_eq "upgrade to $version+t1: same link, same program, still dropping" \
	"$l1 $p1 drops $version+t1" "$l2 $p2 $d2 $v2"
check_eq "restore after it: same link, a new program, still dropping, list kept" \
	"$l1 yes drops 1" "$l3 $([ "$p3" != "$p1" ] && echo yes) $d3 $n3"
check_eq "remove: detached, no pins, 198.51.100.10 connects" "0 passes 0" "$pins $d4 $x4"
check "remove keeps the state" test -s "$st/block.journal" -o -s "$st/block.list"
check_eq "remove keeps the state directory" "root:mxshield 750" \
	"$(stat -c '%U:%G %a' /var/lib/mxshield 2>/dev/null)"
check_fails "remove: no /usr/sbin/mxshield" test -e /usr/sbin/mxshield

check "purge" dpkg --purge mxshield
check_fails "purge: /var/lib/mxshield gone" test -e /var/lib/mxshield
check_eq "purge: no enable links left" "" \
	"$(find /etc/systemd/system -name 'mxshield*' 2>/dev/null)"
check "purge keeps the user mxshield (documented)" getent passwd mxshield
check_eq "dpkg knows no mxshield" "" "$(dpkg-query -W -f='${Status}' mxshield 2>/dev/null | grep -v not-installed)"
lab_finish
