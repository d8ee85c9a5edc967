// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * auto: automatic blocks from what the MTA sees (mta/auto.c, docs/auto.md).
 * The rules are kept here; `mxshield serve` with [auto] counts the
 * evidence and pushes the blocks into the block list's "auto" source.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../filter/source.h"
#include "../mta/auto.h"
#include "../state/ipstore.h"
#include "objects.h"

static void rule_print(struct ctl *c, const struct auto_rule *r)
{
	char w[24], b[24], m[24];

	auto_fmt_duration(r->within, w, sizeof(w));
	auto_fmt_duration(r->block, b, sizeof(b));
	auto_fmt_duration(r->max, m, sizeof(m));
	if (c->json) {
		jw_obj();
		jw_kstr("name", r->name);
		jw_kstr("on", auto_kind_names[r->on]);
		jw_ku64("count", r->count);
		jw_ki64("within", r->within);
		jw_ki64("block", r->block);
		jw_ki64("max", r->max);
		jw_end_obj();
	} else {
		printf("%-20s %-10s %6u %8s %8s %8s\n", r->name, auto_kind_names[r->on], r->count,
		       w, b, m);
	}
}

static int do_rule_add(struct ctl *c, const struct cli_args *a)
{
	struct auto_rule r, *v;
	char err[MXS_ERRLEN];
	int n, i, rc;

	if (!cli_opt(a, "on") || !cli_opt(a, "count") || !cli_opt(a, "within") ||
	    !cli_opt(a, "block"))
		return cli_usage(a, "a rule needs --on, --count, --within and --block");
	if (auto_rule_make(&r, a->pos[1], cli_opt(a, "on"), cli_opt(a, "count"),
			   cli_opt(a, "within"), cli_opt(a, "block"), cli_opt(a, "max"), err,
			   sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_lock(c) || auto_rules_read(c, &v, &n))
		return 1;
	for (i = 0; i < n && strcmp(v[i].name, r.name); i++)
		;
	if (i == n && n >= AUTO_RULES_MAX) {
		free(v);
		return ctl_err("there are %d rules already, the most there can be", n);
	}
	if (i == n) {
		struct auto_rule *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			free(v);
			return ctl_err("out of memory");
		}
		v = nv;
		n++;
	}
	v[i] = r;
	rc = auto_rules_write(c, v, n);
	free(v);
	if (rc)
		return 1;
	if (c->json) {
		rule_print(c, &r);
	} else {
		char w[24], b[24], m[24];

		printf("rule %s: %u %s within %s blocks for %s", r.name, r.count,
		       auto_kind_names[r.on], auto_fmt_duration(r.within, w, sizeof(w)),
		       auto_fmt_duration(r.block, b, sizeof(b)));
		if (r.max > r.block)
			printf(", doubling on each repeat offence up to %s",
			       auto_fmt_duration(r.max, m, sizeof(m)));
		printf("\n");
	}
	return 0;
}

static int do_rule_list(struct ctl *c, const struct cli_args *a)
{
	struct auto_rule *v;
	int n;

	if (ctl_lock_ro(c) || auto_rules_read(c, &v, &n))
		return 1;
	if (c->json)
		jw_arr();
	else if (n)
		printf("%-20s %-10s %6s %8s %8s %8s\n", "NAME", "ON", "COUNT", "WITHIN", "BLOCK",
		       "MAX");
	for (int i = 0; i < n; i++)
		rule_print(c, &v[i]);
	if (c->json)
		jw_end_arr();
	free(v);
	return 0;
}

static int do_rule_del(struct ctl *c, const struct cli_args *a)
{
	struct auto_rule *v;
	int n, i, rc;

	if (ctl_lock(c) || auto_rules_read(c, &v, &n))
		return 1;
	for (i = 0; i < n && strcmp(v[i].name, a->pos[1]); i++)
		;
	if (i == n) {
		free(v);
		return ctl_err("no rule named '%s' ('mxshield auto rule list' shows them)",
			       a->pos[1]);
	}
	memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
	rc = auto_rules_write(c, v, n - 1);
	free(v);
	if (rc)
		return 1;
	if (c->json) {
		jw_obj();
		jw_kstr("deleted", a->pos[1]);
		jw_end_obj();
	} else {
		printf("rule %s deleted (its blocks stay until they expire)\n", a->pos[1]);
	}
	return 0;
}

/* The offence record behind an entry of @src: the latest one. */
static const struct auto_offence *offence_of(const struct auto_offence *v, int n,
					     const struct mxs_prefix *src)
{
	const struct auto_offence *best = NULL;

	for (int i = 0; i < n; i++)
		if (v[i].src.v6 == src->v6 && !memcmp(v[i].src.addr, src->addr, 16) &&
		    (!best || v[i].at > best->at))
			best = &v[i];
	return best;
}

struct list_ctx {
	struct ctl *c;
	const struct auto_offence *v;
	int n;
	int64_t now;
	int shown;
	bool *listed;		/* per offence: an entry of the source showed it */
};

static void list_row(struct list_ctx *x, const char *ip, const struct auto_offence *o,
		     int64_t expires, const char *comment, bool active)
{
	char at[32] = "-", ex[48], num[12] = "-";

	if (x->c->json) {
		jw_obj();
		jw_kstr("address", ip);
		jw_kstr("rule", o ? o->rule : "");
		jw_ku64("offence", o ? o->offence : 0);
		jw_ki64("blocked_at", o ? o->at : 0);
		jw_ki64("expires", expires);
		jw_kbool("active", active);
		jw_kstr("comment", comment);
		jw_end_obj();
		return;
	}
	if (!x->shown++)
		printf("%-39s %-16s %7s %-20s %-22s %s\n", "ADDRESS", "RULE", "OFFENCE",
		       "BLOCKED", "EXPIRES", "EVIDENCE");
	if (o) {
		fmt_time(o->at, at, sizeof(at));
		snprintf(num, sizeof(num), "%u", o->offence);
	}
	if (active)
		fmt_time(expires, ex, sizeof(ex));
	else
		fmt_remaining(expires, ex, sizeof(ex));
	printf("%-39s %-16s %7s %-20s %-22s %s\n", ip, o ? o->rule : "-", num, at, ex, comment);
}

static int list_entry(const struct st_ent *e, const char *comment, void *arg)
{
	struct list_ctx *x = arg;
	struct mxs_prefix p;
	const struct auto_offence *o;
	char ip[MXS_PFX_STRLEN];

	if (e->expires && e->expires <= x->now)
		return 0;	/* expired: the next sweep takes it */
	st_prefix(e, &p);
	o = offence_of(x->v, x->n, &p);
	if (o)
		x->listed[o - x->v] = true;
	list_row(x, auto_addr_str(&p, ip), o, e->expires, comment, true);
	return 0;
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	struct list_ctx x = { .c = c, .now = time(NULL) };
	struct auto_offence *v;
	struct store st;
	int n;

	if (ctl_lock_ro(c) || auto_offences_read(c, &v, &n))
		return 1;
	if (source_open(c, &ip_lists[MXS_IPL_BLOCK], AUTO_SOURCE, &st)) {
		free(v);
		return 1;
	}
	x.v = v;
	x.n = n;
	x.listed = calloc(n ? n : 1, sizeof(bool));
	if (c->json)
		jw_arr();
	/* the blocks in force: the source's entries, with their offence */
	store_all(&st, list_entry, &x);
	store_close(&st);
	/* --all: the offences remembered after their block ended */
	for (int i = 0; cli_flag(a, "all") && i < n; i++) {
		char ip[MXS_PFX_STRLEN];

		if (!x.listed[i])
			list_row(&x, auto_addr_str(&v[i].src, ip), &v[i], v[i].expires,
				 v[i].comment, false);
	}
	if (c->json)
		jw_end_arr();
	else if (!x.shown)
		printf("no automatic blocks%s\n", cli_flag(a, "all") ? " or offences remembered" :
		       " now");
	free(x.listed);
	free(v);
	return 0;
}

static int do_forget(struct ctl *c, const struct cli_args *a)
{
	struct mxs_prefix p;
	char err[MXS_ERRLEN], ip[MXS_PFX_STRLEN];
	struct store st;
	bool listed;
	int removed, rc = 0;

	if (parse_addr(a->pos[0], &p, err, sizeof(err)))
		return ctl_err("%s: %s", a->pos[0], err);
	if (ctl_lock(c) || auto_offences_forget(c, &p, &removed))
		return 1;
	if (source_open(c, &ip_lists[MXS_IPL_BLOCK], AUTO_SOURCE, &st))
		return 1;
	listed = store_find(&st, &p) != NULL;
	store_close(&st);
	if (listed) {
		/* the entry out of the source (another source's entry for it
		 * stays), the live build patched */
		struct srcq *q = srcq_new();
		struct st_ent e = { .del = 1 };

		st_set_prefix(&e, &p);
		rc = !q || srcq_push(q, &ip_lists[MXS_IPL_BLOCK], AUTO_SOURCE, &e, NULL) ||
			srcq_flush(c, q) ? 1 : 0;
		srcq_free(q);
		if (rc)
			return ctl_err("%s: its offences are forgotten, but its automatic block "
				       "could not be removed", a->pos[0]);
	}
	auto_addr_str(&p, ip);
	if (c->json) {
		jw_obj();
		jw_kstr("forgotten", ip);
		jw_kbool("unblocked", listed);
		jw_ku64("offences", removed);
		jw_end_obj();
	} else {
		printf("%s forgotten: %s, %d offence record%s removed\n", ip,
		       listed ? "its automatic block removed" : "no automatic block", removed,
		       removed == 1 ? "" : "s");
	}
	return 0;
}

static const char *const kinds[] = { "reject", "spam", "auth-fail", NULL };

static const struct cli_opt rule_add_opts[] = {
	{ "on", "KIND", "the evidence counted: reject (rejected recipients), spam (spam and "
	  "quarantine verdicts), auth-fail (failed SMTP AUTH)", kinds },
	{ "count", "N", "this many pieces of evidence from one source (1-1000) ..." },
	{ "within", "DURATION", "... within this sliding window (e.g. 10m) fire the rule" },
	{ "block", "DURATION", "the first block's length (e.g. 1h)" },
	{ "max", "DURATION", "each repeat offence doubles the block, up to this (default: "
	  "--block, no doubling)" },
	{ NULL }
};

/* auto rule add|list|del: one command whose first word says which (the
 * parser takes an object and one command; a rule is a thing of its own) */
static int do_rule(struct ctl *c, const struct cli_args *a)
{
	const char *w = a->pos[0];
	bool opts = false;

	for (int i = 0; rule_add_opts[i].name; i++)
		opts |= cli_opt(a, rule_add_opts[i].name) != NULL;
	if (!strcmp(w, "add")) {
		if (a->npos != 2)
			return cli_usage(a, "auto rule add NAME --on KIND --count N --within "
					 "DURATION --block DURATION [--max DURATION]");
		return do_rule_add(c, a);
	}
	if (opts)
		return cli_usage(a, "--on, --count, --within, --block and --max are for "
				 "'auto rule add'");
	if (!strcmp(w, "list")) {
		if (a->npos != 1)
			return cli_usage(a, "auto rule list takes no name");
		return do_rule_list(c, a);
	}
	if (!strcmp(w, "del")) {
		if (a->npos != 2)
			return cli_usage(a, "auto rule del NAME");
		return do_rule_del(c, a);
	}
	return cli_usage(a, "auto rule: '%s': expected add, list or del", w);
}

static const char *const rule_words[] = { "add", "list", "del", NULL };

static const struct cli_opt list_opts[] = {
	{ "all", NULL, "also the offences remembered whose block has expired" },
	{ NULL }
};

static const struct cli_cmd auto_cmds[] = {
	{ "rule", do_rule, "add|list|del [NAME]", 1, 2,
	  "The rules: 'rule add NAME --on KIND --count N --within W --block D [--max M]' adds "
	  "one (or changes the one of that name), 'rule list' lists them, 'rule del NAME' "
	  "deletes one (its blocks stay until they expire).", rule_add_opts, rule_words },
	{ "list", do_list, NULL, 0, 0,
	  "List the automatic blocks: address, rule, offence number, when, expiry, evidence.",
	  list_opts },
	{ "forget", do_forget, "IP", 1, 1,
	  "Forget a source: its automatic block and its offence history." },
	{ 0 }
};

const struct cli_obj obj_auto = {
	"auto", "automatic blocks from what the MTA sees (rules, blocks, offences)", auto_cmds,
	.section = SECTION_MTA,
};
