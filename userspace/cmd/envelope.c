// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The envelope lists (sender, domain, tld, recipient, pattern) and the
 * organisation's domains: what the policy service checks at RCPT beside
 * the source address. One "envelope" state file holds them all; the
 * service re-reads it when it changes (mta/envelope.c reads it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../core/utf8.h"
#include "../mta/content.h"
#include "../mta/envelope.h"
#include "../state/recfile.h"
#include "objects.h"

/* A pattern's field: a record without one is a sender pattern (state
 * written before subject and content patterns, and sender patterns
 * now, so that such a file reads the same in an older controller). */
static int rec_field(const struct rec *r)
{
	const char *f = rec_get(r, "field");

	return f ? pat_field_by_name(f) : PAT_SENDER;
}

/* @field: a pattern's field, -1 any */
static int find_entry(const struct recfile *f, int kind, int list, int field, const char *value)
{
	for (int i = 0; i < f->n; i++) {
		const struct rec *r = &f->r[i];

		if (env_kind_by_name(rec_get(r, "kind")) == kind &&
		    (list < 0 || env_list_by_name(rec_get(r, "list")) == list) &&
		    (kind != ENV_PATTERN || field < 0 || rec_field(r) == field) &&
		    !strcmp(rec_get(r, "value") ? : "", value))
			return i;
	}
	return -1;
}

/* The org's TLDs may not be blocked: -1 and err naming the org domain. */
static int check_tld_allowed(const struct ctl *c, const char *tld, char *err, size_t errlen)
{
	struct recfile f;
	char **org;
	int n, rc = 0;

	if (ctl_read(c, ST_SETTINGS, &f))
		return -1;
	org = env_split_csv(f.n ? rec_get(&f.r[0], "org_domains") : NULL, &n);
	for (int i = 0; i < n && !rc; i++) {
		const char *dot = strrchr(org[i], '.');

		if (!strcasecmp(dot ? dot + 1 : org[i], tld)) {
			snprintf(err, errlen, "refusing to block .%s: it is the TLD of the "
				 "organisation's own domain %s", tld, org[i]);
			rc = -1;
		}
	}
	env_free_strv(org, n);
	recfile_free(&f);
	return rc;
}

struct env_add {
	int kind, list;
	int field;		/* pattern: enum pat_field */
	uint8_t action;
	bool regex;
	int64_t expires;
	const char *comment;
};

/* Validate one entry and put it into @f (replacing an equal one).
 * Returns 0, or -1 with err filled. */
static int env_put(const struct ctl *c, struct recfile *f, const struct env_add *a,
		   const char *raw, char *err, size_t errlen)
{
	char val[600], num[32];
	struct rec *r;
	int i;

	if (!(env_kind_lists[a->kind] & (1 << a->list))) {
		snprintf(err, errlen, "%s entries can't be on the %s list", env_kind_name(a->kind),
			 env_list_name(a->list));
		return -1;
	}
	if (a->kind == ENV_PATTERN ?
	    env_parse_pattern(a->field, a->regex, raw, val, sizeof(val), err, errlen) :
	    env_parse_value(a->kind, a->regex, raw, val, sizeof(val), err, errlen))
		return -1;
	if (a->comment && utf8_text_check("comment", a->comment, err, errlen))
		return -1;
	if (a->kind == ENV_TLD && check_tld_allowed(c, val, err, errlen))
		return -1;
	i = find_entry(f, a->kind, a->list, a->field, val);
	r = i >= 0 ? &f->r[i] : recfile_add(f);
	rec_set(r, "kind", env_kind_name(a->kind));
	rec_set(r, "list", env_list_name(a->list));
	rec_set(r, "value", val);
	if (a->list == ENV_BLOCK)
		rec_set(r, "action", action_name(a->action));
	if (a->kind == ENV_PATTERN)
		rec_set(r, "type", a->regex ? "regex" : "text");
	if (a->kind == ENV_PATTERN && a->field != PAT_SENDER)
		rec_set(r, "field", pat_field_name(a->field));
	snprintf(num, sizeof(num), "%lld", (long long)a->expires);
	rec_set(r, "expires", num);
	rec_set(r, "comment", a->comment ? a->comment : "");
	return 0;
}

static int opts_to_add(int kind, const char *list, const char *action, const char *type,
		       const char *field, const char *expires, const char *comment,
		       struct env_add *a)
{
	char err[MXS_ERRLEN];

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->field = PAT_SENDER;
	if (field && (a->field = pat_field_by_name(field)) < 0)
		return ctl_err("'%s': --field is sender, subject or content", field);
	if (!list)
		list = kind == ENV_SENDER || kind == ENV_DOMAIN ? NULL : "block";
	if (!list)
		return ctl_err("%s: --list allow|block|trust is required", env_kind_name(kind));
	a->list = env_list_by_name(list);
	if (a->list < 0)
		return ctl_err("'%s': list must be allow, block or trust", list);
	a->action = MXS_ACT_REJECT;
	if (action) {
		if (a->list != ENV_BLOCK)
			return ctl_err("only block entries have an action");
		if (parse_action(action, &a->action, err, sizeof(err)))
			return ctl_err("%s", err);
		if (a->action == MXS_ACT_DROP)
			return ctl_err("envelope entries can't drop (the connection is already "
				       "up): use reject, quarantine or spam");
	}
	if (type && strcmp(type, "text") && strcmp(type, "regex"))
		return ctl_err("'%s': --type is text or regex", type);
	if (type && kind != ENV_PATTERN)
		return ctl_err("--type is for patterns");
	a->regex = type && !strcmp(type, "regex");
	if (expires && parse_expiry(expires, time(NULL), &a->expires, err, sizeof(err)))
		return ctl_err("--expires: %s", err);
	if (comment && utf8_text_check("comment", comment, err, sizeof(err)))
		return ctl_err("%s", err);
	a->comment = comment;
	return 0;
}

/* Read FILE (plain or gzip, "-" = stdin, input.h): one value a line,
 * optional ",action,expires,comment" columns, into @f. With @replace the
 * file's entries take the place of every entry of this kind on the
 * target list. All or nothing: @f is only written by the caller when
 * this returns 0. */
/* Cut a quoted CSV field at @p in place ("a,""b""" -> a,"b): the rest of
 * the line after its comma (or its end), or NULL when it is not closed. */
static char *unquote(char *p)
{
	char *w = p, *r = p + 1;

	for (;;) {
		if (!*r)
			return NULL;
		if (*r == '"' && r[1] == '"') {
			*w++ = '"';
			r += 2;
		} else if (*r == '"') {
			r++;
			break;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	if (*r == ',')
		return r + 1;
	return *r ? NULL : r;
}

static bool selected(const struct rec *r, int kind, int list, const char *type, int field);

static int env_import(struct ctl *c, int kind, struct recfile *f, const char *path,
		      const struct env_add *defaults, bool replace, bool allow_empty,
		      int *added, int *removed)
{
	struct input rd;
	char err[MXS_ERRLEN], *p;
	int bad = 0, got;

	*added = *removed = 0;
	if (input_open(&rd, path, 2046))
		return ctl_err("%s", rd.err);
	if (replace) {
		for (int i = f->n - 1; i >= 0; i--) {
			/* the patterns of the type imported, the others stay */
			if (selected(&f->r[i], kind, defaults->list, kind != ENV_PATTERN ? NULL :
				     defaults->regex ? "regex" : "text", defaults->field)) {
				recfile_del(f, i);
				(*removed)++;
			}
		}
	}
	while ((got = input_line(&rd, &p)) != INPUT_END) {
		char *cols[4] = { 0 };
		struct env_add a = *defaults;
		int nc = 0;

		if (got == INPUT_FAIL) {
			ctl_err("%s: nothing imported", rd.err);
			input_close(&rd);
			return 1;
		}
		if (got == INPUT_BAD) {
			ctl_err("%s", rd.err);
			bad++;
			continue;
		}
		/* value[,action[,expires[,comment]]]: an empty column keeps the
		 * default, the comment keeps its commas; a value in double
		 * quotes ("" for a quote) may hold commas; an unquoted regex is
		 * the whole line */
		if (*p == '"') {
			char *q = unquote(p);

			if (!q) {
				ctl_err("%s:%ld: a quoted value without its closing quote", path,
					rd.lineno);
				bad++;
				continue;
			}
			cols[nc++] = p;
			p = q;
		}
		for (char *q = p; q && nc < 4; nc++) {
			if (kind == ENV_PATTERN && a.regex && nc == 0) {
				cols[nc++] = p;
				break;
			}
			cols[nc] = q;
			q = nc < 3 ? strchr(q, ',') : NULL;
			if (q)
				*q++ = '\0';
		}
		for (int k = 0; k < nc && k < 3; k++) {
			char *end = cols[k] + strlen(cols[k]);

			while (*cols[k] == ' ')
				cols[k]++;
			while (end > cols[k] && end[-1] == ' ')
				*--end = '\0';
		}
		if (nc > 1 && *cols[1] && (parse_action(cols[1], &a.action, err, sizeof(err)) ||
					   a.action == MXS_ACT_DROP)) {
			ctl_err("%s:%ld: %s", path, rd.lineno, a.action == MXS_ACT_DROP ?
				"envelope entries can't drop" : err);
			bad++;
			continue;
		}
		if (nc > 2 && *cols[2] &&
		    parse_expiry(cols[2], time(NULL), &a.expires, err, sizeof(err))) {
			ctl_err("%s:%ld: %s", path, rd.lineno, err);
			bad++;
			continue;
		}
		if (nc > 3)
			a.comment = cols[3];
		if (env_put(c, f, &a, cols[0], err, sizeof(err))) {
			ctl_err("%s:%ld: %s", path, rd.lineno, err);
			bad++;
			continue;
		}
		(*added)++;
	}
	input_close(&rd);
	if (bad)
		return ctl_err("%s: %d invalid line(s): nothing imported", path, bad);
	if (replace && !*added && !allow_empty)
		return ctl_err("%s: no valid entries: --replace would empty the %s %s list; nothing "
			       "changed (add --allow-empty if that is what you want)", path,
			       env_list_name(defaults->list), env_kind_name(kind));
	return 0;
}

/* ------------------------------------------------------------- commands */

static int kind_of(const struct cli_args *a)
{
	return env_kind_by_name(a->obj->name);
}

/* The entries of @kind in @f that @list (-1: any), @type ("text",
 * "regex", NULL: any) and a pattern's @field (-1: any) select. */
static bool selected(const struct rec *r, int kind, int list, const char *type, int field)
{
	return env_kind_by_name(rec_get(r, "kind")) == kind &&
	       (list < 0 || env_list_by_name(rec_get(r, "list")) == list) &&
	       (!type || !strcmp(rec_get(r, "type") ? : "text", type)) &&
	       (kind != ENV_PATTERN || field < 0 || rec_field(r) == field);
}

/* --field of a pattern command: -1 when not given (any) */
static int field_opt(const struct cli_args *a, int kind)
{
	const char *f = kind == ENV_PATTERN ? cli_opt(a, "field") : NULL;

	return f ? pat_field_by_name(f) : -1;
}

/* A CSV field: quoted when it holds a comma or a quote, or starts with
 * a space, or @quote says so (a regex: import reads an unquoted one as
 * the whole line). */
static void put_field(const char *v, bool quote)
{
	if (!quote && !strpbrk(v, ",\"") && v[0] != ' ') {
		fputs(v, stdout);
		return;
	}
	putchar('"');
	for (; *v; v++) {
		if (*v == '"')
			putchar('"');
		putchar(*v);
	}
	putchar('"');
}

static int export(const struct cli_args *a, const struct recfile *f, int kind, int list,
		  const char *type, int field)
{
	int lists = 0, types = 0, fields = 0, n = 0;
	char exp[32];

	/* import takes one list (and one pattern type) a file */
	for (int i = 0; i < f->n; i++) {
		if (!selected(&f->r[i], kind, list, type, field))
			continue;
		lists |= 1 << env_list_by_name(rec_get(&f->r[i], "list"));
		fields |= 1 << rec_field(&f->r[i]);
		types |= !strcmp(rec_get(&f->r[i], "type") ? : "text", "regex") ? 2 : 1;
		n++;
	}
	if (list < 0 && (lists & (lists - 1)))
		return cli_usage(a, "entries on several lists: give --list (import reads one "
				 "list a file)");
	if (kind == ENV_PATTERN && !type && types == 3)
		return cli_usage(a, "text and regex patterns: give --type (import reads one "
				 "type a file)");
	if (kind == ENV_PATTERN && field < 0 && (fields & (fields - 1)))
		return cli_usage(a, "patterns of several fields: give --field (import reads "
				 "one field a file)");
	if (field < 0)
		for (field = 0; field < PAT_FIELD_MAX - 1 && !(fields & (1 << field)); field++)
			;
	if (list < 0)
		for (list = 0; list < ENV_LIST_MAX && !(lists & (1 << list)); list++)
			;
	printf("# mxshield %s list: %d entries; 'mxshield %s import FILE --list %s%s%s%s%s "
	       "--replace' reads them back\n", a->obj->name, n, a->obj->name,
	       env_list_name(list < ENV_LIST_MAX ? list : ENV_BLOCK),
	       kind == ENV_PATTERN ? " --type " : "",
	       kind == ENV_PATTERN ? (types == 2 || (type && !strcmp(type, "regex")) ?
				      "regex" : "text") : "",
	       kind == ENV_PATTERN && field != PAT_SENDER ? " --field " : "",
	       kind == ENV_PATTERN && field != PAT_SENDER ? pat_field_name(field) : "");
	for (int i = 0; i < f->n; i++) {
		const struct rec *r = &f->r[i];
		long long e = strtoll(rec_get(r, "expires") ? : "0", NULL, 10);

		if (!selected(r, kind, list, type, field))
			continue;
		put_field(rec_get(r, "value") ? : "",
			  !strcmp(rec_get(r, "type") ? : "text", "regex"));
		printf(",%s,%s,%s\n", rec_get(r, "action") ? : "", e ? fmt_time(e, exp, sizeof(exp)) : "",
		       rec_get(r, "comment") ? : "");
	}
	return 0;
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	int kind = kind_of(a), want = -1, rc = 0;
	const char *l = cli_opt(a, "list"), *fmt = cli_opt(a, "format");
	const char *type = kind == ENV_PATTERN ? cli_opt(a, "type") : NULL;
	int field = field_opt(a, kind);
	struct recfile f;

	if (fmt && !strcmp(fmt, "import") && c->json)
		return cli_usage(a, "--format import is text: leave out --json");
	if (l)
		want = env_list_by_name(l);
	if (ctl_lock_ro(c) || ctl_read(c, ST_ENVELOPE, &f))
		return 1;
	if (fmt && !strcmp(fmt, "import")) {
		rc = export(a, &f, kind, want, type, field);
		recfile_free(&f);
		return rc;
	}
	if (c->json)
		jw_arr();
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];

		if (!selected(r, kind, want, type, field))
			continue;
		if (c->json) {
			jw_obj();
			for (int j = 0; j < r->n; j++)
				if (strcmp(r->kv[j].k, "kind"))
					jw_kstr(r->kv[j].k, r->kv[j].v);
			jw_end_obj();
		} else {
			char exp[64];
			long long e = strtoll(rec_get(r, "expires") ? : "0", NULL, 10);

			if (kind == ENV_PATTERN)
				printf("%-8s %-6s ", pat_field_name(rec_field(r)),
				       rec_get(r, "type") ? : "text");
			printf("%-6s %-40s %-11s %-16s %s\n", rec_get(r, "list"),
			       rec_get(r, "value"), rec_get(r, "action") ? : "",
			       e ? fmt_remaining(e, exp, sizeof(exp)) : "never",
			       rec_get(r, "comment") ? : "");
		}
	}
	if (c->json)
		jw_end_arr();
	recfile_free(&f);
	return 0;
}

static int do_add_import(struct ctl *c, const struct cli_args *a, bool import)
{
	int kind = kind_of(a), added = 0, removed = 0, rc = 1;
	bool replace = cli_flag(a, "replace"), allow_empty = cli_flag(a, "allow-empty");
	struct env_add ea;
	struct recfile f;
	char err[MXS_ERRLEN];

	if (allow_empty && !replace)
		return cli_usage(a, "--allow-empty goes with --replace");
	if (opts_to_add(kind, cli_opt(a, "list"), cli_opt(a, "action"),
			kind == ENV_PATTERN ? cli_opt(a, "type") : NULL,
			kind == ENV_PATTERN ? cli_opt(a, "field") : NULL, cli_opt(a, "expires"),
			cli_opt(a, "comment"), &ea))
		return 1;
	if (ctl_lock(c) || ctl_read(c, ST_ENVELOPE, &f))
		return 1;
	if (!import) {
		if (env_put(c, &f, &ea, a->pos[0], err, sizeof(err))) {
			ctl_err("%s", err);
			goto out;
		}
		added = 1;
	} else if (env_import(c, kind, &f, a->pos[0], &ea, replace, allow_empty, &added,
			      &removed)) {
		goto out;
	}
	if (ctl_write(c, ST_ENVELOPE, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("kind", a->obj->name);
		jw_kstr("list", env_list_name(ea.list));
		if (kind == ENV_PATTERN)
			jw_kstr("field", pat_field_name(ea.field));
		if (import) {
			jw_ku64("imported", added);
			jw_ku64("removed", removed);
		} else {
			jw_kstr("added", a->pos[0]);
			if (ea.list == ENV_BLOCK)
				jw_kstr("action", action_name(ea.action));
			jw_ki64("expires", ea.expires);
		}
		jw_end_obj();
	} else {
		printf("%s: %d entr%s on the %s list", a->obj->name, added, added == 1 ? "y" : "ies",
		       env_list_name(ea.list));
		if (removed)
			printf(" (%d replaced entr%s removed first)", removed,
			       removed == 1 ? "y" : "ies");
		putchar('\n');
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_add(struct ctl *c, const struct cli_args *a) { return do_add_import(c, a, false); }
static int do_import(struct ctl *c, const struct cli_args *a) { return do_add_import(c, a, true); }

static int do_del(struct ctl *c, const struct cli_args *a)
{
	int kind = kind_of(a), list = -1, i, rc = 1, field = field_opt(a, kind);
	const char *l = cli_opt(a, "list");
	struct recfile f;
	char err[MXS_ERRLEN], val[600];

	if (l && (list = env_list_by_name(l)) < 0)
		return cli_usage(a, "'%s': the list is allow, block or trust", l);
	if (ctl_lock(c) || ctl_read(c, ST_ENVELOPE, &f))
		return 1;
	/* a pattern: as written (a regex), else folded as add stores text */
	i = kind == ENV_PATTERN ? find_entry(&f, kind, list, field, a->pos[0]) : -1;
	if (i >= 0) {
		/* found as written */
	} else if (kind == ENV_PATTERN) {
		for (int fl = 0; fl < PAT_FIELD_MAX && i < 0; fl++)
			if ((field < 0 || fl == field) &&
			    !env_parse_pattern(fl, false, a->pos[0], val, sizeof(val), err,
					       sizeof(err)))
				i = find_entry(&f, kind, list, fl, val);
	} else if (env_parse_value(kind, false, a->pos[0], val, sizeof(val), err, sizeof(err))) {
		/* a value no longer valid (a hand-edited state file, an older
		 * controller) can still be deleted as written */
		i = find_entry(&f, kind, list, -1, a->pos[0]);
		if (i < 0) {
			ctl_err("%s", err);
			goto out;
		}
	} else {
		i = find_entry(&f, kind, list, -1, val);
	}
	if (i < 0) {
		ctl_err("%s '%s' is not listed", a->obj->name, a->pos[0]);
		goto out;
	}
	recfile_del(&f, i);
	if (ctl_write(c, ST_ENVELOPE, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("kind", a->obj->name);
		jw_kstr("deleted", a->pos[0]);
		jw_end_obj();
	} else {
		printf("%s deleted %s\n", a->obj->name, a->pos[0]);
	}
out:
	recfile_free(&f);
	return rc;
}

/* org-domain add|del DOMAIN | list: the organisation's own domains (their
 * TLDs can't be blocked; mail claiming them from outside is checked). */
static int org_change(struct ctl *c, const struct cli_args *a, bool add)
{
	struct recfile s, e;
	char dom[256], err[MXS_ERRLEN], list[4096] = "";
	char **v;
	int n, rc = 1;

	if (parse_domain(a->pos[0], dom, sizeof(dom), err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_lock(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	v = env_split_csv(s.n ? rec_get(&s.r[0], "org_domains") : NULL, &n);
	if (add) {
		const char *dot = strrchr(dom, '.');

		if (ctl_read(c, ST_ENVELOPE, &e))
			goto out;
		if (find_entry(&e, ENV_TLD, ENV_BLOCK, -1, dot ? dot + 1 : dom) >= 0) {
			ctl_err("the TLD of %s is blocked: delete that tld entry first", dom);
			recfile_free(&e);
			goto out;
		}
		recfile_free(&e);
	}
	for (int i = 0; i < n; i++) {
		if (!strcmp(v[i], dom))
			continue;
		if (strlen(list) + strlen(v[i]) + 2 < sizeof(list)) {
			if (*list)
				strcat(list, ",");
			strcat(list, v[i]);
		}
	}
	if (add && strlen(list) + strlen(dom) + 2 < sizeof(list)) {
		if (*list)
			strcat(list, ",");
		strcat(list, dom);
	}
	rec_set(s.n ? &s.r[0] : recfile_add(&s), "org_domains", list);
	rc = ctl_write(c, ST_SETTINGS, &s);
	if (!rc && c->json) {
		jw_obj();
		jw_kstr(add ? "added" : "deleted", dom);
		jw_end_obj();
	} else if (!rc) {
		printf("org domains: %s\n", *list ? list : "(none)");
	}
out:
	env_free_strv(v, n);
	recfile_free(&s);
	return rc;
}

static int do_org_add(struct ctl *c, const struct cli_args *a) { return org_change(c, a, true); }
static int do_org_del(struct ctl *c, const struct cli_args *a) { return org_change(c, a, false); }

static int do_org_list(struct ctl *c, const struct cli_args *a)
{
	struct recfile s;
	char **v;
	int n;

	if (ctl_lock_ro(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	v = env_split_csv(s.n ? rec_get(&s.r[0], "org_domains") : NULL, &n);
	if (c->json)
		jw_arr();
	for (int i = 0; i < n; i++)
		c->json ? jw_str(v[i]) : (void)printf("%s\n", v[i]);
	if (c->json)
		jw_end_arr();
	env_free_strv(v, n);
	recfile_free(&s);
	return 0;
}

/* ---------------------------------------------------------------- tables */

const char *const cli_tag_actions[] = { "reject", "quarantine", "spam", NULL };
static const char *const env_lists[] = { "allow", "block", "trust", NULL };
static const char *const block_only[] = { "block", NULL };
static const char *const types[] = { "text", "regex", NULL };
static const char *const fields[] = { "sender", "subject", "content", NULL };

#define O_LIST(ch) { "list", "LIST", "allow, block or trust", ch }
#define O_ACTION { "action", "ACTION", "block list: reject (default), quarantine or spam", \
		   cli_tag_actions }
#define O_EXPIRES { "expires", "WHEN", "remove it after a duration (7d) or at a UTC time " \
		    "(2026-12-07T10:00:00Z)" }
#define O_COMMENT { "comment", "TEXT", "a note kept with the entry" }
#define O_TYPE { "type", "TYPE", "text (default: a case-insensitive substring) or regex " \
		 "(sender: POSIX extended; subject, content: PCRE2)", types }
#define O_FIELD { "field", "FIELD", "what it matches: sender (default; the envelope sender, " \
		  "at RCPT), subject or content (the decoded message, in the milter)", fields }
#define O_FORMAT { "format", "FORMAT", "table (default), or import: lines 'import' reads " \
		   "back", cli_list_formats }
#define O_REPLACE { "replace", NULL, "make the list exactly the file's entries" }, \
		  { "allow-empty", NULL, "with --replace: a file without entries empties it" }

static const struct cli_opt add3[] = { O_LIST(env_lists), O_ACTION, O_EXPIRES, O_COMMENT, { NULL } };
static const struct cli_opt add1[] = { O_LIST(block_only), O_ACTION, O_EXPIRES, O_COMMENT, { NULL } };
static const struct cli_opt addp[] = { O_LIST(block_only), O_FIELD, O_TYPE, O_ACTION, O_EXPIRES,
				       O_COMMENT, { NULL } };
static const struct cli_opt delp[] = { O_LIST(block_only), O_FIELD, { NULL } };
static const struct cli_opt del3[] = { O_LIST(env_lists), { NULL } };
static const struct cli_opt list3[] = { O_LIST(env_lists), O_FORMAT, { NULL } };
static const struct cli_opt listp[] = { O_LIST(block_only), O_FIELD, O_TYPE, O_FORMAT, { NULL } };
static const struct cli_opt imp3[] = { O_LIST(env_lists), O_ACTION, O_EXPIRES, O_COMMENT,
				       O_REPLACE, { NULL } };
static const struct cli_opt imp1[] = { O_LIST(block_only), O_ACTION, O_EXPIRES, O_COMMENT,
				       O_REPLACE, { NULL } };
static const struct cli_opt impp[] = { O_LIST(block_only), O_FIELD, O_TYPE, O_ACTION, O_EXPIRES,
				       O_COMMENT, O_REPLACE, { NULL } };

#define ENV_CMDS(what, addo, delo, listo, impo) {					\
	{ "add", do_add, what, 1, 1, "Add an entry, or change it.", addo },		\
	{ "del", do_del, what, 1, 1, "Delete an entry.", delo },			\
	{ "list", do_list, NULL, 0, 0, "Show the entries.", listo },			\
	{ "import", do_import, "FILE", 1, 1,						\
	  "Add the entries of FILE (- for standard input; gzip or plain): CSV "		\
	  "value[,action[,expiry[,comment]]] a line. Nothing is applied when a line is "	\
	  "invalid.", impo, .complete = "@file" },					\
	{ 0 } }

static const struct cli_cmd sender_cmds[] = ENV_CMDS("ADDRESS", add3, del3, list3, imp3);
static const struct cli_cmd domain_cmds[] = ENV_CMDS("DOMAIN", add3, del3, list3, imp3);
static const struct cli_cmd tld_cmds[] = ENV_CMDS("TLD", add1, del3, list3, imp1);
static const struct cli_cmd recipient_cmds[] = ENV_CMDS("ADDRESS", add1, del3, list3, imp1);
static const struct cli_cmd pattern_cmds[] = ENV_CMDS("TEXT|REGEX", addp, delp, listp, impp);

const struct cli_obj obj_envelope[5] = {
	{ "sender", "envelope senders (MAIL FROM) on the allow, block or trust list",
	  sender_cmds, .section = SECTION_MTA },
	{ "domain", "sender domains on the allow, block or trust list", domain_cmds,
	  .section = SECTION_MTA },
	{ "tld", "sender top-level domains to block", tld_cmds, .section = SECTION_MTA },
	{ "recipient", "recipients whose mail is blocked", recipient_cmds,
	  .section = SECTION_MTA },
	{ "pattern", "patterns (text or regex) to block, matched against the envelope sender, "
	  "or the Subject or text of the message (the milter)", pattern_cmds,
	  .section = SECTION_MTA },
};

static const struct cli_cmd org_cmds[] = {
	{ "add", do_org_add, "DOMAIN", 1, 1, "Add one of the organisation's own domains." },
	{ "del", do_org_del, "DOMAIN", 1, 1, "Remove one." },
	{ "list", do_org_list, NULL, 0, 0, "Show them (one a line)." },
	{ 0 }
};

const struct cli_obj obj_org = {
	"org-domain", "the organisation's own domains", org_cmds, .section = SECTION_MTA,
};
