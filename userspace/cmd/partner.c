// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Partner connectors: a partner's sending addresses (their own list in the
 * classifier, after trust) and what the policy service checks of its mail
 * (domains, TLS, certificate name, which checks it skips). The state is
 * the "partners" file; every change is written, then compiled in, then
 * stamped, and the old file is put back if the build fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../filter/build.h"
#include "../filter/loader.h"
#include "../state/recfile.h"
#include "objects.h"

static int64_t rec_i64(const struct rec *r, const char *key)
{
	const char *v = rec_get(r, key);

	return v ? strtoll(v, NULL, 10) : 0;
}

/* Split "a,b,c" and validate each with @check; return a normalised list. */
static int split_list(const char *s, char *out, size_t outlen,
		      int (*check)(const char *in, char *norm, size_t nlen, char *err, size_t elen))
{
	char *copy = strdup(s), *save, *tok;
	char err[MXS_ERRLEN], norm[300];
	int rc = 0;

	out[0] = '\0';
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (check(tok, norm, sizeof(norm), err, sizeof(err))) {
			rc = ctl_err("%s", err);
			break;
		}
		if (strlen(out) + strlen(norm) + 2 > outlen) {
			rc = ctl_err("list too long");
			break;
		}
		if (out[0])
			strcat(out, ",");
		strcat(out, norm);
	}
	if (!rc && !out[0])
		rc = ctl_err("empty list '%s'", s);
	free(copy);
	return rc;
}

static int check_prefix(const char *in, char *norm, size_t nlen, char *err, size_t elen)
{
	struct mxs_prefix p;
	char ps[MXS_PFX_STRLEN];

	if (parse_prefix(in, &p, err, elen))
		return -1;
	snprintf(norm, nlen, "%s", prefix_str(&p, ps));
	return 0;
}

static int check_domain(const char *in, char *norm, size_t nlen, char *err, size_t elen)
{
	return parse_domain(in, norm, nlen, err, elen);
}

/* Does any prefix of @ips already belong to a partner other than @skip? */
static int partner_conflict(const struct recfile *f, const char *ips, int skip)
{
	for (int i = 0; i < f->n; i++) {
		char *mine, *save, *tok;
		const char *theirs = rec_get(&f->r[i], "ip");

		if (i == skip || !theirs)
			continue;
		mine = strdup(ips);
		for (tok = strtok_r(mine, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char pat[80];
			size_t tl = strlen(tok);
			const char *t = theirs;

			snprintf(pat, sizeof(pat), "%s", tok);
			while ((t = strstr(t, pat))) {
				if ((t == theirs || t[-1] == ',') && (t[tl] == ',' || !t[tl])) {
					ctl_err("%s already belongs to partner '%s'", tok,
						rec_get(&f->r[i], "name"));
					free(mine);
					return 1;
				}
				t += tl;
			}
		}
		free(mine);
	}
	return 0;
}

/* A partner's fields as given (add's options, or an import line). */
struct partner_in {
	const char *name, *ip, *domain, *tls, *cert_name, *skip;
	bool lock_domain;
};

/* Validate @in into record @r (id not set). 0, or 1 after an error
 * (prefixed with @where, "FILE:LINE: " for an import). */
static int partner_rec(const struct partner_in *in, struct rec *r)
{
	char err[MXS_ERRLEN], ips[4096], doms[4096] = "", cert[256] = "";

	if (parse_name(in->name, err, sizeof(err)))
		return ctl_err("%s", err);
	if (!in->ip)
		return ctl_err("partner %s: --ip is required", in->name);
	if (split_list(in->ip, ips, sizeof(ips), check_prefix) ||
	    (in->domain && split_list(in->domain, doms, sizeof(doms), check_domain)))
		return 1;
	if (in->lock_domain && !doms[0])
		return ctl_err("--lock-domain needs --domain");
	if (in->tls && strcmp(in->tls, "opportunistic") && strcmp(in->tls, "require"))
		return ctl_err("'%s': --tls is opportunistic or require", in->tls);
	if (in->cert_name) {
		const char *cn = in->cert_name;

		if (parse_domain(cn[0] == '*' && cn[1] == '.' ? cn + 2 : cn, cert, sizeof(cert),
				 err, sizeof(err)))
			return ctl_err("--cert-name: %s", err);
		snprintf(cert, sizeof(cert), "%s", cn);
	}
	if (in->skip) {
		char *copy = strdup(in->skip), *save, *tok;
		int bad = 0;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			bad |= strcmp(tok, "spam") && strcmp(tok, "policy") && strcmp(tok, "none");
		free(copy);
		if (bad)
			return ctl_err("'%s': --skip takes spam, policy (comma-separated) or none",
				       in->skip);
	}
	rec_set(r, "name", in->name);
	rec_set(r, "ip", ips);
	rec_set(r, "domain", doms);
	rec_set(r, "lock_domain", in->lock_domain ? "yes" : "no");
	rec_set(r, "tls", in->tls ? in->tls : "opportunistic");
	rec_set(r, "cert_name", cert);
	rec_set(r, "skip", in->skip && strcmp(in->skip, "none") ? in->skip : "");
	return 0;
}

static void set_id(struct rec *r, int64_t id)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)id);
	rec_set(r, "id", num);
}

static int64_t max_id(const struct recfile *f)
{
	int64_t m = 0;

	for (int i = 0; i < f->n; i++)
		if (rec_i64(&f->r[i], "id") > m)
			m = rec_i64(&f->r[i], "id");
	return m;
}

/* Write @f, then a build with it; the file before is put back if the
 * build fails. 0, or 1. */
static int partners_commit(struct ctl *c, const struct recfile *f)
{
	struct recfile before;
	int rc = 1;

	if (ctl_read(c, ST_PARTNERS, &before))
		return 1;
	if (!ctl_write(c, ST_PARTNERS, f)) {
		if (ctl_compile(c, -1, NULL, NULL, NULL))
			ctl_write(c, ST_PARTNERS, &before);
		else
			rc = ctl_stamp(c);
	}
	recfile_free(&before);
	return rc;
}

static void print_partner_json(const struct rec *r)
{
	/* every key of the record: later options appear as they come */
	jw_obj();
	for (int j = 0; j < r->n; j++) {
		if (!strcmp(r->kv[j].k, "id")) {
			jw_ku64("id", rec_i64(r, "id"));
		} else if (!strcmp(r->kv[j].k, "ip") || !strcmp(r->kv[j].k, "domain")) {
			char *v = strdup(r->kv[j].v), *save, *tok;

			jw_key(r->kv[j].k);
			jw_arr();
			for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				jw_str(tok);
			jw_end_arr();
			free(v);
		} else {
			jw_kstr(r->kv[j].k, r->kv[j].v);
		}
	}
	jw_end_obj();
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	struct partner_in in = {
		.name = a->pos[0], .ip = cli_opt(a, "ip"), .domain = cli_opt(a, "domain"),
		.tls = cli_opt(a, "tls"), .cert_name = cli_opt(a, "cert-name"),
		.skip = cli_opt(a, "skip"), .lock_domain = cli_flag(a, "lock-domain"),
	};
	struct recfile f, one = {};
	struct rec *r;
	int rc = 1;

	if (!in.ip)
		return cli_usage(a, "partner add needs --ip CIDR[,CIDR..]");
	/* validate first: a bad option changes nothing, loads nothing */
	if (partner_rec(&in, recfile_add(&one))) {
		recfile_free(&one);
		return 1;
	}
	recfile_free(&one);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	if (recfile_find(&f, "name", in.name) >= 0) {
		ctl_err("partner '%s' exists (del it first to change it)", in.name);
		goto out;
	}
	r = recfile_add(&f);
	partner_rec(&in, r);
	set_id(r, max_id(&f) + 1);
	if (partner_conflict(&f, rec_get(r, "ip"), f.n - 1) || partners_commit(c, &f))
		goto out;
	rc = 0;
	r = &f.r[f.n - 1];
	if (c->json) {
		jw_obj();
		jw_key("added");
		print_partner_json(r);
		jw_end_obj();
	} else {
		printf("partner %s added (id %s): ip %s%s%s\n", in.name, rec_get(r, "id"),
		       rec_get(r, "ip"), rec_get(r, "domain")[0] ? ", domain " : "",
		       rec_get(r, "domain"));
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	int i, rc = 1;

	if (ctl_ensure_loaded(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	i = recfile_find(&f, "name", a->pos[0]);
	if (i < 0) {
		ctl_err("no partner '%s'", a->pos[0]);
		goto out;
	}
	recfile_del(&f, i);
	rc = partners_commit(c, &f);
	if (!rc && c->json) {
		jw_obj();
		jw_kstr("deleted", a->pos[0]);
		jw_end_obj();
	} else if (!rc) {
		printf("partner %s deleted\n", a->pos[0]);
	}
out:
	recfile_free(&f);
	return rc;
}

/* One partner as an import line: NAME key=value... (values without
 * spaces; empty ones left out). */
static void print_partner_line(const struct rec *r)
{
	const char *v;

	printf("%s ip=%s", rec_get(r, "name"), rec_get(r, "ip") ? : "");
	if ((v = rec_get(r, "domain")) && *v)
		printf(" domain=%s", v);
	if ((v = rec_get(r, "lock_domain")) && !strcmp(v, "yes"))
		printf(" lock-domain");
	if ((v = rec_get(r, "tls")) && *v)
		printf(" tls=%s", v);
	if ((v = rec_get(r, "cert_name")) && *v)
		printf(" cert-name=%s", v);
	if ((v = rec_get(r, "skip")) && *v)
		printf(" skip=%s", v);
	putchar('\n');
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	const char *fmt = cli_opt(a, "format");
	bool export = fmt && !strcmp(fmt, "import");
	struct recfile f;

	if (export && c->json)
		return cli_usage(a, "--format import is text: leave out --json");
	if (ctl_lock_ro(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	if (export)
		printf("# mxshield partners: %d; 'mxshield partner import FILE --replace' reads "
		       "them back\n", f.n);
	else if (c->json)
		jw_arr();
	else if (f.n)
		printf("%-20s %-5s %-40s %s\n", "NAME", "ID", "IP", "DOMAIN");
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];

		if (export)
			print_partner_line(r);
		else if (c->json)
			print_partner_json(r);
		else
			printf("%-20s %-5s %-40s %s\n", rec_get(r, "name"), rec_get(r, "id"),
			       rec_get(r, "ip"), rec_get(r, "domain") ? : "");
	}
	if (!export && c->json)
		jw_end_arr();
	recfile_free(&f);
	return 0;
}

/* One import line "NAME ip=.. [domain=..] [lock-domain] [tls=..]
 * [cert-name=..] [skip=..]" (cut up in place) into @in. 0, or -1 with err. */
static int parse_partner_line(char *line, struct partner_in *in, char *err, size_t errlen)
{
	char *save, *tok = strtok_r(line, " \t", &save);

	memset(in, 0, sizeof(*in));
	in->name = tok;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		const char **slot = NULL;

		if (!strcmp(tok, "lock-domain")) {
			in->lock_domain = true;
			continue;
		}
		if (eq)
			*eq++ = '\0';
		if (!strcmp(tok, "ip"))
			slot = &in->ip;
		else if (!strcmp(tok, "domain"))
			slot = &in->domain;
		else if (!strcmp(tok, "tls"))
			slot = &in->tls;
		else if (!strcmp(tok, "cert-name"))
			slot = &in->cert_name;
		else if (!strcmp(tok, "skip"))
			slot = &in->skip;
		if (!slot || !eq || !*eq)
			return mxs_fail(err, errlen, "'%s': expected ip=, domain=, lock-domain, "
					"tls=, cert-name= or skip=", tok);
		if (*slot)
			return mxs_fail(err, errlen, "%s= given twice", tok);
		*slot = eq;
	}
	return 0;
}

static int do_import(struct ctl *c, const struct cli_args *a)
{
	bool replace = cli_flag(a, "replace");
	struct recfile cur, out = {};
	struct input rd;
	char err[MXS_ERRLEN], *line;
	int got, bad = 0, added = 0, updated = 0, removed = 0, rc = 1;
	int64_t next;

	if (cli_flag(a, "allow-empty") && !replace)
		return cli_usage(a, "--allow-empty goes with --replace");
	if (input_open(&rd, a->pos[0], 4094))
		return ctl_err("%s", rd.err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_PARTNERS, &cur)) {
		input_close(&rd);
		return 1;
	}
	next = max_id(&cur) + 1;
	while ((got = input_line(&rd, &line)) != INPUT_END) {
		struct partner_in in;
		struct rec *r;
		int i;

		if (got == INPUT_FAIL || got == INPUT_BAD) {
			ctl_err("%s", rd.err);
			bad++;
			if (got == INPUT_FAIL)
				break;
			continue;
		}
		if (parse_partner_line(line, &in, err, sizeof(err))) {
			ctl_err("%s:%ld: %s", a->pos[0], rd.lineno, err);
			bad++;
			continue;
		}
		if (recfile_find(&out, "name", in.name) >= 0) {
			ctl_err("%s:%ld: partner %s given twice", a->pos[0], rd.lineno, in.name);
			bad++;
			continue;
		}
		r = recfile_add(&out);
		if (partner_rec(&in, r)) {
			ctl_err("%s:%ld: partner %s: not imported", a->pos[0], rd.lineno, in.name);
			recfile_del(&out, out.n - 1);
			bad++;
			continue;
		}
		/* a partner that exists keeps its id (its hits, its tags) */
		i = recfile_find(&cur, "name", in.name);
		set_id(r, i >= 0 ? rec_i64(&cur.r[i], "id") : next++);
		if (i >= 0)
			updated++;
		else
			added++;
	}
	if (bad) {
		ctl_err("%s: %d invalid line%s: nothing imported", a->pos[0], bad,
			bad == 1 ? "" : "s");
		goto out;
	}
	if (replace && !out.n && !cli_flag(a, "allow-empty")) {
		ctl_err("%s: no partners: --replace would delete them all; nothing changed (add "
			"--allow-empty if that is what you want)", a->pos[0]);
		goto out;
	}
	/* without --replace the partners not in the file stay */
	for (int i = 0; !replace && i < cur.n; i++) {
		struct rec *r;

		if (recfile_find(&out, "name", rec_get(&cur.r[i], "name")) >= 0)
			continue;
		r = recfile_add(&out);
		for (int j = 0; j < cur.r[i].n; j++)
			rec_set(r, cur.r[i].kv[j].k, cur.r[i].kv[j].v);
	}
	for (int i = 0; replace && i < cur.n; i++)
		removed += recfile_find(&out, "name", rec_get(&cur.r[i], "name")) < 0;
	for (int i = 0; i < out.n; i++)
		if (partner_conflict(&out, rec_get(&out.r[i], "ip"), i))
			goto out;
	if (partners_commit(c, &out))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_ku64("added", added);
		jw_ku64("updated", updated);
		jw_ku64("removed", removed);
		jw_ku64("partners", out.n);
		jw_end_obj();
	} else {
		printf("partner import %s: %d added, %d updated, %d removed, %d partners\n",
		       a->pos[0], added, updated, removed, out.n);
	}
out:
	input_close(&rd);
	recfile_free(&cur);
	recfile_free(&out);
	return rc;
}

static const char *const tls_modes[] = { "opportunistic", "require", NULL };

static const struct cli_opt add_opts[] = {
	{ "ip", "CIDR[,CIDR..]", "the partner's sending addresses (required)" },
	{ "domain", "DOMAIN[,..]", "the partner's sender domains" },
	{ "lock-domain", NULL, "its addresses may send only for its domains" },
	{ "tls", "MODE", "opportunistic (default), or require TLS from it", tls_modes },
	{ "cert-name", "NAME", "the name its client certificate must carry (*.x: one label)" },
	{ "skip", "CHECKS", "checks its mail skips: spam, policy (comma-separated), or none" },
	{ NULL }
};

static const struct cli_cmd partner_cmds[] = {
	{ "add", do_add, "NAME", 1, 1, "Add a partner connector.", add_opts },
	{ "del", do_del, "NAME", 1, 1, "Delete a partner connector." },
	{ "list", do_list, NULL, 0, 0, "Show the partner connectors.", cli_list_opts },
	{ "import", do_import, "FILE", 1, 1,
	  "Add or change the partners of FILE (- for standard input), one a line: NAME "
	  "ip=CIDR[,..] [domain=D[,..]] [lock-domain] [tls=MODE] [cert-name=N] [skip=S]. "
	  "Nothing is applied when a line is invalid.", cli_import_opts, .complete = "@file" },
	{ 0 }
};

const struct cli_obj obj_partner = {
	"partner", "partner connectors: a partner's addresses and its mail's checks",
	partner_cmds, .section = SECTION_LISTS,
};
