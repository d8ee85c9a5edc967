#!/usr/bin/env bash
# Install what mxshield needs to build, test and run its demo on Debian 12.
# Idempotent: does nothing when everything is present. Needs root.
set -euo pipefail
pkgs=(
	# build
	gcc make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	libmaxminddb-dev libspf2-dev libjson-c-dev libsystemd-dev pkg-config
	# the metrics endpoint (mxshield metrics serve): HTTP
	libmicrohttpd-dev
	# the content milter: the milter protocol, MIME, regular expressions
	libmilter-dev libgmime-3.0-dev libpcre2-dev
	# HTTP client: feeds (mxshield feed), the fleet's etcd gateway (mxshield sync)
	libcurl4-openssl-dev
	# the policy service's DNSBL lookups, asynchronous in its loop
	libc-ares-dev
	# language rules: detection (n-gram models in libexttextcat-data)
	libexttextcat-dev libexttextcat-data
	# make fuzz: libFuzzer and the sanitizer runtimes for clang 14
	libclang-rt-14-dev
	# run and test
	iproute2 nftables mmdb-bin libmaxmind-db-writer-perl tcpreplay
	python3 python3-scapy socat jq util-linux
	# tests/test_reads.sh: proof that reads make no changing system call
	strace
	# the end-to-end and import benchmarks (scripts/bench-e2e.sh, bench-import.sh)
	ipset
	# the MTA hand-off tests: a real Postfix, SMTP client, DNS, certificates
	postfix swaks dnsmasq-base openssl
	# swaks only recommends what it needs for IPv6 and TLS sessions
	libio-socket-inet6-perl libnet-ssleay-perl
	# tests/test_auto.sh: journal files with Postfix's entries, written
	# without a journald (systemd-journal-remote reads the export format)
	systemd-journal-remote
	# tests/test_top.sh: the live view under a terminal
	tmux
	# the Debian package (debian/, tests/test_package.sh, tests/test_units.sh)
	debhelper devscripts lintian dpkg-dev fakeroot
	# tests/test_fleet.sh: a real etcd cluster (in namespaces only)
	etcd-server etcd-client
	# tests/test_metrics.sh: promtool checks the exposition, a real
	# Prometheus server (started in a namespace only) scrapes it
	prometheus
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is only ever started by the tests, in a namespace, with its
	# own configuration: install it unconfigured and keep the system
	# instance from starting (policy-rc.d), so the root namespace is untouched.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	rc_d=/usr/sbin/policy-rc.d
	[ -e $rc_d ] || { printf '#!/bin/sh\nexit 101\n' > $rc_d; chmod +x $rc_d; trap 'rm -f $rc_d' EXIT; }
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
