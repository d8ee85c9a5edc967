// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lookup: the verdict the filter gives an address, and why. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
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
#include "../filter/srcset.h"
#include "../filter/stateview.h"
#include "../mta/envelope.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "objects.h"

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
		struct srcset set;
		struct st_ent m;
		const char *cm;
		uint64_t srcs;
		bool found;

		/* record 0: the entry as the filter has it; then one record
		 * per source listing it (filter/srcset.h) */
		if (srcset_open(c, listdef_by_id(list)->name, NULL, &set))
			return -1;
		found = srcset_find(&set, time(NULL), entry, &m, &cm, &srcs);
		if (found)
			rec_set(recfile_add(f), "comment", cm);
		for (int i = 0; found && i < set.n; i++) {
			const struct st_ent *e = store_find(set.st[i], entry);
			struct rec *r;
			char v[32];

			if (!e || !(srcs & 1ULL << i))
				continue;
			r = recfile_add(f);
			rec_set(r, "source", set.name[i]);
			rec_set(r, "comment", store_comment(set.st[i], e));
			rec_set(r, "action", list == MXS_LIST_BLOCK ? action_name(e->action) : "");
			snprintf(v, sizeof(v), "%lld", (long long)e->expires);
			rec_set(r, "expires", v);
		}
		srcset_close(&set);
		return found ? 0 : -1;
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
		if (i >= 0 && listdef_by_id(list)) {
			jw_key("sources");
			jw_arr();
			for (int k = i + 1; k < f.n; k++) {
				jw_obj();
				jw_kstr("source", rec_get(&f.r[k], "source"));
				if (list == MXS_LIST_BLOCK)
					jw_kstr("action", rec_get(&f.r[k], "action"));
				jw_ki64("expires", strtoll(rec_get(&f.r[k], "expires"), NULL, 10));
				jw_kstr("comment", rec_get(&f.r[k], "comment"));
				jw_end_obj();
			}
			jw_end_arr();
		}
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
		/* where it comes from, when not only from the admin's hand */
		for (int k = i + 1; i >= 0 && listdef_by_id(list) && k < f.n &&
		     (f.n > 2 || strcmp(rec_get(&f.r[k], "source"), SRC_MANUAL)); k++) {
			int64_t x = strtoll(rec_get(&f.r[k], "expires"), NULL, 10);

			printf("             from %s", rec_get(&f.r[k], "source"));
			if (list == MXS_LIST_BLOCK)
				printf(" (%s)", rec_get(&f.r[k], "action"));
			printf(", expires %s", x ? fmt_remaining(x, buf, sizeof(buf)) : "never");
			if (*rec_get(&f.r[k], "comment"))
				printf(", \"%s\"", rec_get(&f.r[k], "comment"));
			printf("\n");
		}
	}
	if (list != MXS_LIST_COUNTRY)
		recfile_free(&f);
}

static int do_lookup(struct ctl *c, const struct cli_args *a)
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

	if (parse_addr(a->pos[0], &addr, err, sizeof(err)))
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

static const struct cli_cmd lookup_cmds[] = {
	{ NULL, do_lookup, "IP", 1, 1,
	  "The verdict the filter gives IP, the entry that decides it (with its comment "
	  "and hits), every list entry that covers it, and its country." },
	{ 0 }
};

const struct cli_obj obj_lookup = {
	"lookup", "explain the verdict for an address", lookup_cmds, .verb = true,
	.section = SECTION_READ,
};
