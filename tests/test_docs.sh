#!/usr/bin/env bash
# The documentation's examples run, so the docs cannot rot.
#
# In README.md and docs/*.md, every line of a fenced block tagged `sh` that
# starts with "mxshield " (or "./mxshield ") is an example (a line ending in "\" continues on
# the next). This test
#
#   1. fails on a line that starts with "mxshield ", "$ mxshield " or
#      "# mxshield " in a fenced block NOT tagged sh, or with "$ mxshield "
#      or an indented "mxshield " in one tagged sh: no example can hide;
#   2. runs every example, file by file in order, each file from an empty
#      state directory and no filter loaded, in a network namespace of its
#      own (through nsenter --net, which keeps /sys) that has an interface
#      named eth0 (one end of a veth pair, both ends inside), with its own
#      state directory and bpffs (MXSHIELD_STATE_DIR, MXSHIELD_BPFFS_DIR),
#      in a working directory holding these files:
#        blocklist.txt      a few documentation CIDRs, one a line, a comment
#        blocklist.csv.gz   CSV address,action,expiry,comment, gzip
#        senders.txt        envelope senders, one a line, one with columns
#        countries.mmdb     CN, RU, DE over documentation ranges
#                           (scripts/make-test-mmdb.pl)
#        the published-list examples of tests/data/formats (drop.txt,
#                           drop.json, abuseipdb.csv, postfix.cidr, ...)
#      An example must exit 0 within 60 s; one whose line ends with the
#      comment "# exit N" must exit N, and each comment line right after it
#      ("# TEXT") must be a line of its output. A server (`policy serve`,
#      `metrics serve`) must still be running after 2 s (it is then stopped). "./mxshield" and the
#      leading "mxshield" become the built binary;
#   3. checks that every relative link in those files names a file that
#      exists.
#
# One line per example: "ok - docs: FILE: CMD".
LAB_NAME=${LAB_NAME:-mx}docs
source "$(dirname "$0")/lib.sh"

files=(README.md docs/*.md)
cwd=$work/cwd
state=$work/state

# ---- the lab: a namespace with eth0, a bpffs, the example files ----------------
lab() {
	ip netns add "$MAIL" &&
		ip -n "$MAIL" link add eth0 type veth peer name peer0 &&
		ip -n "$MAIL" link set lo up &&
		ip -n "$MAIL" link set peer0 up &&
		ip -n "$MAIL" link set eth0 up &&
		ip -n "$MAIL" addr add 192.0.2.1/24 dev eth0 &&
		mkdir -p "$bpffs" && mount -t bpf bpf "$bpffs" &&
		mkdir -p "$cwd" || return 1
	printf '%s\n' '# example feed' 198.51.100.0/25 203.0.113.128/25 2001:db8:bad::/48 \
		> "$cwd/blocklist.txt"
	printf '%s\n' '203.0.113.0/25,reject,7d,example feed, second source' \
		'198.51.100.200,spam,,' '2001:db8:bad::/48' | gzip > "$cwd/blocklist.csv.gz"
	cp tests/data/formats/* "$cwd/" || return 1
	printf '%s\n' spam@example.net 'bulk@example.org,quarantine,30d,newsletter' \
		> "$cwd/senders.txt"
	printf '%s\n' '198.51.100.0/24 CN' '203.0.113.0/24 RU' '2001:db8:de::/48 DE' |
		scripts/make-test-mmdb.pl --schema geoip2 "$cwd/countries.mmdb" >/dev/null 2>&1
}
lab || { not_ok "docs: lab setup"; exit 1; }

# A fresh start for each file: nothing loaded, no state.
reset_lab() {
	if [ -e "$bpffs/c_gen" ]; then
		nsenter --net=/run/netns/"$MAIL" "$MXS" --state-dir "$state" \
			--bpffs-dir "$bpffs" unload >/dev/null 2>&1
	fi
	rm -rf "$state"
}

# ---- parsing ---------------------------------------------------------------------
# parse FILE: one record a line, tab-separated:
#   ex   LINE  COMMAND   an example (continuations joined)
#   out  LINE  TEXT      expected output of the example before ("# TEXT")
#   hide LINE  TEXT      an mxshield line that would not run
parse() {
	awk '
	function emit(kind, n, text) { printf "%s\t%d\t%s\n", kind, n, text }
	/^[ \t]*```/ {
		if (!fence) {
			fence = 1
			tag = $0
			sub(/^[ \t]*```/, "", tag)
			gsub(/[ \t]/, "", tag)
		} else
			fence = 0
		expect = 0
		next
	}
	!fence { next }
	tag != "sh" {
		if ($0 ~ /^[ \t]*(\$ |# )?(\.\/)?mxshield /)
			emit("hide", NR, $0)
		next
	}
	cont != "" {
		line = $0
		sub(/^[ \t]+/, "", line)
		cont = cont " " line
		if (cont ~ /\\$/) { sub(/[ \t]*\\$/, "", cont); next }
		emit("ex", start, cont)
		expect = cont ~ /#[ \t]*exit[ \t]+[0-9]+[ \t]*$/
		cont = ""
		next
	}
	/^(\.\/)?mxshield / {
		if ($0 ~ /\\$/) {
			cont = $0
			sub(/[ \t]*\\$/, "", cont)
			start = NR
			next
		}
		emit("ex", NR, $0)
		expect = $0 ~ /#[ \t]*exit[ \t]+[0-9]+[ \t]*$/
		next
	}
	expect && /^# / { emit("out", NR, substr($0, 3)); next }
	{ expect = 0 }
	/^[ \t]*\$ (\.\/)?mxshield / || /^[ \t]+(\.\/)?mxshield / { emit("hide", NR, $0) }
	' "$1"
}

# ---- running -------------------------------------------------------------------
# run_example FILE CMD: run it in the lab; sets $out and $rc
run_example() {
	local cmd=$2 limit=60
	cmd=${cmd#./}
	cmd="$MXS ${cmd#mxshield }"
	cmd=${cmd//.\/mxshield /$MXS }
	[[ $2 == *"policy serve"* || $2 == *"metrics serve"* ]] && limit=2
	out=$(cd "$cwd" && MXSHIELD_STATE_DIR=$state MXSHIELD_BPFFS_DIR=$bpffs \
		timeout -k 5 "$limit" nsenter --net=/run/netns/"$MAIL" bash -c "$cmd" </dev/null 2>&1)
	rc=$?
}

# report FILE CMD EXPECTED_RC OUT_LINES...: one ok/not ok line for the example
report() {
	local file=$1 cmd=$2 want=$3 line
	shift 3
	local name="docs: $file: $cmd"
	if [[ $cmd == *"policy serve"* || $cmd == *"metrics serve"* ]]; then
		if [ "$rc" -eq 124 ]; then ok "$name"; else
			not_ok "$name" "stopped before 2 s (exit $rc): $(head -3 <<<"$out" | tr '\n' ' ')"
		fi
		return
	fi
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit $rc, expected $want: $(head -3 <<<"$out" | tr '\n' ' ')"
		return
	fi
	for line in "$@"; do
		if ! grep -Fxq -- "$line" <<<"$out"; then
			not_ok "$name" "no output line '$line' in: $(head -3 <<<"$out" | tr '\n' ' ')"
			return
		fi
	done
	ok "$name"
}

# flush: run the example parsed last, with its expected exit and output
flush() {
	[ ${#pending[@]} -eq 0 ] && return
	run_example "$f" "${pending[0]}"
	report "$f" "${pending[0]}" "$want" "${outs[@]}"
	pending=() outs=() want=0
}

for f in "${files[@]}"; do
	reset_lab
	hidden=0
	pending=() outs=() want=0
	while IFS=$'\t' read -r kind n text; do
		case $kind in
		hide)
			not_ok "docs: $f:$n: an mxshield command outside a sh block, or not at the line's start" "$text"
			hidden=$((hidden + 1)) ;;
		ex)
			flush
			pending=("$text")
			if [[ $text =~ \#[[:space:]]*exit[[:space:]]+([0-9]+)[[:space:]]*$ ]]; then
				want=${BASH_REMATCH[1]}
			fi ;;
		out)
			outs+=("$text") ;;
		esac
	done < <(parse "$f")
	flush
	[ "$hidden" -eq 0 ] && ok "docs: $f: every mxshield example is in a sh block"

	# relative links: [text](target), not URLs or anchors in the same page
	missing=()
	nlinks=0
	while read -r target; do
		target=${target%%#*}
		[ -z "$target" ] && continue
		nlinks=$((nlinks + 1))
		[ -e "$(dirname "$f")/$target" ] || missing+=("$target")
	done < <(grep -o '\]([^)[:space:]]*)' "$f" | sed 's/^](//; s/)$//' |
		grep -Ev '^(https?|mailto|ftp):')
	if [ ${#missing[@]} -eq 0 ]; then
		ok "docs: $f: all $nlinks relative links name files that exist"
	else
		not_ok "docs: $f: relative links to missing files" "${missing[*]}"
	fi
done
reset_lab
lab_finish
