# shellcheck shell=bash
# Test helpers over the namespace lab (scripts/lab.sh), sourced by the
# namespace tests. Output convention: "ok - NAME" / "not ok - NAME: details".
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lab.sh"
failures=0

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1${2:+: $2}"; failures=$((failures + 1)); }
# check NAME CMD...: passes when CMD succeeds
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name" "'$*' failed"; fi
}
# check_fails NAME CMD...: passes when CMD fails
check_fails() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then not_ok "$name" "'$*' succeeded"; else ok "$name"; fi
}
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}

# stat_packets REASON ACTION: that row of `mxshield --json stats`
stat_packets() {
	mx --json stats | jq -r --arg r "$1" --arg a "$2" \
		'[.verdicts[] | select(.reason == $r and .action == $a) | .packets] | add // 0'
}
xdp_packets() { mx --json stats | jq -r ".xdp.$1"; }

# journal_listen SOCKET OUT: a journal socket of the test's own, each
# message one JSON object a line in OUT (tests/journal-listen.py).
journal_listen() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/journal-listen.py" "$1" "$2" &
	lab_pids+=($!)
	for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	return 1
}
# with_journal SOCKET CMD...: CMD in the mail namespace and a mount
# namespace of its own, where SOCKET is /run/systemd/journal/socket. Run in
# the background (&) it becomes CMD (exec), so $! is CMD's pid.
with_journal() {
	local sock=$1 ex=
	shift
	[ "$BASHPID" != "$$" ] && ex=exec
	$ex ip netns exec "$MAIL" unshare -m sh -c \
		'mount -t tmpfs none /run/systemd && mkdir /run/systemd/journal &&
		 touch /run/systemd/journal/socket && mount --bind "$0" /run/systemd/journal/socket &&
		 exec "$@"' "$sock" "$@"
}

lab_finish() {
	[ "$failures" -eq 0 ]
}

# postfix_base DIR: a Postfix instance of the tests' own under DIR (etc,
# spool, data, mail; its log in DIR/maillog), its master.cf (the services
# every test needs, postlogd for maillog_file) and the head of its main.cf,
# which the test goes on with (cat >> DIR/etc/main.cf). The caller makes
# the directories above DIR walkable for Postfix's users.
postfix_base() {
	local d=$1
	mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/mail"
	chown postfix "$d/data"
	chown nobody:nogroup "$d/mail"
	sed 's/^\s*//' > "$d/etc/master.cf" <<'EOF'
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	cat > "$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/maillog
maillog_file_prefixes = $d
EOF
}
