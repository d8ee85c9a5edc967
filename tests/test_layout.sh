#!/usr/bin/env bash
# The controller's layers (docs/layout.md): core <- state <- filter <- mta
# <- cmd. A file may use its own layer and those below, never above; no two
# files depend on each other (no cycle, from the symbols each object file
# takes from the others); every header but the type-only ones declares the
# functions of its own .c; the production BPF source includes nothing from
# tests/ or bpf/bench/.
set -u
cd "$(dirname "$0")/.."
fail=0
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1${2:+: $2}"; fail=1; }

rank() { case $1 in core) echo 0 ;; state) echo 1 ;; filter) echo 2 ;; mta) echo 3 ;; cmd) echo 4 ;; *) echo 9 ;; esac; }

# 1. includes point down the layers only
bad=
for f in userspace/{core,state,filter,mta,cmd}/*.[ch]; do
	mine=$(basename "$(dirname "$f")")
	for inc in $(grep -o '#include "\.\./[a-z]*/' "$f" | cut -d/ -f2); do
		[ "$(rank "$inc")" -le "$(rank "$mine")" ] || bad+=" $f->$inc"
	done
done
[ -z "$bad" ] && ok "includes go down the layers only (core, state, filter, mta, cmd)" ||
	not_ok "includes go down the layers only" "$bad"

# 2. no cycle between object files: A needs B when A's undefined symbols
# are defined in B
objs=$(ls build/{core,state,filter,mta,cmd}/*.o 2>/dev/null)
if [ -z "$objs" ]; then
	not_ok "object files built" "run make first"
else
	declare -A def
	for o in $objs; do
		for s in $(nm --defined-only "$o" | awk '$2 ~ /[TDBR]/ {print $3}'); do def[$s]=$o; done
	done
	edges=$(for o in $objs; do
		for s in $(nm -u "$o" | awk '{print $2}'); do
			d=${def[$s]:-}
			[ -n "$d" ] && [ "$d" != "$o" ] && echo "${o#build/} ${d#build/}"
		done
	done | sort -u)
	if cyc=$(tsort <<<"$edges" 2>&1 >/dev/null) && [ -z "$cyc" ]; then
		ok "no two files of the controller depend on each other ($(wc -l <<<"$edges") dependencies)"
	else
		not_ok "no dependency cycle between files" "$(tr '\n' ' ' <<<"$cyc" | head -c 300)"
	fi
	# and the layering holds for symbols too (a declaration could lie)
	bad=
	for o in $objs; do
		mine=$(basename "$(dirname "$o")")
		for s in $(nm -u "$o" | awk '{print $2}'); do
			d=${def[$s]:-}
			[ -z "$d" ] && continue
			dl=$(basename "$(dirname "$d")")
			[ "$(rank "$dl")" -le "$(rank "$mine")" ] || bad+=" $(basename "$o")->$s"
		done
	done
	[ -z "$bad" ] && ok "no file calls a layer above its own" || not_ok "calls go down" "$bad"
fi

# 3. every header declares one file's functions: X.h has X.c (type-only
# headers excepted: view.h, utf8.h, objects.h lists the objects of cmd/)
bad=
for h in userspace/{core,state,filter,mta,cmd}/*.h; do
	c=${h%.h}.c
	case $(basename "$h") in view.h|utf8.h) continue ;; esac
	[ -f "$c" ] || bad+=" $h"
done
[ -z "$bad" ] && ok "every header has its own .c" || not_ok "every header has its own .c" "$bad"

# 4. the production XDP source takes nothing from tests or benchmarks
if grep -n '#include' bpf/mxshield.bpf.c maps/*.h | grep -q 'tests/\|bench/'; then
	not_ok "bpf/mxshield.bpf.c and maps/ include no test or benchmark code"
else
	ok "bpf/mxshield.bpf.c and maps/ include no test or benchmark code"
fi
exit $fail
