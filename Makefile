# mxshield: BPF objects first, then skeletons, then the controller and tests.
#
#   make            build ./mxshield (and build/)
#   make test       = scripts/test.sh: install dependencies (Debian, root), build, run all tests
#   make demo       = scripts/demo.sh: install dependencies, build, run the namespace demo lab
#   make bench      benchmarks (not tests)
#   make bench-e2e  end-to-end drop rate, documentation and random sources
#   make bench-churn  new entries a second and push-to-drop latency under a flood
#   make bench-policy  the policy service's latency under a connection flood
#   make bench-dnsbl   the policy service's DNSBL lookups, uncached and cached

CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH:= $(shell $(CC) -print-multiarch 2>/dev/null)
BUILD    := build

CFLAGS   ?= -O2 -g
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0-dev)
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation \
	    -Wno-missing-field-initializers -I$(BUILD) -I.
# CPPFLAGS and LDFLAGS from the environment (dpkg-buildflags: FORTIFY,
# RELRO, BIND_NOW) reach every compile and link of the controller
CPPFLAGS += -DMXS_VERSION=\"$(VERSION)\"
# the milter (mta/milter.c, mime.c, content.c): libmilter, GMime, PCRE2
MIME_CFLAGS := $(shell pkg-config --cflags gmime-3.0 libpcre2-8)
MIME_LIBS   := -lmilter $(shell pkg-config --libs gmime-3.0 libpcre2-8)
CFLAGS   += $(MIME_CFLAGS)
LDLIBS   := -lbpf -lelf -lz -lmaxminddb -lspf2 -ljson-c -lmicrohttpd -lsystemd -lcares \
	    $(MIME_LIBS) -lpthread -lcurl -lexttextcat-2.0 -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
	-I/usr/include/$(MULTIARCH)

# the contract shared by the XDP program and the controller
HDR      := $(wildcard maps/*.h)
BPF_OBJ  := $(BUILD)/mxshield.bpf.o
SKEL     := $(BUILD)/mxshield.skel.h
# the controller: userspace/{core,state,filter,mta,cmd}; cmd/main.c is the
# program, everything else its library (tests link it too); the reference
# tries of the differential tests are test code (tests/ref)
LAYERS   := core state filter mta cmd
LIB_SRC  := $(filter-out userspace/cmd/main.c,$(foreach l,$(LAYERS),$(wildcard userspace/$(l)/*.c)))
LIB_OBJ  := $(patsubst userspace/%.c,$(BUILD)/%.o,$(LIB_SRC))
UHDR     := $(foreach l,$(LAYERS),$(wildcard userspace/$(l)/*.h))
REF_OBJ  := $(BUILD)/ref/tries.o
# every tests/unit/test_*.c and tests/prog_tests/test_*.c is a test program
TEST_BINS:= $(patsubst tests/unit/%.c,$(BUILD)/%,$(wildcard tests/unit/test_*.c)) \
	    $(patsubst tests/prog_tests/%.c,$(BUILD)/%,$(wildcard tests/prog_tests/test_*.c))

.PHONY: all deps test demo bench bench-e2e bench-churn bench-policy bench-dnsbl bench-fleet clean
# skeletons and BPF objects are build products, not intermediates to delete
.PRECIOUS: $(BUILD)/%.skel.h $(BUILD)/%.bpf.o
all: mxshield $(TEST_BINS) $(BUILD)/bench $(BUILD)/mxshield.8 $(BUILD)/mxshield.bash

$(BUILD):
	mkdir -p $@

$(BPF_OBJ): bpf/mxshield.bpf.c $(HDR) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name mxshield_bpf > $@.tmp && mv $@.tmp $@

# benchmark builds (make bench): random-source variant and the baseline
$(BUILD)/mxshield_bench.bpf.o: bpf/bench/mxshield_bench.bpf.c bpf/mxshield.bpf.c $(HDR) \
		bpf/bench/rsrc.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# test builds: the reference classifier (one LPM trie per list) and the
# compiled one, both recording each verdict in a "trace" map
$(BUILD)/mxshield_ref.bpf.o: bpf/mxshield.bpf.c $(HDR) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -DMXS_REFERENCE -DMXS_TRACE -c $< -o $@

$(BUILD)/mxshield_trace.bpf.o: bpf/mxshield.bpf.c $(HDR) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -DMXS_TRACE -c $< -o $@

$(BUILD)/baseline.bpf.o: bpf/bench/baseline.bpf.c bpf/bench/smtp.h bpf/bench/rsrc.h \
		$(HDR) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/bench: userspace/bench/bench.c bpf/bench/rsrc.h tests/syn.h $(BUILD)/libmxs.a \
		$(REF_OBJ) $(SKEL) $(BUILD)/mxshield_bench.skel.h $(BUILD)/baseline.skel.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Iuserspace -o $@ $< $(REF_OBJ) $(BUILD)/libmxs.a \
		$(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: userspace/%.c $(UHDR) $(HDR) $(SKEL) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(REF_OBJ): tests/ref/tries.c tests/ref/tries.h $(HDR) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# the files that print the version are rebuilt when it changes
$(patsubst userspace/%.c,$(BUILD)/%.o,$(shell grep -l MXS_VERSION userspace/*/*.c)): VERSION

$(BUILD)/libmxs.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

mxshield: $(BUILD)/cmd/main.o $(BUILD)/libmxs.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the man page and the bash completion, from the command tables
$(BUILD)/mxshield.8: mxshield
	./mxshield gen man > $@.tmp && mv $@.tmp $@
$(BUILD)/mxshield.bash: mxshield
	./mxshield gen completion > $@.tmp && mv $@.tmp $@

$(BUILD)/test_%: tests/unit/test_%.c $(BUILD)/libmxs.a $(REF_OBJ) $(UHDR) $(HDR)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Iuserspace -o $@ $< $(REF_OBJ) $(BUILD)/libmxs.a \
		$(LDFLAGS) $(LDLIBS)

$(BUILD)/test_%: tests/prog_tests/test_%.c tests/syn.h tests/rand.h tests/skel.h $(BUILD)/libmxs.a \
		$(REF_OBJ) $(UHDR) $(HDR) $(SKEL) \
		$(BUILD)/mxshield_ref.skel.h $(BUILD)/mxshield_trace.skel.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Iuserspace -o $@ $< $(REF_OBJ) $(BUILD)/libmxs.a \
		$(LDFLAGS) $(LDLIBS)

deps:
	scripts/install-deps.sh

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench: deps
	scripts/bench.sh

# end to end on a veth, generator and filter on separate CPUs: bare XDP,
# mxshield, nftables; 508 documentation and 65,536 random sources
bench-e2e: all
	scripts/bench-e2e.sh --split-cpu

# new /32 entries pushed through the service's queue during a flood:
# entries a second, push-to-drop latency, the flood's rate with and without
bench-churn: all
	scripts/bench-e2e.sh --split-cpu --churn

# the fleet (etcd): change-to-NIC latency, a new edge's bootstrap, storage
bench-fleet: all
	scripts/bench-fleet.sh

# the policy service's latency under an idle and garbage flood (p50/p99)
bench-policy: all
	scripts/bench-policy.sh

# the content milter: messages per second on one core (docs/benchmarks.md)
.PHONY: bench-milter
bench-milter: all
	scripts/bench-milter.sh

$(BUILD)/milter_bench: userspace/bench/milter_bench.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<
all: $(BUILD)/milter_bench

# DNSBL lookups in the policy service: requests a second, uncached and cached
bench-dnsbl: all
	scripts/bench-dnsbl.sh


clean:
	rm -rf $(BUILD) mxshield

# end-to-end benchmarks (scripts/bench-e2e.sh, scripts/bench-import.sh): the
# live-frame traffic generator and prefix-list generator, and the bare XDP floor
BENCH_E2E := $(BUILD)/flood $(BUILD)/bare.bpf.o $(BUILD)/churn
all: $(BENCH_E2E)

$(BUILD)/flood.bpf.o $(BUILD)/bare.bpf.o: $(BUILD)/%.bpf.o: bpf/bench/%.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bare.bpf.o: bpf/bench/smtp.h

$(BUILD)/flood: userspace/bench/flood.c $(BUILD)/flood.skel.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lbpf -lelf -lz

# the churn driver (scripts/bench-e2e.sh --churn): the service's push queue
$(BUILD)/churn: userspace/bench/churn.c $(BUILD)/libmxs.a $(UHDR) $(HDR)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Iuserspace -o $@ $< $(BUILD)/libmxs.a $(LDFLAGS) $(LDLIBS)

# in-tree fuzzing (docs/fuzzing.md): libFuzzer targets tests/fuzz/fuzz_*.c,
# built with clang, AddressSanitizer and UndefinedBehaviorSanitizer against
# a library of their own (build/fuzz/, instrumented objects); `make all`
# needs none of it. `make fuzz FUZZ_SECONDS=N` runs each target N seconds.
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-I$(BUILD) -I. -Iuserspace $(MIME_CFLAGS)
.PHONY: fuzz fuzz-build

$(FUZZ_DIR)/%.o: userspace/%.c $(UHDR) $(HDR) $(SKEL)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libmxs.a: $(patsubst userspace/%.c,$(FUZZ_DIR)/%.o,$(LIB_SRC))
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_DIR)/libmxs.a \
		$(UHDR) $(HDR) userspace/mta/policy_service.c
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libmxs.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS) mxshield

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ------------------------------------------------------------- install
# make install [DESTDIR=/tmp/root] [PREFIX=/usr] [SBINDIR=...]
#   [SYSTEMDUNITDIR=...] [UDEVRULESDIR=...] [LIBEXECDIR=...] [DOCDIR=...]
#   [MANDIR=...] [BASHCOMPDIR=...]
# mxshield(8) and the bash completion are generated from the command tables.
# The units and the udev rule are rendered from scripts/systemd/*.in and
# scripts/udev/*.in into build/ with the installed paths (docs/packaging.md).
PREFIX         ?= /usr/local
SBINDIR        ?= $(PREFIX)/sbin
LIBEXECDIR     ?= $(PREFIX)/libexec/mxshield
MANDIR         ?= $(PREFIX)/share/man
BASHCOMPDIR    ?= $(or $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null),$(PREFIX)/share/bash-completion/completions)
DOCDIR         ?= $(PREFIX)/share/doc/mxshield
SYSTEMDUNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
UDEVRULESDIR   ?= $(or $(shell pkg-config --variable=udevdir udev 2>/dev/null),/lib/udev)/rules.d
UNIT_IN    := $(wildcard scripts/systemd/*.in)
UNITS      := $(patsubst scripts/systemd/%.in,$(BUILD)/systemd/%,$(UNIT_IN))
UDEV_RULES := $(patsubst scripts/udev/%.in,$(BUILD)/udev/%,$(wildcard scripts/udev/*.rules.in))
IFUP       := $(BUILD)/udev/mxshield-ifup
RENDER = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
	-e 's|@DOCDIR@|$(DOCDIR)|g'
.PHONY: install uninstall units
all: units
units: $(UNITS) $(UDEV_RULES) $(IFUP)

# rendered again when the paths change (build/render.paths differs)
RENDER_PATHS = $(SBINDIR) $(LIBEXECDIR) $(DOCDIR)
$(BUILD)/render.paths: FORCE | $(BUILD)
	@echo "$(RENDER_PATHS)" | cmp -s - $@ || echo "$(RENDER_PATHS)" > $@
FORCE:
$(BUILD)/systemd/%: scripts/systemd/%.in $(BUILD)/render.paths
	@mkdir -p $(@D)
	$(RENDER) $< > $@.tmp && mv $@.tmp $@
$(BUILD)/udev/%: scripts/udev/%.in $(BUILD)/render.paths
	@mkdir -p $(@D)
	$(RENDER) $< > $@.tmp && mv $@.tmp $@

install: mxshield units $(BUILD)/mxshield.8 $(BUILD)/mxshield.bash
	install -D -m 755 mxshield $(DESTDIR)$(SBINDIR)/mxshield
	install -D -m 644 $(BUILD)/mxshield.8 $(DESTDIR)$(MANDIR)/man8/mxshield.8
	install -D -m 644 $(BUILD)/mxshield.bash $(DESTDIR)$(BASHCOMPDIR)/mxshield
	install -D -m 755 $(IFUP) $(DESTDIR)$(LIBEXECDIR)/mxshield-ifup
	install -D -m 644 docs/packaging.md $(DESTDIR)$(DOCDIR)/packaging.md
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(UDEVRULESDIR)
	install -m 644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 644 $(UDEV_RULES) $(DESTDIR)$(UDEVRULESDIR)/

# the service's configuration: installed once, never over the admin's;
# uninstall removes it only while it is the sample unchanged
SYSCONFDIR ?= /etc
.PHONY: install-conf
install: install-conf
install-conf:
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/mxshield/mxshield.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/mxshield/mxshield.conf"; \
	else \
		install -D -m 644 scripts/mxshield.conf.sample \
			$(DESTDIR)$(SYSCONFDIR)/mxshield/mxshield.conf; \
	fi

uninstall:
	@c=$(DESTDIR)$(SYSCONFDIR)/mxshield/mxshield.conf; \
	if cmp -s scripts/mxshield.conf.sample $$c; then rm -f $$c; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/mxshield 2>/dev/null || true; \
	elif [ -e $$c ]; then echo "keeping $$c (changed)"; fi
	rm -f $(DESTDIR)$(SBINDIR)/mxshield $(DESTDIR)$(LIBEXECDIR)/mxshield-ifup
	rm -f $(DESTDIR)$(MANDIR)/man8/mxshield.8 $(DESTDIR)$(BASHCOMPDIR)/mxshield
	rm -f $(DESTDIR)$(DOCDIR)/packaging.md
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS)))
	rm -f $(addprefix $(DESTDIR)$(UDEVRULESDIR)/,$(notdir $(UDEV_RULES)))
