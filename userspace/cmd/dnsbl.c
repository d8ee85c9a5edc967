// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `mxshield dnsbl`: the DNS block and allow lists the policy service asks
 * about each client (docs/dnsbl.md), in postscreen's syntax and weights.
 * The commands change the state file "dnsbl"; a running policy service
 * reads it again at its next request (mta/dnsbl.c, mta/dnsbl_lookup.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../mta/dnsbl.h"
#include "objects.h"

/* "1h", "90s", "1d2h": the shortest of d/h/m/s that says @secs. */
static char *fmt_dur(int64_t secs, char *buf, size_t len)
{
	static const struct { char u; int64_t s; } units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	size_t n = 0;

	buf[0] = '\0';
	if (!secs)
		return snprintf(buf, len, "0s"), buf;
	for (int i = 0; i < 4; i++)
		if (secs >= units[i].s) {
			n += snprintf(buf + n, n < len ? len - n : 0, "%lld%c",
				      (long long)(secs / units[i].s), units[i].u);
			secs %= units[i].s;
		}
	return buf;
}

static int conf_read_locked(struct ctl *c, struct dnsbl_conf *cf)
{
	char err[MXS_ERRLEN + 4096];

	if (ctl_lock(c))
		return 1;
	if (dnsbl_conf_load(c, cf, err, sizeof(err)))
		return ctl_err("%s (fix or remove the file: nothing was changed)", err);
	return 0;
}

static void print_site_json(const struct dnsbl_site *s)
{
	char b[DNSBL_DOMAIN_MAX + 200];

	jw_obj();
	jw_kstr("site", dnsbl_site_str(s, b, sizeof(b)));
	jw_kstr("domain", s->domain);
	if (s->has_filter)
		jw_kstr("filter", s->filter);
	else
		jw_key("filter"), jw_null();
	jw_ki64("weight", s->weight);
	jw_kstr("kind", s->weight < 0 ? "allow" : "block");
	jw_end_obj();
}

/* dnsbl add SITE...: every SITE checked first; one write for all. An
 * entry with the same domain and filter gets the new weight. */
static int do_add(struct ctl *c, const struct cli_args *a)
{
	struct dnsbl_site add[CLI_MAX_POS];
	struct dnsbl_conf cf;
	bool updated[CLI_MAX_POS] = {};
	char err[MXS_ERRLEN], b[DNSBL_DOMAIN_MAX + 200];

	for (int i = 0; i < a->npos; i++)
		if (dnsbl_parse_site(a->pos[i], &add[i], err, sizeof(err)))
			return ctl_err("%s (nothing was changed)", err);
	if (conf_read_locked(c, &cf))
		return 1;
	for (int i = 0; i < a->npos; i++) {
		int k;

		for (k = 0; k < cf.n && !dnsbl_site_same(&cf.site[k], &add[i]); k++)
			;
		if (k == cf.n && cf.n == DNSBL_MAX_SITES)
			return ctl_err("%d sites at most (nothing was changed)", DNSBL_MAX_SITES);
		updated[i] = k < cf.n;
		cf.site[k] = add[i];
		if (k == cf.n)
			cf.n++;
	}
	if (dnsbl_conf_save(c, &cf))
		return 1;
	if (c->json) {
		jw_obj();
		jw_key("added");
		jw_arr();
		for (int i = 0; i < a->npos; i++)
			print_site_json(&add[i]);
		jw_end_arr();
		jw_ku64("sites", cf.n);
		jw_end_obj();
		return 0;
	}
	for (int i = 0; i < a->npos; i++)
		printf("dnsbl %s %s (%s)\n", dnsbl_site_str(&add[i], b, sizeof(b)),
		       updated[i] ? "updated" : "added",
		       add[i].weight < 0 ? "an allow list: its weight lowers the score" :
		       "a block list");
	return 0;
}

/* dnsbl del SITE: DOMAIN removes every entry of the domain; DOMAIN=FILTER
 * that entry; a *WEIGHT, when given, must be the entry's. */
static int do_del(struct ctl *c, const struct cli_args *a)
{
	struct dnsbl_site d;
	struct dnsbl_conf cf;
	char err[MXS_ERRLEN], b[DNSBL_DOMAIN_MAX + 200];
	bool weight_given = strchr(a->pos[0], '*') != NULL;
	int gone = 0, keep = 0;

	if (dnsbl_parse_site(a->pos[0], &d, err, sizeof(err)))
		return ctl_err("%s", err);
	if (conf_read_locked(c, &cf))
		return 1;
	if (c->json) {
		jw_obj();
		jw_key("deleted");
		jw_arr();
	}
	for (int i = 0; i < cf.n; i++) {
		const struct dnsbl_site *s = &cf.site[i];
		bool hit = !strcmp(s->domain, d.domain) && (!d.has_filter || dnsbl_site_same(s, &d)) &&
			   (!weight_given || s->weight == d.weight);

		if (!hit) {
			cf.site[keep++] = *s;
			continue;
		}
		gone++;
		if (c->json)
			print_site_json(s);
		else
			printf("dnsbl %s deleted\n", dnsbl_site_str(s, b, sizeof(b)));
	}
	if (c->json) {
		jw_end_arr();
		jw_end_obj();
	}
	if (!gone)
		return ctl_err("no DNSBL entry %s (see mxshield dnsbl list)", a->pos[0]);
	cf.n = keep;
	return dnsbl_conf_save(c, &cf);
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	struct dnsbl_conf cf;
	char err[MXS_ERRLEN + 4096], d1[32], d2[32], d3[32], b[DNSBL_DOMAIN_MAX + 200];

	if (ctl_lock_ro(c))
		return 1;
	if (dnsbl_conf_load(c, &cf, err, sizeof(err)))
		return ctl_err("%s", err);
	if (c->json) {
		jw_obj();
		jw_ki64("threshold", cf.threshold);
		jw_kstr("action", action_name(cf.action));
		jw_ki64("push_max_seconds", cf.push_max);
		jw_kbool("push", cf.push_max > 0);
		jw_ki64("timeout_ms", cf.timeout_ms);
		jw_ki64("min_ttl_seconds", cf.min_ttl);
		jw_ki64("max_ttl_seconds", cf.max_ttl);
		jw_key("sites");
		jw_arr();
		for (int i = 0; i < cf.n; i++)
			print_site_json(&cf.site[i]);
		jw_end_arr();
		jw_end_obj();
		return 0;
	}
	printf("threshold %d: %s", cf.threshold, action_name(cf.action));
	if (cf.push_max)
		printf(", and the source to the block list at the NIC for the DNS TTL, %s at most\n",
		       fmt_dur(cf.push_max, d1, sizeof(d1)));
	else
		printf("; no push to the NIC (--push-max 0)\n");
	printf("timeout %s (then fail open); answers cached for their TTL within %s..%s\n",
	       fmt_dur(cf.timeout_ms / 1000, d1, sizeof(d1)), fmt_dur(cf.min_ttl, d2, sizeof(d2)),
	       fmt_dur(cf.max_ttl, d3, sizeof(d3)));
	if (!cf.n) {
		printf("no sites (add one: mxshield dnsbl add zen.spamhaus.org=127.0.0.[2..11]*3)\n");
		return 0;
	}
	printf("%-56s %7s\n", "SITE", "WEIGHT");
	for (int i = 0; i < cf.n; i++) {
		struct dnsbl_site s = cf.site[i];

		s.weight = 1;	/* the site without its weight: the column has it */
		printf("%-56s %7d\n", dnsbl_site_str(&s, b, sizeof(b)), cf.site[i].weight);
	}
	return 0;
}

static int dur_opt(const struct cli_args *a, const char *name, bool zero_ok, int64_t *v)
{
	const char *s = cli_opt(a, name);
	char err[MXS_ERRLEN];

	if (!s)
		return 0;
	if (zero_ok && !strcmp(s, "0")) {
		*v = 0;
		return 0;
	}
	if (parse_duration(s, v, err, sizeof(err)))
		return cli_usage(a, "--%s: %s", name, err);
	if (!*v && !zero_ok)
		return cli_usage(a, "--%s: at least 1s", name);
	return 0;
}

/* dnsbl threshold SCORE [--action A] [--push-max D] */
static int do_threshold(struct ctl *c, const struct cli_args *a)
{
	struct dnsbl_conf cf;
	const char *act = cli_opt(a, "action");
	char err[MXS_ERRLEN], d[32], *end;
	int64_t push = -1;
	uint8_t action = 0;
	long th;
	int rc;

	th = strtol(a->pos[0], &end, 10);
	if (!a->pos[0][0] || *end || th < -DNSBL_WEIGHT_MAX || th > DNSBL_WEIGHT_MAX)
		return cli_usage(a, "SCORE: expected an integer from %d to %d, got '%s'",
				 -DNSBL_WEIGHT_MAX, DNSBL_WEIGHT_MAX, a->pos[0]);
	if (act && parse_action(act, &action, err, sizeof(err)))
		return cli_usage(a, "--action: %s", err);
	if ((rc = dur_opt(a, "push-max", true, &push)))
		return rc;
	if (conf_read_locked(c, &cf))
		return 1;
	cf.threshold = (int)th;
	if (act)
		cf.action = action;
	if (push >= 0)
		cf.push_max = push;
	if (dnsbl_conf_save(c, &cf))
		return 1;
	if (c->json) {
		jw_obj();
		jw_ki64("threshold", cf.threshold);
		jw_kstr("action", action_name(cf.action));
		jw_ki64("push_max_seconds", cf.push_max);
		jw_end_obj();
	} else if (cf.push_max) {
		printf("dnsbl threshold %d: %s, and the source blocked at the NIC for the DNS TTL, "
		       "%s at most\n", cf.threshold, action_name(cf.action),
		       fmt_dur(cf.push_max, d, sizeof(d)));
	} else {
		printf("dnsbl threshold %d: %s; no push to the NIC\n", cf.threshold,
		       action_name(cf.action));
	}
	return 0;
}

/* dnsbl set [--timeout D] [--min-ttl D] [--max-ttl D] */
static int do_set(struct ctl *c, const struct cli_args *a)
{
	struct dnsbl_conf cf;
	int64_t to = -1, lo = -1, hi = -1;
	char d1[32], d2[32], d3[32];
	int rc;

	if ((rc = dur_opt(a, "timeout", false, &to)) || (rc = dur_opt(a, "min-ttl", false, &lo)) ||
	    (rc = dur_opt(a, "max-ttl", false, &hi)))
		return rc;
	if (to > 600)
		return cli_usage(a, "--timeout: 600s at most (Postfix gives up on a policy "
				 "service after smtpd_policy_service_timeout, 100s)");
	if (to < 0 && lo < 0 && hi < 0)
		return cli_usage(a, "dnsbl set needs --timeout, --min-ttl or --max-ttl");
	if (conf_read_locked(c, &cf))
		return 1;
	if (to > 0)
		cf.timeout_ms = (int)to * 1000;
	if (lo > 0)
		cf.min_ttl = lo;
	if (hi > 0)
		cf.max_ttl = hi;
	if (cf.min_ttl > cf.max_ttl)
		return ctl_err("--min-ttl %s is above --max-ttl %s (nothing was changed)",
			       fmt_dur(cf.min_ttl, d1, sizeof(d1)), fmt_dur(cf.max_ttl, d2, sizeof(d2)));
	if (dnsbl_conf_save(c, &cf))
		return 1;
	if (c->json) {
		jw_obj();
		jw_ki64("timeout_ms", cf.timeout_ms);
		jw_ki64("min_ttl_seconds", cf.min_ttl);
		jw_ki64("max_ttl_seconds", cf.max_ttl);
		jw_end_obj();
	} else {
		printf("dnsbl timeout %s, answers cached for their TTL within %s..%s\n",
		       fmt_dur(cf.timeout_ms / 1000, d1, sizeof(d1)),
		       fmt_dur(cf.min_ttl, d2, sizeof(d2)), fmt_dur(cf.max_ttl, d3, sizeof(d3)));
	}
	return 0;
}

static const struct cli_opt threshold_opts[] = {
	{ "action", "ACTION", "what a request from a source at or above the threshold gets "
			      "(default reject)", cli_tag_actions },
	{ "push-max", "DURATION", "the source also goes to the block list (source \"dnsbl\") "
				  "until the DNS TTL ends, this long at most (default 1h); 0: "
				  "no push to the NIC" },
	{ NULL }
};

static const struct cli_opt set_opts[] = {
	{ "timeout", "DURATION", "how long a request waits for the lists (default 10s, as "
				 "postscreen); then it is answered without them (fail open)" },
	{ "min-ttl", "DURATION", "answers, listed or not, are cached at least this long "
				 "(default 60s)" },
	{ "max-ttl", "DURATION", "and at most this long (default 1h)" },
	{ NULL }
};

static const struct cli_cmd dnsbl_cmds[] = {
	{ "add", do_add, "SITE...", 1, CLI_MAX_POS,
	  "Ask a DNS list about each client, as postscreen_dnsbl_sites: "
	  "DOMAIN[=FILTER][*WEIGHT], e.g. zen.spamhaus.org=127.0.0.[2..11]*3; a negative "
	  "weight for an allow list (list.dnswl.org=127.0.[0..255].[1..3]*-4)." },
	{ "del", do_del, "SITE", 1, 1,
	  "Stop asking a list: DOMAIN removes each of its entries, DOMAIN=FILTER that one." },
	{ "list", do_list, NULL, 0, 0, "Show the sites, their weights and the settings." },
	{ "threshold", do_threshold, "SCORE", 1, 1,
	  "The score (sum of the weights of the lists that list a client) at which a "
	  "request gets the action, and the source is blocked at the NIC (default 1).",
	  threshold_opts },
	{ "set", do_set, NULL, 0, 0,
	  "How long a request waits for the lists, and the bounds of the answers' cache.",
	  set_opts },
	{ 0 }
};

const struct cli_obj obj_dnsbl = {
	"dnsbl", "DNS block and allow lists, asked by the policy service", dnsbl_cmds,
	.section = SECTION_MTA,
	.more = "The policy service asks each configured list about a client's address "
		"(IPv4 and IPv6) without blocking, caches the answers for their TTL, and sums "
		"the weights of the lists that match. At or above the threshold the request "
		"gets the action and, unless --push-max 0, the source goes to the block list's "
		"\"dnsbl\" source until the TTL ends, so its next connections are dropped at the "
		"NIC. Trusted, partner and gateway sources are never looked up. The resolver is "
		"the system's (/etc/resolv.conf). See docs/dnsbl.md.",
};
