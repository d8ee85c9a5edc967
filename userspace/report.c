// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reading back: lookup (explain a verdict), stats, tags. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "store.h"

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

/* The state record behind a matched entry: its comment, partner name...
 * (for an IP list entry, a record holding its comment). Its index in *f,
 * or -1. */
static int find_entry_rec(struct ctl *c, uint32_t list, const struct mxs_prefix *entry,
			  uint32_t ref, struct recfile *f)
{
	char id[16];

	memset(f, 0, sizeof(*f));
	if (list == MXS_LIST_PARTNER) {
		if (ctl_read(c, ST_PARTNERS, f))
			return -1;
		snprintf(id, sizeof(id), "%u", ref);
		return recfile_find(f, "id", id);
	}
	if (listdef_by_id(list)) {
		struct store s;
		const struct st_ent *e;

		if (store_open(c, listdef_by_id(list)->name, &s))
			return -1;
		e = store_find(&s, entry);
		if (e)
			rec_set(recfile_add(f), "comment", store_comment(&s, e));
		store_close(&s);
		return e ? 0 : -1;
	}
	return -1;
}

static void entry_of(const struct mxs_prefix *addr, uint8_t plen, struct mxs_prefix *e)
{
	*e = *addr;
	e->plen = plen;
	prefix_mask(e);
}

static void describe_match(struct ctl *c, uint32_t list, const struct mxs_prefix *addr,
			   const struct mxs_rule *r, bool top)
{
	struct mxs_prefix e;
	struct recfile f;
	char ps[MXS_PFX_STRLEN], cc[3], buf[64];
	int i;
	int64_t exp = tai_ns_to_unix(r->expires);

	entry_of(addr, r->prefixlen, &e);
	prefix_str(&e, ps);
	i = list == MXS_LIST_COUNTRY ? -1 : find_entry_rec(c, list, &e, r->ref, &f);
	if (c->json) {
		jw_kstr("list", list_name(list));
		jw_kstr("entry", ps);
		if (list == MXS_LIST_BLOCK)
			jw_kstr("entry_action", action_name(r->action));
		jw_ki64("expires", exp);
		if (list != MXS_LIST_COUNTRY)	/* countries: see stats */
			jw_ku64("hits", r->hits);
		if (list == MXS_LIST_COUNTRY) {
			country_code(r->ref, cc);
			jw_kstr("country", cc);
		}
		if (i >= 0 && list == MXS_LIST_PARTNER)
			jw_kstr("partner", rec_get(&f.r[i], "name"));
		if (i >= 0 && rec_get(&f.r[i], "comment"))
			jw_kstr("comment", rec_get(&f.r[i], "comment"));
	} else {
		printf("%s%s list, entry %s", top ? "  matched: " : "  also:    ", list_name(list), ps);
		if (list == MXS_LIST_BLOCK)
			printf(" (%s)", action_name(r->action));
		if (list == MXS_LIST_COUNTRY) {
			country_code(r->ref, cc);
			printf(" (country %s)", cc);
		}
		if (i >= 0 && list == MXS_LIST_PARTNER)
			printf(" partner '%s'", rec_get(&f.r[i], "name"));
		printf(", expires %s", exp ? fmt_remaining(exp, buf, sizeof(buf)) : "never");
		if (list != MXS_LIST_COUNTRY)	/* countries: per-country counters */
			printf(", %llu hits", (unsigned long long)r->hits);
		if (i >= 0 && rec_get(&f.r[i], "comment") && *rec_get(&f.r[i], "comment"))
			printf(", \"%s\"", rec_get(&f.r[i], "comment"));
		printf("\n");
	}
	if (list != MXS_LIST_COUNTRY)
		recfile_free(&f);
}

int cmd_lookup(struct ctl *c, int argc, char **argv)
{
	struct mxs_prefix addr;
	struct mxs_verdict v;
	struct mxs_config cfg = {};
	struct mxs_addr tk;
	struct mxs_tag tag;
	char err[MXS_ERRLEN + PATH_MAX], gp[PATH_MAX], geo_cc[3] = "";
	uint64_t now = now_tai_ns();
	__u32 zero = 0;
	bool monitor, nic_drop, has_tag = false, hm_ok = false;
	struct hitmap hm;
	int g, current;

	if (argc != 2)
		return ctl_err("usage: mxshield lookup IP");
	if (parse_addr(argv[1], &addr, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_open_ro(c))
		return 1;
	if (c->loaded) {
		bpf_map_lookup_elem(c->fd_config, &zero, &cfg);
		mxs_classify(&c->mv, &addr, cfg.flags, now, &v);
		prefix_to_tag_key(&addr, &tk);
		has_tag = bpf_map_lookup_elem(c->fd_tags, &tk, &tag) == 0;
	} else if (ctl_state_config(c, &cfg) ||
		   ctl_state_classify(c, &addr, cfg.flags, now, &v)) {
		return 1;	/* nothing loaded: the verdict a load gives */
	}
	/* a live build that does not carry the state on disk (an interrupted
	 * change): what it does now, said to differ from the lists */
	current = c->loaded ? ctl_build_current(c) : 1;
	monitor = cfg.flags & MXS_F_MONITOR;
	nic_drop = v.action == MXS_ACT_DROP && !monitor;
	state_path(c, ST_GEO, gp, sizeof(gp));
	g = access(gp, R_OK) == 0 ? geo_country_of(gp, &addr, geo_cc, err, sizeof(err)) : 1;
	if (g != 0)
		geo_cc[0] = '\0';

	{
		char a[INET6_ADDRSTRLEN];

		inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.addr, a, sizeof(a));
		if (c->json) {
			jw_obj();
			jw_kstr("address", a);
			jw_kbool("loaded", c->loaded);
			jw_kbool("current", current == 1);
			jw_kstr("verdict", action_name(v.action));
			jw_kstr("nic", nic_drop ? "drop" : "pass");
			jw_kbool("tag", v.action >= MXS_ACT_REJECT);
			jw_kbool("monitor", monitor);
			jw_kstr("reason", reason_name(v.reason));
			jw_key("country");
			geo_cc[0] ? jw_str(geo_cc) : jw_null();
		} else {
			printf("%s: %s", a, action_name(v.action));
			if (v.action == MXS_ACT_DROP)
				printf(monitor ? " (monitor mode: would drop at the NIC; passes)"
					       : " (dropped at the NIC)");
			else if (v.action >= MXS_ACT_REJECT)
				printf(" (passes the NIC, tagged for the mail server)");
			else
				printf(" (passes)");
			printf("\n  reason:  %s\n", reason_name(v.reason));
			if (!c->loaded)
				printf("  filter:  not loaded; this is the verdict it gives once "
				       "loaded, from the state directory\n");
			else if (current != 1)
				printf("  filter:  NOT built from the state on disk (a change was "
				       "interrupted): this is what it does now; the next change or "
				       "'mxshield restore' rebuilds it from the lists\n");
			if (v.reason == MXS_R_GATEWAY_ONLY)
				printf("  gateway-only is on and the source is not on the trust, "
				       "partner or gateway lists\n");
			if (geo_cc[0]) {
				uint32_t cc;
				uint8_t act = MXS_ACT_NONE;

				if (!parse_country(geo_cc, &cc, NULL, err, sizeof(err)))
					act = ctl_country_action(c, cc);
				printf("  country: %s (%s)\n", geo_cc,
				       act ? action_name(act) : "no policy");
			}
		}
	}

	/* every list that matches, the deciding one first; the hit counters
	 * of the live build are read once for all of them */
	hm_ok = c->loaded && !hitmap_load(&c->mv, &hm);
	if (c->json) {
		jw_key("matches");
		jw_arr();
	}
	for (uint32_t pass = 0; pass < 2; pass++) {
		for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
			struct mxs_rule r;
			bool top = l == v.list;

			if (top != (pass == 0))
				continue;
			if (!ctl_list_match(c, l, &addr, now, hm_ok ? &hm : NULL, &r))
				continue;
			if (c->json) {
				jw_obj();
				jw_kbool("decides", top);
				describe_match(c, l, &addr, &r, top);
				jw_end_obj();
			} else {
				describe_match(c, l, &addr, &r, top);
			}
		}
	}
	if (hm_ok)
		hitmap_free(&hm);
	if (c->json) {
		jw_end_arr();
		jw_key("tag_entry");
	}
	if (has_tag) {
		char cc[3];

		if (c->json) {
			jw_obj();
			jw_kstr("action", action_name(tag.action));
			jw_kstr("list", list_name(tag.list));
			jw_ku64("packets", tag.packets);
			jw_ki64("first_seen", tai_ns_to_unix(tag.first_seen));
			jw_ki64("last_seen", tai_ns_to_unix(tag.last_seen));
			jw_end_obj();
		} else {
			time_t t = tai_ns_to_unix(tag.last_seen);
			char ts[32];

			strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&t));
			printf("  tagged by the NIC: %s (%s list", action_name(tag.action),
			       list_name(tag.list));
			if (tag.list == MXS_LIST_COUNTRY) {
				country_code(tag.ref, cc);
				printf(" %s", cc);
			}
			printf("), %llu packets, last %s\n", (unsigned long long)tag.packets, ts);
		}
	} else if (c->json) {
		jw_null();
	}
	if (c->json)
		jw_end_obj();
	return 0;
}

static const char *const xdp_names[] = { "aborted", "drop", "pass", "tx", "redirect" };

int cmd_stats(struct ctl *c, int argc, char **argv)
{
	int n = ncpus();
	struct mxs_counter *per = calloc(n, sizeof(*per));
	struct { uint64_t packets, bytes; } tot[MXS_STAT_SLOTS] = {};

	if (argc != 1 && !(argc == 2 && !strcmp(argv[1], "reset"))) {
		free(per);
		return ctl_err("usage: mxshield stats [reset]");
	}
	if (!per || ctl_open_ro(c)) {
		free(per);
		return 1;
	}
	if (!c->loaded) {	/* no counters, and loading makes none */
		free(per);
		return ctl_not_loaded(c, argc == 2 ? "no counters to reset" : "no counters");
	}
	if (argc == 2) {
		memset(per, 0, n * sizeof(*per));
		for (__u32 k = 0; k < MXS_STAT_SLOTS; k++)
			bpf_map_update_elem(c->fd_stats, &k, per, BPF_ANY);
		for (__u32 k = 0; k < MXS_COUNTRY_SLOTS; k++)
			bpf_map_update_elem(c->fd_cstats, &k, per, BPF_ANY);
		free(per);
		if (!c->json)
			printf("counters reset\n");
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

int cmd_tags(struct ctl *c, int argc, char **argv)
{
	struct mxs_addr k, next, *prev = NULL;
	struct mxs_tag t;
	int n = 0;

	if (argc != 1 || (strcmp(argv[0], "list") && strcmp(argv[0], "flush")))
		return ctl_err("usage: mxshield tags list|flush");
	if (ctl_open_ro(c))
		return 1;
	if (!c->loaded)		/* no tag map, and loading makes an empty one */
		return ctl_not_loaded(c, !strcmp(argv[0], "flush") ? "no tags to flush" : "no tags");
	if (!strcmp(argv[0], "flush")) {
		while (bpf_map_get_next_key(c->fd_tags, NULL, &next) == 0) {
			bpf_map_delete_elem(c->fd_tags, &next);
			n++;
		}
		if (!c->json)
			printf("%d tag(s) flushed\n", n);
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
