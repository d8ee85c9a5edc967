#!/usr/bin/env bash
# The command line by bpftool's and ip's conventions (userspace/core/cli.c):
# global options anywhere, --opt=value, unique-prefix abbreviations, help
# for every object and --help for every command, --version, exit status 0 /
# 1 / 2 / 3, a JSON result from every command under --json and
# {"error": ...} on failure, a man page and a bash completion generated from
# the same tables. Commands that change the filter run in a namespace lab.
source "$(dirname "$0")/lib.sh"

lab_up 198.51.100.7 || { not_ok "lab setup"; exit 1; }

# run EXPECTED_STATUS NAME ARGS...: the controller (in the lab), its status
# checked; stdout in $out, stderr in $err.
out= err=
run() {
	local want=$1 name=$2 rc
	shift 2
	out=$(mx "$@" 2>"$work/err"); rc=$?
	err=$(cat "$work/err")
	if [ "$rc" -eq "$want" ]; then ok "$name"; else not_ok "$name" "exit $rc, not $want: $err"; fi
}
is_json() { jq -e . >/dev/null 2>&1 <<<"$1"; }
json_ok() {
	if is_json "$2"; then ok "$1"; else not_ok "$1" "not JSON: '$2'"; fi
}

# --- version, help --------------------------------------------------------
run 0 "--version exits 0" --version
check_eq "... and prints the version of the VERSION file" "mxshield $(cat VERSION)" "$out"
run 0 "-V anywhere: 'status -V'" status -V
run 0 "--json --version" --json --version
check_eq "... as JSON" "$(cat VERSION)" "$(jq -r .version <<<"$out")"
run 0 "help" help
objects=$(mx help | awk '/^[A-Z].*:$/ {s=1; next} s && /^  [a-z]/ {print $1} /^options/ {exit}')
n=0
for o in $objects; do
	n=$((n + 1))
	mx "$o" help >"$work/h" 2>&1 || { not_ok "$o help exits 0"; continue; }
	grep -q "^mxshield $o: ." "$work/h" || not_ok "$o help names the object and says what it is"
done
[ "$n" -ge 25 ] && ok "help lists every object ($n)" || not_ok "help lists every object" "$n"
ok "every object answers 'OBJECT help' with its commands"
# every command of every object: --help exits 0 with a usage line and text
bad=
for o in $objects; do
	cmds=$(mx "$o" help | awk -v o="$o" '$1 == "mxshield" && $2 == o {print $3}' | sort -u)
	verb=$(mx "$o" help | grep -c "^  mxshield $o [A-Z]\|^  mxshield $o \[\|^  mxshield $o$")
	if [ "$verb" -gt 0 ] && mx "$o" --help | grep -q "^usage: mxshield $o\( [A-Z\[]\|$\)"; then
		continue	# a verb ("attach IFACE"): its one command
	fi
	for k in $cmds; do
		h=$(mx "$o" "$k" --help 2>&1) || { bad+=" $o.$k(exit)"; continue; }
		grep -q "^usage: mxshield $o $k" <<<"$h" || bad+=" $o.$k(usage)"
		[ "$(sed -n 3p <<<"$h")" != "" ] || bad+=" $o.$k(text)"
	done
done
[ -z "$bad" ] && ok "every command answers --help with its usage and its text" ||
	not_ok "every command answers --help" "$bad"

# --- abbreviations, options anywhere --------------------------------------
mx trust add 192.0.2.0/28 --comment "one, two" >/dev/null
run 0 "unique prefixes: 'tr li'" tr li
grep -q '192.0.2.0/28' <<<"$out" && ok "... lists the trust list" || not_ok "... lists the trust list" "$out"
run 2 "an ambiguous prefix is a usage error: 'st'" st
grep -q 'status, stats, state\|ambiguous' <<<"$err" && ok "... naming the candidates" ||
	not_ok "... naming the candidates" "$err"
run 0 "--json after the command: 'trust list --json'" trust list --json
check_eq "... gives the list as JSON" "one, two" "$(jq -r '.[0].comment' <<<"$out")"
run 0 "--state-dir=DIR and --json between object and command" --state-dir="$work/state" trust --json list
check_eq "... the same list" "192.0.2.0/28" "$(jq -r '.[0].prefix' <<<"$out")"
run 0 "--opt=value: block add --action=spam --expires=1h" block add 198.51.100.0/24 --action=spam --expires=1h
run 0 "an option's value may start with a dash" block add 198.51.100.9 --comment -x
mx --json block list | jq -e '.[] | select(.prefix == "198.51.100.9/32") | .comment == "-x"' \
	>/dev/null && ok "... kept as the comment" || not_ok "... kept as the comment"
run 0 "-- ends the options" --json lookup -- 198.51.100.9
check_eq "... the word after it is the address" "198.51.100.9 block" "$(jq -r '"\(.address) \(.reason)"' <<<"$out")"

# --- exit status ----------------------------------------------------------
run 2 "unknown object: exit 2" frobnicate
run 2 "unknown command: exit 2" block frob
run 2 "unknown option: exit 2" block list --frob
run 2 "missing argument: exit 2" block add
run 2 "extra argument: exit 2" block list extra
run 2 "an option's value outside its choices: exit 2" block add 192.0.2.99 --action burn
run 2 "a flag given a value: exit 2" block import /dev/null --replace=yes
run 2 "an option given twice: exit 2" block add 192.0.2.99 --comment a --comment b
run 1 "a runtime error (an address that is not one): exit 1" block add 192.0.2.300
grep -q '192.0.2.300' <<<"$err" && ok "... the message names it" || not_ok "... the message names it" "$err"
run 1 "deleting what is not listed: exit 1" block del 203.0.113.99

# --- JSON: a result from every command, errors as {"error": ...} ----------
run 0 "--json attach" --json attach mx0 --mode generic
check_eq "... echoes the interface" "mx0" "$(jq -r .attached <<<"$out")"
run 0 "--json block add" --json block add 203.0.113.64/26 --action reject --comment "c"
check_eq "... echoes the entry" "203.0.113.64/26 reject" "$(jq -r '"\(.added) \(.action)"' <<<"$out")"
run 0 "--json block del" --json block del 203.0.113.64/26
check_eq "... echoes it" "203.0.113.64/26" "$(jq -r .deleted <<<"$out")"
run 0 "--json mode" --json mode monitor
check_eq "... echoes it" "monitor" "$(jq -r .mode <<<"$out")"
run 0 "--json gateway-only" --json gateway-only off
json_ok "... prints JSON" "$out"
run 0 "--json partner add" --json partner add acme --ip 192.0.2.64/27 --domain acme.example
check_eq "... echoes the partner" "acme" "$(jq -r .added.name <<<"$out")"
run 0 "--json sender add" --json sender add bad@spam.example --list block
json_ok "... prints JSON" "$out"
run 0 "--json org-domain add" --json org-domain add example.org
json_ok "... prints JSON" "$out"
run 0 "--json status" --json status
check_eq "... loaded" "true" "$(jq -r .loaded <<<"$out")"
run 0 "--json stats" --json stats
json_ok "... prints JSON" "$out"
run 0 "--json stats reset" --json stats reset
json_ok "... prints JSON" "$out"
run 0 "--json tags flush" --json tags flush
json_ok "... prints JSON" "$out"
run 0 "--json sweep" --json sweep
json_ok "... prints JSON" "$out"
run 0 "--json lookup" --json lookup 192.0.2.1
json_ok "... prints JSON" "$out"
run 0 "--pretty status" --pretty status
[ "$(wc -l <<<"$out")" -gt 5 ] && is_json "$out" && ok "... indented JSON" ||
	not_ok "... indented JSON" "$out"
run 1 "--json with a runtime error: exit 1" --json block add 192.0.2.300
check_eq "... prints {\"error\": ...} on stdout" "true" \
	"$(jq -r '.error | contains("192.0.2.300")' <<<"$out")"
check_eq "... and nothing on stderr" "" "$err"
run 2 "--json with a usage error: exit 2" --json block add
json_ok "... prints {\"error\": ...}" "$out"
run 1 "--json quarantine list without Postfix: exit 1" --json quarantine list \
	--postfix-config "$work/no-postfix"
check_eq "... an error, not an empty list" "true" "$(jq -r 'has("error")' <<<"$out")"
run 0 "--json detach" --json detach mx0
check_eq "... echoes it" "mx0" "$(jq -r .detached <<<"$out")"
run 0 "--json unload" --json unload
check_eq "... says it was loaded" "true" "$(jq -r .was_loaded <<<"$out")"
run 3 "stats with no filter loaded: exit 3" --json stats
check_eq "... {\"loaded\": false}" "false" "$(jq -r .loaded <<<"$out")"

# --- man page and completion ----------------------------------------------
man=build/mxshield.8
if [ -s "$man" ] && [ -z "$(LC_ALL=C.UTF-8 groff -man -ww -z "$man" 2>&1)" ]; then
	ok "mxshield(8) is generated and renders without a warning"
else
	not_ok "mxshield(8) renders" "$(groff -man -ww -z "$man" 2>&1 | head -3)"
fi
missing=
for o in $objects; do
	grep -q "^\\\\fBmxshield $(sed 's/-/\\\\-/g' <<<"$o")" "$man" || missing+=" $o"
done
[ -z "$missing" ] && ok "... documents every object" || not_ok "... documents every object" "$missing"
comp=build/mxshield.bash
complete_words() {
	bash -c 'source "$1"; COMP_WORDS=($2); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
		 _mxshield; echo "${COMPREPLY[*]}"' _ "$comp" "$1"
}
check_eq "completion: 'mxshield bl' -> block" "block" "$(complete_words "mxshield bl")"
check_eq "completion: 'mxshield block a' -> add" "add" "$(complete_words "mxshield block a")"
check_eq "completion: an option's values (block add X --action r)" "reject" \
	"$(complete_words "mxshield block add 192.0.2.1 --action r")"
check_eq "completion: a command's options (trust add X --c)" "--comment" \
	"$(complete_words "mxshield trust add 192.0.2.1 --c")"

lab_finish
