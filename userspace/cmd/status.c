// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * status, mode, gateway-only: what the filter is doing, and its two
 * switches. status is a read: it never loads (filter/stateview.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../filter/build.h"
#include "../filter/feed.h"
#include "../filter/geodb.h"
#include "../filter/install.h"
#include "../filter/loader.h"
#include "../state/recfile.h"
#include "objects.h"

/* Everything status shows, gathered once and printed as text or JSON. */
struct status {
	bool loaded;
	__u32 prog_id;
	struct mxs_config cfg;
	struct iface {
		char name[IF_NAMESIZE];
		char mode[16];
		bool attached;		/* a live link */
		bool recorded_only;	/* not loaded: restore attaches it */
		__u32 prog_id;
	} ifs[MXS_MAX_LINKS];
	int nifs;
	size_t entries[MXS_LIST_MAX][2];
	bool have_entries[MXS_LIST_MAX];
	uint64_t compiled[2];
	long memory;
	struct { bool ok; __u32 patches; double used; } fill[2];
	struct geo_info geo;
	struct feed *feeds;
	int nfeeds;
};

static void gather_ifaces(struct ctl *c, const struct recfile *ifs, struct status *st)
{
	char links[MXS_MAX_LINKS][IF_NAMESIZE];
	int n = st->loaded ? filter_links(c, links, MXS_MAX_LINKS) : 0;

	/* not loaded: the interfaces the state records, which restore attaches */
	for (int i = 0; !st->loaded && i < ifs->n && st->nifs < MXS_MAX_LINKS; i++) {
		struct iface *f = &st->ifs[st->nifs];
		const char *name = rec_get(&ifs->r[i], "iface");

		if (!name)
			continue;
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->mode, sizeof(f->mode), "%s", rec_get(&ifs->r[i], "mode") ? : "native");
		f->recorded_only = true;
		st->nifs++;
	}
	for (int i = 0; i < n; i++) {
		struct iface *f = &st->ifs[st->nifs++];
		int j = recfile_find(ifs, "iface", links[i]);
		struct link_state ls;

		snprintf(f->name, sizeof(f->name), "%s", links[i]);
		snprintf(f->mode, sizeof(f->mode), "%s", j >= 0 ? rec_get(&ifs->r[j], "mode") : "?");
		if (filter_link(c, links[i], &ls) == 0) {
			f->attached = ls.ifindex != 0;
			f->prog_id = ls.prog_id;
			close(ls.fd);
		}
	}
}

static void gather_build(struct ctl *c, struct status *st)
{
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
		struct rule_vec fam[2] = {};

		if (ctl_collect(c, l, fam))
			continue;
		st->have_entries[l] = true;
		st->entries[l][0] = fam[0].n;
		st->entries[l][1] = fam[1].n;
		rule_vec_free(&fam[0]);
		rule_vec_free(&fam[1]);
	}
	st->memory = filter_memory(c, st->compiled);
	/* single adds and dels patch the build in place, into spare room */
	for (int v6 = 0; st->loaded && v6 < 2; v6++)
		st->fill[v6].ok = cmaps_room(&c->mv, v6, &st->fill[v6].patches,
					     &st->fill[v6].used) == 0;
}

static void print_json(struct ctl *c, const struct status *st)
{
	jw_obj();
	jw_kbool("loaded", st->loaded);
	jw_ku64("prog_id", st->prog_id);
	jw_kstr("mode", st->cfg.flags & MXS_F_MONITOR ? "monitor" : "enforce");
	jw_kbool("gateway_only", !!(st->cfg.flags & MXS_F_GATEWAY_ONLY));
	jw_key("ports");
	jw_arr();
	for (uint32_t i = 0; i < st->cfg.nports; i++)
		jw_u64(st->cfg.ports[i]);
	jw_end_arr();
	jw_kstr("state_dir", c->state_dir);
	jw_kstr("bpffs_dir", c->bpffs_dir);
	jw_kstr("version", MXS_VERSION);
	jw_key("interfaces");
	jw_arr();
	for (int i = 0; i < st->nifs; i++) {
		jw_obj();
		jw_kstr("name", st->ifs[i].name);
		jw_kstr("xdp_mode", st->ifs[i].mode);
		jw_kbool("attached", st->ifs[i].attached);
		jw_ku64("prog_id", st->ifs[i].prog_id);
		jw_end_obj();
	}
	jw_end_arr();
	jw_key("lists");
	jw_arr();
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
		if (!st->have_entries[l])
			continue;
		jw_obj();
		jw_kstr("list", list_name(l));
		jw_ku64("ipv4", st->entries[l][0]);
		jw_ku64("ipv6", st->entries[l][1]);
		jw_end_obj();
	}
	jw_end_arr();
	jw_ku64("compiled_ipv4_bytes", st->compiled[0]);
	jw_ku64("compiled_ipv6_bytes", st->compiled[1]);
	for (int v6 = 0; v6 < 2; v6++) {
		if (!st->fill[v6].ok)
			continue;
		jw_ku64(v6 ? "patches_ipv6" : "patches_ipv4", st->fill[v6].patches);
		jw_ku64(v6 ? "fill_percent_ipv6" : "fill_percent_ipv4",
			(uint64_t)(st->fill[v6].used * 100));
	}
	jw_ki64("memory_bytes", st->memory);
	jw_key("geo");
	jw_obj();
	jw_kbool("loaded", st->geo.present);
	if (st->geo.present) {
		jw_kstr("database_type", st->geo.type);
		jw_ku64("build_epoch", st->geo.build_epoch);
		jw_ki64("age_seconds", st->geo.age);
		if (st->geo.loaded)
			jw_ki64("loaded_epoch", st->geo.loaded);
		if (st->geo.file[0])
			jw_kstr("file", st->geo.file);
	}
	jw_ki64("max_age_seconds", st->geo.max_age);
	jw_kbool("stale", st->geo.stale);
	jw_end_obj();
	jw_key("feeds");
	jw_arr();
	for (int i = 0; i < st->nfeeds; i++) {
		const struct feed *f = &st->feeds[i];

		jw_obj();
		jw_kstr("name", f->name);
		jw_kstr("list", f->list);
		jw_ku64("entries", f->entries);
		jw_key("age");
		if (f->success)
			jw_i64(time(NULL) - f->success);
		else
			jw_null();
		jw_ki64("last_success", f->success);
		jw_kstr("error", f->error);
		jw_end_obj();
	}
	jw_end_arr();
	jw_end_obj();
}

/* A line per feed: what its list holds of it, and whether it is failing. */
static void print_feeds(const struct status *st)
{
	int64_t now = time(NULL);

	if (!st->nfeeds)
		return;
	printf("feeds:\n");
	for (int i = 0; i < st->nfeeds; i++) {
		const struct feed *f = &st->feeds[i];

		printf("  %-16s %-7s %8llu entries, ", f->name, f->list,
		       (unsigned long long)f->entries);
		if (f->success)
			printf("last success %llds ago", (long long)(now - f->success));
		else
			printf("never fetched");
		if (*f->error)
			printf("; FAILING: %s", f->error);
		printf("\n");
	}
}

static void print_geo(const struct geo_info *g)
{
	char t[32];

	if (!g->present) {
		printf("country database: none ('mxshield geo load FILE.mmdb')\n");
		return;
	}
	if (g->age < 0)
		printf("country database: %s, build date unknown\n", g->type);
	else
		printf("country database: %s, built %s, %lld days old\n", g->type,
		       fmt_time(g->build_epoch, t, sizeof(t)), (long long)(g->age / 86400));
	if (g->stale)
		printf("warning: the country database is older than %lld days (geo max-age): "
		       "fetch a new one and 'mxshield geo load' it\n",
		       (long long)(g->max_age / 86400));
}

static void print_text(struct ctl *c, const struct status *st)
{
	printf("mxshield: %s", st->loaded ? "loaded" : "not loaded");
	if (st->prog_id)
		printf(" (prog id %u)", st->prog_id);
	printf("\nmode: %s%s\nports:", st->cfg.flags & MXS_F_MONITOR ? "monitor" : "enforce",
	       st->cfg.flags & MXS_F_GATEWAY_ONLY ? ", gateway-only" : "");
	for (uint32_t i = 0; i < st->cfg.nports; i++)
		printf("%s%u", i ? "," : " ", st->cfg.ports[i]);
	printf("\nstate: %s\npins:  %s\n", c->state_dir, c->bpffs_dir);
	printf("interfaces:%s\n", st->nifs ? "" : " none");
	for (int i = 0; i < st->nifs; i++) {
		const struct iface *f = &st->ifs[i];

		printf("  %-16s %s mode, %s\n", f->name, f->mode,
		       f->recorded_only ? "not attached ('mxshield restore' attaches it)" :
		       f->attached ? "attached" : "interface gone (detach to clean up)");
	}
	print_geo(&st->geo);
	print_feeds(st);
	printf("lists:%s\n", st->loaded ? "" : " (in the state directory)");
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++)
		if (st->have_entries[l])
			printf("  %-8s %8zu IPv4 %8zu IPv6 prefixes\n", list_name(l),
			       st->entries[l][0], st->entries[l][1]);
	if (!st->loaded)
		return;
	printf("compiled classifier: %.1f MiB IPv4, %.1f MiB IPv6\n",
	       st->compiled[0] / 1048576.0, st->compiled[1] / 1048576.0);
	for (int v6 = 0; v6 < 2; v6++)
		if (st->fill[v6].ok)
			printf("  %s: %u change%s patched in place since the last full build, "
			       "%.0f%% of the room used\n", v6 ? "IPv6" : "IPv4",
			       st->fill[v6].patches, st->fill[v6].patches == 1 ? "" : "s",
			       st->fill[v6].used * 100);
	printf("kernel memory (maps): %.1f MiB\n", st->memory / 1048576.0);
}

static int do_status(struct ctl *c, const struct cli_args *a)
{
	static struct status st;
	struct recfile s, ifs;
	char err[MXS_ERRLEN];
	__u32 zero = 0;

	memset(&st, 0, sizeof(st));
	if (ctl_lock_ro(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	if (ctl_read(c, ST_IFACES, &ifs)) {
		recfile_free(&s);
		return 1;
	}
	st.loaded = ctl_open_pinned(c) == 0;
	if (st.loaded) {
		bpf_map_lookup_elem(c->fd_config, &zero, &st.cfg);
	} else if (settings_to_config(&s, &st.cfg, err, sizeof(err))) {
		recfile_free(&s);
		recfile_free(&ifs);
		return ctl_err("settings: %s", err);
	}
	st.prog_id = filter_prog_id(c);
	gather_ifaces(c, &ifs, &st);
	gather_build(c, &st);
	if (geodb_info(c, &st.geo)) {
		recfile_free(&s);
		recfile_free(&ifs);
		return 1;
	}
	if (feed_read_all(c, &st.feeds, &st.nfeeds)) {
		recfile_free(&s);
		recfile_free(&ifs);
		return 1;
	}
	if (c->json)
		print_json(c, &st);
	else
		print_text(c, &st);
	free(st.feeds);
	recfile_free(&s);
	recfile_free(&ifs);
	return 0;
}

static int set_switch(struct ctl *c, const char *key, const char *label, const char *val)
{
	if (filter_set_setting(c, key, val))
		return 1;
	if (c->json) {
		jw_obj();
		jw_kstr(label, val);
		jw_end_obj();
	} else {
		printf("%s %s\n", label, val);
	}
	return 0;
}

static int do_mode(struct ctl *c, const struct cli_args *a)
{
	if (strcmp(a->pos[0], "enforce") && strcmp(a->pos[0], "monitor"))
		return cli_usage(a, "'%s': the mode is enforce or monitor", a->pos[0]);
	return set_switch(c, "mode", "mode", a->pos[0]);
}

static int do_gateway_only(struct ctl *c, const struct cli_args *a)
{
	if (strcmp(a->pos[0], "on") && strcmp(a->pos[0], "off"))
		return cli_usage(a, "'%s': gateway-only is on or off", a->pos[0]);
	return set_switch(c, "gateway_only", "gateway-only", a->pos[0]);
}

static const char *const modes[] = { "enforce", "monitor", NULL };
static const char *const on_off[] = { "on", "off", NULL };

static const struct cli_cmd status_cmds[] = {
	{ NULL, do_status, NULL, 0, 0,
	  "Show whether the filter is loaded, its mode, ports, interfaces, list sizes and "
	  "kernel memory (from the state directory when nothing is loaded)." },
	{ 0 }
};
static const struct cli_cmd mode_cmds[] = {
	{ NULL, do_mode, "enforce|monitor", 1, 1,
	  "enforce: drop and tag; monitor: classify, count and tag, but pass every packet.",
	  .pos_choices = modes },
	{ 0 }
};
static const struct cli_cmd gateway_only_cmds[] = {
	{ NULL, do_gateway_only, "on|off", 1, 1,
	  "on: only trusted, partner and gateway sources reach the SMTP ports (the MX "
	  "sits behind an external gateway).", .pos_choices = on_off },
	{ 0 }
};

const struct cli_obj obj_status = {
	"status", "what the filter is doing", status_cmds, .verb = true,
	.section = SECTION_READ,
};
const struct cli_obj obj_mode = {
	"mode", "enforce or monitor", mode_cmds, .verb = true, .section = SECTION_FILTER,
};
const struct cli_obj obj_gateway_only = {
	"gateway-only", "admit only trusted, partner and gateway sources", gateway_only_cmds,
	.verb = true, .section = SECTION_FILTER,
};
