// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats and tags: the data plane's counters (packets and new connections
 * per reason and verdict, per XDP action, per country; the drop events
 * emitted and suppressed) and the sources it tagged for the MTA. Reads:
 * they never load, and exit 3 when nothing is loaded.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../filter/build.h"
#include "../filter/classify.h"
#include "../filter/geo.h"
#include "../filter/install.h"
#include "../filter/loader.h"
#include "../filter/stateview.h"
#include "../mta/envelope.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "../filter/counters.h"
#include "objects.h"

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

static const char *const xdp_names[] = { "aborted", "drop", "pass", "tx", "redirect" };

/* Sum over the CPUs of slot @k of a per-CPU __u64 map (0 if none). */
static uint64_t sum_u64(int fd, __u32 k, uint64_t *per, int n)
{
	uint64_t t = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, per))
		return 0;
	for (int i = 0; i < n; i++)
		t += per[i];
	return t;
}

/* The new-connection and event counters, zeroed (stats reset). */
static void reset_more(struct ctl *c, int n)
{
	void *zero = calloc(n, sizeof(struct mxs_ev_state));

	if (!zero)
		return;
	for (__u32 k = 0; c->fd_conns >= 0 && k < MXS_CONN_SLOTS; k++)
		bpf_map_update_elem(c->fd_conns, &k, zero, BPF_ANY);
	for (__u32 k = 0; c->fd_cconns >= 0 && k < MXS_COUNTRY_SLOTS; k++)
		bpf_map_update_elem(c->fd_cconns, &k, zero, BPF_ANY);
	if (c->fd_evstate >= 0) {
		__u32 k = 0;

		bpf_map_update_elem(c->fd_evstate, &k, zero, BPF_ANY);
	}
	free(zero);
}

/* The drop events' counters and settings (events_read() in a JSON object
 * or a text line); false when the loaded filter has no events. */
struct ev_totals {
	struct mxs_ev_config cfg;
	struct ev_counts n;
};

static bool events_read(struct ctl *c, struct ev_totals *t)
{
	__u32 zero = 0;

	memset(t, 0, sizeof(*t));
	if (c->fd_evstate < 0 || c->fd_evcfg < 0)
		return false;
	bpf_map_lookup_elem(c->fd_evcfg, &zero, &t->cfg);
	return counters_events(c->fd_evstate, &t->n) == 0;
}

static void events_print(struct ctl *c, const struct ev_totals *t)
{
	uint64_t sup = t->n.sup_rate + t->n.sup_source + t->n.lost;

	if (c->json) {
		jw_key("events");
		jw_obj();
		jw_ku64("rate", t->cfg.rate);
		jw_kbool("per_source", !!(t->cfg.flags & MXS_EVC_PER_SOURCE));
		jw_ku64("emitted", t->n.emitted);
		jw_ku64("suppressed", sup);
		jw_ku64("suppressed_rate", t->n.sup_rate);
		jw_ku64("suppressed_source", t->n.sup_source);
		jw_ku64("suppressed_ring_full", t->n.lost);
		jw_end_obj();
		return;
	}
	printf("drop events: %llu emitted, %llu suppressed (%llu over the cap of %u/s, "
	       "%llu by the per-source limit%s, %llu with the ring full)\n",
	       (unsigned long long)t->n.emitted, (unsigned long long)sup,
	       (unsigned long long)t->n.sup_rate, t->cfg.rate,
	       (unsigned long long)t->n.sup_source,
	       t->cfg.flags & MXS_EVC_PER_SOURCE ? "" : " (off)", (unsigned long long)t->n.lost);
}

static int stats(struct ctl *c, bool reset)
{
	int n = ncpus();
	struct mxs_counter *per = calloc(n, sizeof(*per));
	struct { uint64_t packets, bytes, conns; } tot[MXS_STAT_SLOTS] = {};
	uint64_t *per64 = calloc(n, sizeof(*per64));
	struct ev_totals ev;
	bool has_conns, has_ev;

	if (!per || !per64 || ctl_open_ro(c)) {
		free(per);
		free(per64);
		return 1;
	}
	if (!c->loaded) {	/* no counters, and loading makes none */
		free(per);
		free(per64);
		return ctl_not_loaded(c, reset ? "no counters to reset" : "no counters");
	}
	/* a filter loaded by an older mxshield: packets only, until restore */
	has_conns = c->fd_conns >= 0 && c->fd_cconns >= 0;
	if (reset) {
		memset(per, 0, n * sizeof(*per));
		for (__u32 k = 0; k < MXS_STAT_SLOTS; k++)
			bpf_map_update_elem(c->fd_stats, &k, per, BPF_ANY);
		for (__u32 k = 0; k < MXS_COUNTRY_SLOTS; k++)
			bpf_map_update_elem(c->fd_cstats, &k, per, BPF_ANY);
		reset_more(c, n);
		free(per);
		free(per64);
		if (c->json) {
			jw_obj();
			jw_kbool("reset", true);
			jw_end_obj();
		} else {
			printf("counters reset\n");
		}
		return 0;
	}
	for (__u32 k = 0; k < MXS_STAT_SLOTS; k++) {
		if (bpf_map_lookup_elem(c->fd_stats, &k, per))
			continue;
		for (int i = 0; i < n; i++) {
			tot[k].packets += per[i].packets;
			tot[k].bytes += per[i].bytes;
		}
		if (k < MXS_STAT_XDP)
			tot[k].conns = sum_u64(c->fd_conns, k, per64, n);
	}
	if (c->json) {
		jw_obj();
		jw_key("verdicts");
		jw_arr();
	} else {
		printf("%-14s %-11s %14s %12s %16s\n", "REASON", "VERDICT", "PACKETS",
		       "CONNECTIONS", "BYTES");
	}
	for (int r = 0; r < MXS_R_MAX; r++) {
		for (int a = 0; a < MXS_ACT_MAX; a++) {
			int k = r * MXS_ACT_MAX + a;

			if (!tot[k].packets)
				continue;
			if (c->json) {
				jw_obj();
				jw_kstr("reason", reason_name(r));
				jw_kstr("action", action_name(a));
				jw_ku64("packets", tot[k].packets);
				jw_ku64("bytes", tot[k].bytes);
				if (has_conns)
					jw_ku64("connections", tot[k].conns);
				jw_end_obj();
			} else if (has_conns) {
				printf("%-14s %-11s %14llu %12llu %16llu\n", reason_name(r),
				       action_name(a), (unsigned long long)tot[k].packets,
				       (unsigned long long)tot[k].conns,
				       (unsigned long long)tot[k].bytes);
			} else {
				printf("%-14s %-11s %14llu %12s %16llu\n", reason_name(r),
				       action_name(a), (unsigned long long)tot[k].packets, "-",
				       (unsigned long long)tot[k].bytes);
			}
		}
	}
	if (c->json) {
		jw_end_arr();
		jw_key("xdp");
		jw_obj();
	} else {
		printf("\nat the NIC:");
	}
	for (int x = 0; x < 5; x++) {
		uint64_t p = tot[MXS_STAT_XDP + x].packets;

		if (c->json)
			jw_ku64(xdp_names[x], p);
		else if (p || x == 1 || x == 2)
			printf("  %s %llu", xdp_names[x], (unsigned long long)p);
	}
	has_ev = events_read(c, &ev);
	if (c->json) {
		jw_end_obj();
		if (has_conns)
			jw_ku64("syn_retransmits", sum_u64(c->fd_conns, MXS_CONN_RETRANS, per64, n));
		if (has_ev)
			events_print(c, &ev);
		jw_key("countries");
		jw_arr();
	} else {
		printf("\n");
		if (has_conns)
			printf("retransmitted SYNs (not counted as connections): %llu\n",
			       (unsigned long long)sum_u64(c->fd_conns, MXS_CONN_RETRANS, per64, n));
		if (has_ev)
			events_print(c, &ev);
		if (!has_conns || !has_ev)
			printf("(the loaded filter predates connection counts and drop events: "
			       "'mxshield restore' upgrades it in place)\n");
	}
	for (__u32 cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
		uint64_t p = 0, b = 0;
		char code[3];

		if (bpf_map_lookup_elem(c->fd_cstats, &cc, per))
			continue;
		for (int i = 0; i < n; i++) {
			p += per[i].packets;
			b += per[i].bytes;
		}
		if (!p)
			continue;
		country_code(cc, code);
		if (c->json) {
			jw_obj();
			jw_kstr("country", code);
			jw_ku64("packets", p);
			jw_ku64("bytes", b);
			if (has_conns)
				jw_ku64("connections", sum_u64(c->fd_cconns, cc, per64, n));
			jw_end_obj();
		} else if (has_conns) {
			printf("country %s: %llu packets, %llu connections, %llu bytes\n", code,
			       (unsigned long long)p,
			       (unsigned long long)sum_u64(c->fd_cconns, cc, per64, n),
			       (unsigned long long)b);
		} else {
			printf("country %s: %llu packets, %llu bytes\n", code,
			       (unsigned long long)p, (unsigned long long)b);
		}
	}
	if (c->json) {
		jw_end_arr();
		jw_end_obj();
	}
	free(per);
	free(per64);
	return 0;
}

static int tags(struct ctl *c, bool flush)
{
	struct mxs_addr k, next, *prev = NULL;
	struct mxs_tag t;
	int n = 0;

	if (ctl_open_ro(c))
		return 1;
	if (!c->loaded)		/* no tag map, and loading makes an empty one */
		return ctl_not_loaded(c, flush ? "no tags to flush" : "no tags");
	if (flush) {
		while (bpf_map_get_next_key(c->fd_tags, NULL, &next) == 0) {
			bpf_map_delete_elem(c->fd_tags, &next);
			n++;
		}
		if (c->json) {
			jw_obj();
			jw_ku64("flushed", n);
			jw_end_obj();
		} else {
			printf("%d tag(s) flushed\n", n);
		}
		return 0;
	}
	if (c->json)
		jw_arr();
	else
		printf("%-40s %-11s %-8s %10s\n", "SOURCE", "ACTION", "LIST", "PACKETS");
	while (bpf_map_get_next_key(c->fd_tags, prev, &next) == 0) {
		struct mxs_prefix p = { .v6 = 1, .plen = 128 };
		char a[INET6_ADDRSTRLEN];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(c->fd_tags, &k, &t))
			continue;
		memcpy(p.addr, k.addr, 16);
		if (!memcmp(p.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
			memmove(p.addr, p.addr + 12, 4);
			p.v6 = 0;
		}
		inet_ntop(p.v6 ? AF_INET6 : AF_INET, p.addr, a, sizeof(a));
		if (c->json) {
			jw_obj();
			jw_kstr("source", a);
			jw_kstr("action", action_name(t.action));
			jw_kstr("list", list_name(t.list));
			jw_kstr("reason", reason_name(t.reason));
			jw_ku64("packets", t.packets);
			jw_ki64("first_seen", tai_ns_to_unix(t.first_seen));
			jw_ki64("last_seen", tai_ns_to_unix(t.last_seen));
			jw_end_obj();
		} else {
			printf("%-40s %-11s %-8s %10llu\n", a, action_name(t.action),
			       list_name(t.list), (unsigned long long)t.packets);
		}
	}
	if (c->json)
		jw_end_arr();
	return 0;
}

static int do_stats(struct ctl *c, const struct cli_args *a) { return stats(c, false); }
static int do_stats_reset(struct ctl *c, const struct cli_args *a) { return stats(c, true); }
static int do_tags(struct ctl *c, const struct cli_args *a) { return tags(c, false); }
static int do_tags_flush(struct ctl *c, const struct cli_args *a) { return tags(c, true); }

static const struct cli_cmd stats_cmds[] = {
	{ "show", do_stats, NULL, 0, 0,
	  "Packets, new connections (SYNs, not their retransmissions) and bytes per reason "
	  "and verdict, per XDP action, per country; drop events emitted and suppressed." },
	{ "reset", do_stats_reset, NULL, 0, 0, "Set every counter to zero." },
	{ 0 }
};
static const struct cli_cmd tags_cmds[] = {
	{ "list", do_tags, NULL, 0, 0,
	  "The sources tagged reject, quarantine or spam (and drop in monitor mode), which "
	  "the policy service reads." },
	{ "flush", do_tags_flush, NULL, 0, 0, "Forget every tag." },
	{ 0 }
};

const struct cli_obj obj_stats = {
	"stats", "the data plane's counters", stats_cmds, .section = SECTION_READ,
	.dflt = "show",
};
const struct cli_obj obj_tags = {
	"tags", "sources tagged for the MTA", tags_cmds, .section = SECTION_READ,
};
