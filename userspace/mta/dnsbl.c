// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * DNSBL and DNSWL sites in postscreen's syntax: the parser, the reply
 * matcher, the query names, the score, and the state file.
 *
 * The state file "dnsbl" (state/recfile.h: checksummed, written whole and
 * atomically) holds one record per site and one for the settings:
 *
 *   site=zen.spamhaus.org=127.0.0.[2..11]*3
 *   threshold=3	action=reject	push_max=3600	timeout_ms=10000	min_ttl=60	max_ttl=3600
 *
 * A site is kept as the admin wrote it (the filter's text) and parsed
 * again at each load, so the file stays readable and a bad edit is an
 * error with its line, never a site quietly dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "../state/recfile.h"
#include "dnsbl.h"

void dnsbl_conf_init(struct dnsbl_conf *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->threshold = DNSBL_DEF_THRESHOLD;
	cf->action = MXS_ACT_REJECT;
	cf->push_max = DNSBL_DEF_PUSH_MAX;
	cf->timeout_ms = DNSBL_DEF_TIMEOUT_MS;
	cf->min_ttl = DNSBL_DEF_MIN_TTL;
	cf->max_ttl = DNSBL_DEF_MAX_TTL;
}

/* ---------------------------------------------------------------- filter */

static void bit_set(struct dnsbl_filter *f, int octet, int v)
{
	f->bits[octet][v / 64] |= 1ULL << (v % 64);
}

bool dnsbl_filter_match(const struct dnsbl_filter *f, const uint8_t a[4])
{
	for (int i = 0; i < 4; i++)
		if (!(f->bits[i][a[i] / 64] & (1ULL << (a[i] % 64))))
			return false;
	return true;
}

/* A number 0-255 at *p (advanced past it): 0, or -1. */
static int octet_num(const char **p, int *v)
{
	int n = 0, digits = 0;

	while (isdigit((unsigned char)**p)) {
		n = n * 10 + (**p - '0');
		if (n > 255)
			return -1;
		(*p)++;
		digits++;
	}
	if (!digits)
		return -1;
	*v = n;
	return 0;
}

/* Where a filter fails, shown as postscreen does: the text with the bad
 * part between > and <. */
static int filter_fail(char *err, size_t errlen, const char *s, const char *at,
		       const char *what)
{
	size_t off = at - s;
	size_t len = *at ? 1 : 0;

	return mxs_fail(err, errlen, "filter '%s': %s at \"%.*s>%.*s<%s\"", s, what, (int)off, s,
			(int)len, at, *at ? at + 1 : "");
}

int dnsbl_parse_filter(const char *s, struct dnsbl_filter *f, char *err, size_t errlen)
{
	const char *p = s, *end;
	char buf[160];

	memset(f, 0, sizeof(*f));
	if (!*s)
		return mxs_fail(err, errlen, "empty filter after '=' (expected an address pattern "
				"such as 127.0.0.2 or 127.0.0.[2..11])");
	if (strlen(s) >= sizeof(buf))
		return mxs_fail(err, errlen, "filter '%.40s...': too long", s);
	/* the whole pattern may be inside one more pair of brackets */
	if (s[0] == '[') {
		int level = 0;

		for (end = s; *end; end++) {
			if (*end == '[')
				level++;
			else if (*end == ']' && --level == 0)
				break;
		}
		if (!*end)
			return mxs_fail(err, errlen, "filter '%s': missing ']'", s);
		if (!end[1]) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(end - s - 1), s + 1);
			if (!strchr(buf, '['))
				return dnsbl_parse_filter(buf, f, err, errlen);
		}
	}
	for (int octet = 0; octet < 4; octet++) {
		int v, hi;

		if (isdigit((unsigned char)*p)) {
			if (octet_num(&p, &v))
				return filter_fail(err, errlen, s, p, "need a number 0..255");
			bit_set(f, octet, v);
		} else if (*p == '[') {
			p++;
			for (;;) {
				if (octet_num(&p, &v))
					return filter_fail(err, errlen, s, p,
							   "need a number 0..255 inside []");
				hi = v;
				if (p[0] == '.' && p[1] == '.') {
					const char *at = p;

					p += 2;
					if (octet_num(&p, &hi) || hi < v)
						return filter_fail(err, errlen, s, at,
								   "a range is N..M with N <= M <= 255");
				}
				for (int x = v; x <= hi; x++)
					bit_set(f, octet, x);
				if (*p == ';') {
					p++;
					continue;
				}
				if (*p == ']') {
					p++;
					break;
				}
				return filter_fail(err, errlen, s, p, *p == ',' ?
						   "separate values with ';' (a ',' separates sites)" :
						   "need ';' or ']'");
			}
		} else {
			return filter_fail(err, errlen, s, p, "need a number 0..255 or '['");
		}
		if (octet < 3) {
			if (*p != '.')
				return filter_fail(err, errlen, s, p, *p ? "need '.'" :
						   "need four fields, as in 127.0.0.2");
			p++;
		} else if (*p) {
			return filter_fail(err, errlen, s, p, "garbage after the fourth field");
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ sites */

int dnsbl_parse_site(const char *s, struct dnsbl_site *site, char *err, size_t errlen)
{
	char buf[DNSBL_DOMAIN_MAX + 200], e2[MXS_ERRLEN];
	char *star, *eq;

	memset(site, 0, sizeof(*site));
	site->weight = 1;
	if (!s || !*s)
		return mxs_fail(err, errlen, "empty site (expected DOMAIN[=FILTER][*WEIGHT])");
	if (strlen(s) >= sizeof(buf))
		return mxs_fail(err, errlen, "'%.60s...': too long for a site", s);
	snprintf(buf, sizeof(buf), "%s", s);
	/* as postscreen: the weight after the last '*', then the filter
	 * after the first '=' */
	star = strrchr(buf, '*');
	if (star) {
		char *end;
		long w;

		*star = '\0';
		errno = 0;
		w = strtol(star + 1, &end, 10);
		if (!star[1] || *end || errno || isspace((unsigned char)star[1]) ||
		    w < -DNSBL_WEIGHT_MAX || w > DNSBL_WEIGHT_MAX)
			return mxs_fail(err, errlen, "'%s': bad weight '%s' (expected an integer "
					"from %d to %d, negative for an allow list)", s, star + 1,
					-DNSBL_WEIGHT_MAX, DNSBL_WEIGHT_MAX);
		site->weight = (int)w;
	}
	eq = strchr(buf, '=');
	if (eq) {
		*eq = '\0';
		if (dnsbl_parse_filter(eq + 1, &site->f, e2, sizeof(e2)))
			return mxs_fail(err, errlen, "'%s': %s", s, e2);
		site->has_filter = true;
		snprintf(site->filter, sizeof(site->filter), "%s", eq + 1);
	}
	if (parse_domain(buf, site->domain, sizeof(site->domain), e2, sizeof(e2)))
		return mxs_fail(err, errlen, "'%s': bad DNSBL domain: %s", s, e2);
	if (!strchr(site->domain, '.'))
		return mxs_fail(err, errlen, "'%s': a DNSBL domain has at least two labels "
				"(zen.spamhaus.org)", s);
	return 0;
}

char *dnsbl_site_str(const struct dnsbl_site *site, char *buf, size_t len)
{
	char w[16] = "";

	if (site->weight != 1)
		snprintf(w, sizeof(w), "*%d", site->weight);
	snprintf(buf, len, "%s%s%s%s", site->domain, site->has_filter ? "=" : "", site->filter, w);
	return buf;
}

bool dnsbl_site_same(const struct dnsbl_site *a, const struct dnsbl_site *b)
{
	return !strcmp(a->domain, b->domain) && a->has_filter == b->has_filter &&
	       (!a->has_filter || !memcmp(&a->f, &b->f, sizeof(a->f)));
}

bool dnsbl_reply_is_error(const uint8_t a[4])
{
	return a[0] == 127 && a[1] == 255 && a[2] == 255;
}

bool dnsbl_site_matches(const struct dnsbl_site *site, const uint8_t a[4])
{
	if (dnsbl_reply_is_error(a))
		return false;
	return !site->has_filter || dnsbl_filter_match(&site->f, a);
}

int dnsbl_qname(const struct mxs_prefix *addr, const char *domain, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	int w;

	if (!addr->v6) {
		w = snprintf(buf, len, "%u.%u.%u.%u.%s", addr->addr[3], addr->addr[2],
			     addr->addr[1], addr->addr[0], domain);
		return w < 0 || (size_t)w >= len ? -1 : 0;
	}
	if (len < 64 + strlen(domain) + 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		buf[n++] = hex[addr->addr[i] & 15];
		buf[n++] = '.';
		buf[n++] = hex[addr->addr[i] >> 4];
		buf[n++] = '.';
	}
	snprintf(buf + n, len - n, "%s", domain);
	return 0;
}

void dnsbl_score(const struct dnsbl_conf *cf,
		 const struct dnsbl_answer *(*answer_of)(const char *domain, void *arg), void *arg,
		 struct dnsbl_score *out)
{
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < cf->n; i++) {
		const struct dnsbl_site *st = &cf->site[i];
		const struct dnsbl_answer *an = answer_of(st->domain, arg);
		int hit = -1;

		if (!an || an->status == DNSBL_FAILED) {
			out->failed = true;
			continue;
		}
		for (int k = 0; an->status == DNSBL_LISTED && k < an->n && hit < 0; k++)
			if (dnsbl_site_matches(st, an->a[k]))
				hit = k;
		if (hit < 0)
			continue;
		out->score += st->weight;
		out->matched++;
		if (st->weight > 0 && (!out->ttl || an->ttl < out->ttl))
			out->ttl = an->ttl;
		{
			char w[16] = "";

			if (st->weight != 1)
				snprintf(w, sizeof(w), "*%d", st->weight);
			n += snprintf(out->why + n, n < sizeof(out->why) ? sizeof(out->why) - n : 0,
				      "%s%s=%u.%u.%u.%u%s", n ? " " : "", st->domain, an->a[hit][0],
				      an->a[hit][1], an->a[hit][2], an->a[hit][3], w);
		}
	}
}

/* ------------------------------------------------------------ the file */

static int num_field(const struct rec *r, const char *key, int64_t lo, int64_t hi, int64_t *v,
		     char *err, size_t errlen, const char *path)
{
	const char *s = rec_get(r, key);
	char *end;
	long long x;

	if (!s)
		return 0;	/* not there: the default */
	errno = 0;
	x = strtoll(s, &end, 10);
	if (!*s || *end || errno || x < lo || x > hi)
		return mxs_fail(err, errlen, "%s:%d: %s=%s: expected a number from %lld to %lld",
				path, r->line, key, s, (long long)lo, (long long)hi);
	*v = x;
	return 0;
}

int dnsbl_conf_load(const struct ctl *c, struct dnsbl_conf *cf, char *err, size_t errlen)
{
	char path[PATH_MAX], e2[MXS_ERRLEN + 64];
	struct recfile f;
	int rc = -1;

	dnsbl_conf_init(cf);
	state_path(c, ST_DNSBL, path, sizeof(path));
	if (state_read(path, &f, err, errlen))
		return -1;
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];
		const char *site = rec_get(r, "site"), *act = rec_get(r, "action");

		if (site) {
			if (cf->n >= DNSBL_MAX_SITES) {
				mxs_fail(err, errlen, "%s:%d: more than %d sites", path, r->line,
					 DNSBL_MAX_SITES);
				goto out;
			}
			if (dnsbl_parse_site(site, &cf->site[cf->n], e2, sizeof(e2))) {
				mxs_fail(err, errlen, "%s:%d: %s", path, r->line, e2);
				goto out;
			}
			cf->n++;
			continue;
		}
		{
			int64_t th = cf->threshold, to = cf->timeout_ms;

			if (num_field(r, "threshold", -DNSBL_WEIGHT_MAX, DNSBL_WEIGHT_MAX, &th, err,
				      errlen, path) ||
			    num_field(r, "push_max", 0, 365 * 86400LL, &cf->push_max, err, errlen,
				      path) ||
			    num_field(r, "timeout_ms", 100, 600000, &to, err, errlen, path) ||
			    num_field(r, "min_ttl", 1, 365 * 86400LL, &cf->min_ttl, err, errlen,
				      path) ||
			    num_field(r, "max_ttl", 1, 365 * 86400LL, &cf->max_ttl, err, errlen,
				      path))
				goto out;
			cf->threshold = (int)th;
			cf->timeout_ms = (int)to;
		}
		if (act && (parse_action(act, &cf->action, e2, sizeof(e2)) ||
			    cf->action == MXS_ACT_DROP)) {
			mxs_fail(err, errlen, "%s:%d: action=%s: expected reject, quarantine or spam",
				 path, r->line, act);
			goto out;
		}
	}
	if (cf->min_ttl > cf->max_ttl) {
		mxs_fail(err, errlen, "%s: min_ttl %lld is above max_ttl %lld", path,
			 (long long)cf->min_ttl, (long long)cf->max_ttl);
		goto out;
	}
	rc = 0;
out:
	recfile_free(&f);
	return rc;
}

int dnsbl_conf_save(const struct ctl *c, const struct dnsbl_conf *cf)
{
	struct recfile f = {};
	struct rec *r;
	char b[64];
	int rc;

	r = recfile_add(&f);
	snprintf(b, sizeof(b), "%d", cf->threshold);
	rec_set(r, "threshold", b);
	rec_set(r, "action", action_name(cf->action));
	snprintf(b, sizeof(b), "%lld", (long long)cf->push_max);
	rec_set(r, "push_max", b);
	snprintf(b, sizeof(b), "%d", cf->timeout_ms);
	rec_set(r, "timeout_ms", b);
	snprintf(b, sizeof(b), "%lld", (long long)cf->min_ttl);
	rec_set(r, "min_ttl", b);
	snprintf(b, sizeof(b), "%lld", (long long)cf->max_ttl);
	rec_set(r, "max_ttl", b);
	for (int i = 0; i < cf->n; i++) {
		char s[DNSBL_DOMAIN_MAX + 200];

		rec_set(recfile_add(&f), "site", dnsbl_site_str(&cf->site[i], s, sizeof(s)));
	}
	rc = ctl_write(c, ST_DNSBL, &f);
	recfile_free(&f);
	return rc;
}
