// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats and tags: the data plane's counters (per reason and verdict, per
 * XDP action, per country) and the sources it tagged for the MTA. Reads:
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
#include "objects.h"

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

static const char *const xdp_names[] = { "aborted", "drop", "pass", "tx", "redirect" };

static int stats(struct ctl *c, bool reset)
{
	int n = ncpus();
	struct mxs_counter *per = calloc(n, sizeof(*per));
	struct { uint64_t packets, bytes; } tot[MXS_STAT_SLOTS] = {};

	if (!per || ctl_open_ro(c)) {
		free(per);
		return 1;
	}
	if (!c->loaded) {	/* no counters, and loading makes none */
		free(per);
		return ctl_not_loaded(c, reset ? "no counters to reset" : "no counters");
	}
	if (reset) {
		memset(per, 0, n * sizeof(*per));
		for (__u32 k = 0; k < MXS_STAT_SLOTS; k++)
			bpf_map_update_elem(c->fd_stats, &k, per, BPF_ANY);
		for (__u32 k = 0; k < MXS_COUNTRY_SLOTS; k++)
			bpf_map_update_elem(c->fd_cstats, &k, per, BPF_ANY);
		free(per);
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
	}
	if (c->json) {
		jw_obj();
		jw_key("verdicts");
		jw_arr();
	} else {
		printf("%-14s %-11s %14s %16s\n", "REASON", "VERDICT", "PACKETS", "BYTES");
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
				jw_end_obj();
			} else {
				printf("%-14s %-11s %14llu %16llu\n", reason_name(r), action_name(a),
				       (unsigned long long)tot[k].packets,
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
	if (c->json) {
		jw_end_obj();
		jw_key("countries");
		jw_arr();
	} else {
		printf("\n");
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
			jw_end_obj();
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
	  "Packets and bytes per reason and verdict, per XDP action, per country." },
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
