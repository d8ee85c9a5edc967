// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Country policies and the country database: a policy says what happens
 * to mail from a country's networks, the database (MaxMind format) says
 * which networks those are. Both are compiled into the classifier as the
 * country list; a policy's action lives in the country_policy map, so
 * changing it is one map write.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../filter/build.h"
#include "../filter/geo.h"
#include "../filter/loader.h"
#include "../state/recfile.h"
#include "objects.h"

static bool geo_present(const struct ctl *c)
{
	char p[PATH_MAX];
	struct stat st;

	state_path(c, ST_GEO, p, sizeof(p));
	return stat(p, &st) == 0;
}

static int country_set(struct ctl *c, uint32_t cc, uint8_t action)
{
	struct mxs_country_policy p = { .action = action };

	if (bpf_map_update_elem(c->mv.country_policy, &cc, &p, BPF_ANY))
		return ctl_err("country_policy map: %s", bpf_errstr(-errno));
	return 0;
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	struct mxs_country_policy oldp = {};
	char code[3], err[MXS_ERRLEN];
	uint32_t cc;
	uint8_t action;
	int i, rc = 1;
	bool is_new;

	if (!cli_opt(a, "action"))
		return cli_usage(a, "country add needs --action");
	if (parse_country(a->pos[0], &cc, code, err, sizeof(err)) ||
	    parse_action(cli_opt(a, "action"), &action, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	i = recfile_find(&f, "cc", code);
	is_new = i < 0;
	{
		struct rec *r = is_new ? recfile_add(&f) : &f.r[i];

		rec_set(r, "cc", code);
		rec_set(r, "action", action_name(action));
	}
	bpf_map_lookup_elem(c->mv.country_policy, &cc, &oldp);
	if (ctl_write(c, ST_COUNTRIES, &f))
		goto out;
	/* a new country needs its prefixes: install a build that has them
	 * (still without a policy, so nothing changes), then set the policy,
	 * so all its networks start at once */
	if (is_new && ctl_compile(c, -1, NULL, NULL, NULL))
		goto undo;
	if (country_set(c, cc, action))
		goto undo;
	if (ctl_stamp(c))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr(is_new ? "added" : "updated", code);
		jw_kstr("action", action_name(action));
		jw_kbool("database_loaded", geo_present(c));
		jw_end_obj();
	} else {
		printf("country %s %s: %s\n", code, is_new ? "added" : "updated", action_name(action));
		if (!geo_present(c))
			printf("note: no geo database loaded; country policies take effect "
			       "after 'mxshield geo load FILE.mmdb'\n");
	}
	goto out;
undo:
	if (is_new)
		recfile_del(&f, f.n - 1);
	if (!ctl_write(c, ST_COUNTRIES, &f) && is_new)
		ctl_compile(c, -1, NULL, NULL, NULL);
out:
	recfile_free(&f);
	return rc;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	char code[3], err[MXS_ERRLEN];
	uint32_t cc;
	int i, rc = 1;

	if (parse_country(a->pos[0], &cc, code, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	i = recfile_find(&f, "cc", code);
	if (i < 0) {
		ctl_err("country %s has no policy", code);
		goto out;
	}
	recfile_del(&f, i);
	if (ctl_write(c, ST_COUNTRIES, &f))
		goto out;
	/* the policy goes first (one atomic write), the prefixes after */
	if (country_set(c, cc, MXS_ACT_NONE) || ctl_compile(c, -1, NULL, NULL, NULL) ||
	    ctl_stamp(c))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("deleted", code);
		jw_end_obj();
	} else {
		printf("country %s deleted\n", code);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	const char *fmt = cli_opt(a, "format");
	bool export = fmt && !strcmp(fmt, "import");
	struct recfile f;
	int ncpu = libbpf_num_possible_cpus();

	if (export && c->json)
		return cli_usage(a, "--format import is text: leave out --json");
	if (ctl_open_ro(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	if (export) {
		printf("# mxshield country policies: %d; 'mxshield country import FILE "
		       "--replace' reads them back\n", f.n);
		for (int i = 0; i < f.n; i++)
			printf("%s,%s\n", rec_get(&f.r[i], "cc"), rec_get(&f.r[i], "action"));
		recfile_free(&f);
		return 0;
	}
	if (c->json)
		jw_arr();
	else if (f.n)
		printf("%-8s %-11s %12s\n", "COUNTRY", "ACTION", "PACKETS");
	for (int i = 0; i < f.n; i++) {
		const char *code = rec_get(&f.r[i], "cc");
		struct mxs_counter cnt[ncpu > 0 ? ncpu : 1];
		uint64_t pk = 0;
		uint32_t cc;
		char err[MXS_ERRLEN];

		if (parse_country(code, &cc, NULL, err, sizeof(err)))
			continue;
		if (c->loaded && !bpf_map_lookup_elem(c->fd_cstats, &cc, cnt))
			for (int k = 0; k < ncpu; k++)
				pk += cnt[k].packets;
		if (c->json) {
			jw_obj();
			jw_kstr("country", code);
			jw_kstr("action", rec_get(&f.r[i], "action"));
			jw_ku64("packets", pk);
			jw_end_obj();
		} else {
			printf("%-8s %-11s %12llu\n", code, rec_get(&f.r[i], "action"),
			       (unsigned long long)pk);
		}
	}
	if (c->json)
		jw_end_arr();
	else if (!geo_present(c))
		printf("note: no geo database loaded ('mxshield geo load FILE.mmdb')\n");
	recfile_free(&f);
	return 0;
}

/* country import FILE: "CC,ACTION" (or "CC ACTION") a line. */
static int do_import(struct ctl *c, const struct cli_args *a)
{
	bool replace = cli_flag(a, "replace");
	struct recfile cur, out = {};
	struct input rd;
	char err[MXS_ERRLEN], *line;
	int got, bad = 0, rc = 1;

	if (cli_flag(a, "allow-empty") && !replace)
		return cli_usage(a, "--allow-empty goes with --replace");
	if (input_open(&rd, a->pos[0], 4094))
		return ctl_err("%s", rd.err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_COUNTRIES, &cur)) {
		input_close(&rd);
		return 1;
	}
	while ((got = input_line(&rd, &line)) != INPUT_END) {
		char code[3], *act = line + strcspn(line, ", \t");
		uint32_t cc;
		uint8_t action;
		int i;

		if (got == INPUT_FAIL || got == INPUT_BAD) {
			ctl_err("%s", rd.err);
			bad++;
			if (got == INPUT_FAIL)
				break;
			continue;
		}
		if (*act)
			*act++ = '\0';
		act += strspn(act, ", \t");
		if (parse_country(line, &cc, code, err, sizeof(err)) ||
		    parse_action(act, &action, err, sizeof(err))) {
			ctl_err("%s:%ld: %s", a->pos[0], rd.lineno, err);
			bad++;
			continue;
		}
		i = recfile_find(&out, "cc", code);
		if (i < 0) {
			i = out.n;
			rec_set(recfile_add(&out), "cc", code);
		}
		rec_set(&out.r[i], "action", action_name(action));	/* last wins */
	}
	if (bad) {
		ctl_err("%s: %d invalid line%s: nothing imported", a->pos[0], bad,
			bad == 1 ? "" : "s");
		goto out;
	}
	if (replace && !out.n && !cli_flag(a, "allow-empty")) {
		ctl_err("%s: no country policies: --replace would delete them all; nothing "
			"changed (add --allow-empty if that is what you want)", a->pos[0]);
		goto out;
	}
	for (int i = 0; !replace && i < cur.n; i++)
		if (recfile_find(&out, "cc", rec_get(&cur.r[i], "cc")) < 0) {
			struct rec *r = recfile_add(&out);

			rec_set(r, "cc", rec_get(&cur.r[i], "cc"));
			rec_set(r, "action", rec_get(&cur.r[i], "action"));
		}
	/* the state first; the live filter then rebuilt from it: the
	 * prefixes of new countries before their policies, the policies of
	 * removed ones after their prefixes are gone */
	if (ctl_write(c, ST_COUNTRIES, &out) || ctl_reconcile(c))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_ku64("countries", out.n);
		jw_end_obj();
	} else {
		printf("country import %s: %d country policies\n", a->pos[0], out.n);
	}
out:
	input_close(&rd);
	recfile_free(&cur);
	recfile_free(&out);
	return rc;
}

/* ------------------------------------------------------------------- geo */

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return ctl_err("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return ctl_err("%s: %s", path, strerror(errno));
	}
	*buf = malloc(n ? n : 1);
	if (!*buf || fread(*buf, 1, n, f) != (size_t)n) {
		free(*buf);
		fclose(f);
		return ctl_err("%s: read error", path);
	}
	*len = n;
	fclose(f);
	return 0;
}

struct geo_store {
	const char *path;
	const char *buf;
	size_t len;
};

static int geo_store(void *arg)
{
	const struct geo_store *g = arg;
	char err[PATH_MAX + 256];

	if (atomic_write(g->path, g->buf, g->len, err, sizeof(err)))
		return ctl_err("storing the database: %s", err);
	return 0;
}

static int do_geo_load(struct ctl *c, const struct cli_args *a)
{
	const char *file = a->pos[0];
	struct geo_meta meta = {};
	uint64_t per[MXS_COUNTRY_SLOTS] = {};
	struct pfx_vec all = {};
	char err[MXS_ERRLEN + PATH_MAX], gp[PATH_MAX], *buf = NULL;
	struct recfile f;
	size_t len = 0;
	int rc = 1;

	/* validate and count first: a bad database changes nothing */
	if (geo_collect(file, NULL, &all, per, &meta, err, sizeof(err)))
		return ctl_err("%s", err);
	pfx_vec_free(&all);
	if (ctl_ensure_loaded(c) || read_file(file, &buf, &len))
		return 1;
	/* the build from the new database made ready, its copy stored, then
	 * the switch */
	state_path(c, ST_GEO, gp, sizeof(gp));
	{
		struct geo_store gs = { gp, buf, len };

		if (ctl_compile_hook(c, -1, NULL, file, NULL, geo_store, &gs) || ctl_stamp(c))
			goto out;
	}
	rc = 0;
	if (ctl_read(c, ST_COUNTRIES, &f))
		goto out;
	if (c->json) {
		jw_obj();
		jw_kstr("file", file);
		jw_kstr("database_type", meta.type);
		jw_kstr("schema", meta.schema ? meta.schema : "");
		jw_ku64("build_epoch", meta.build_epoch);
		jw_ku64("networks", meta.networks);
		jw_key("policy_countries");
		jw_arr();
	} else {
		printf("geo database %s: %s, schema %s, %llu networks\n", file, meta.type,
		       meta.schema ? meta.schema : "?", (unsigned long long)meta.networks);
	}
	for (int i = 0; i < f.n; i++) {
		uint32_t cc;
		char e2[MXS_ERRLEN];
		const char *code = rec_get(&f.r[i], "cc");

		if (parse_country(code, &cc, NULL, e2, sizeof(e2)))
			continue;
		if (c->json) {
			jw_obj();
			jw_kstr("country", code);
			jw_ku64("prefixes", per[cc]);
			jw_end_obj();
		} else {
			printf("  %s %-10s %llu prefixes\n", code, rec_get(&f.r[i], "action"),
			       (unsigned long long)per[cc]);
		}
	}
	if (c->json) {
		jw_end_arr();
		jw_end_obj();
	}
	recfile_free(&f);
out:
	free(buf);
	return rc;
}


static const struct cli_opt add_opts[] = {
	{ "action", "ACTION", "what happens to its sources: drop at the NIC, or pass tagged "
			      "reject, quarantine or spam (required)", cli_actions },
	{ NULL }
};

static const struct cli_cmd country_cmds[] = {
	{ "add", do_add, "CC", 1, 1,
	  "Give a country (ISO 3166-1 alpha-2 code) a policy, or change it.", add_opts },
	{ "del", do_del, "CC", 1, 1, "Remove a country's policy." },
	{ "list", do_list, NULL, 0, 0, "Show the country policies, with packets counted.",
	  cli_list_opts },
	{ "import", do_import, "FILE", 1, 1,
	  "Set the policies of FILE (- for standard input): CC,ACTION a line.", cli_import_opts,
	  .complete = "@file" },
	{ 0 }
};
static const struct cli_cmd geo_cmds[] = {
	{ "load", do_geo_load, "FILE.mmdb", 1, 1,
	  "Check a MaxMind-format country database (GeoLite2-Country or "
	  "geo-whois-asn-country), store a copy in the state, and rebuild with it.",
	  .complete = "@file" },
	{ 0 }
};

const struct cli_obj obj_country = {
	"country", "country policies", country_cmds, .section = SECTION_LISTS,
};
const struct cli_obj obj_geo = {
	"geo", "the country database", geo_cmds, .section = SECTION_LISTS,
};
