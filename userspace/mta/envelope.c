// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Envelope-level lists and partner records: the model, the state file
 * ("envelope": kind, list, value, action, expires, comment, type), and the
 * CLI: sender|domain|tld|recipient|pattern add|del|list|import, org-domain.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../core/ctl.h"
#include "../core/utf8.h"
#include "../state/recfile.h"
#include "content.h"
#include "envelope.h"

static const char *const kind_names[ENV_KIND_MAX] = {
	"sender", "domain", "tld", "recipient", "pattern",
};
static const char *const elist_names[ENV_LIST_MAX] = { "allow", "block", "trust" };

/* Which lists each kind may be on. */
const uint8_t env_kind_lists[ENV_KIND_MAX] = {
	[ENV_SENDER] = 1 << ENV_ALLOW | 1 << ENV_BLOCK | 1 << ENV_TRUST,
	[ENV_DOMAIN] = 1 << ENV_ALLOW | 1 << ENV_BLOCK | 1 << ENV_TRUST,
	[ENV_TLD] = 1 << ENV_BLOCK,
	[ENV_RECIPIENT] = 1 << ENV_BLOCK,
	[ENV_PATTERN] = 1 << ENV_BLOCK,
};

const char *env_kind_name(int k) { return k >= 0 && k < ENV_KIND_MAX ? kind_names[k] : "?"; }
const char *env_list_name(int l) { return l >= 0 && l < ENV_LIST_MAX ? elist_names[l] : "?"; }

int env_kind_by_name(const char *s)
{
	for (int k = 0; k < ENV_KIND_MAX; k++)
		if (s && !strcmp(s, kind_names[k]))
			return k;
	return -1;
}

int env_list_by_name(const char *s)
{
	for (int l = 0; l < ENV_LIST_MAX; l++)
		if (s && !strcmp(s, elist_names[l]))
			return l;
	return -1;
}

static int parse_email(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *at = strrchr(in, '@');
	char dom[256];
	size_t ll;

	if (!at || at == in)
		return mxs_fail(err, errlen, "'%s': not an email address (local@domain)", in);
	ll = at - in;
	for (size_t i = 0; i < ll; i++)
		if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f || in[i] == '<' || in[i] == '>')
			return mxs_fail(err, errlen, "'%s': invalid character in the local part", in);
	if (ll > 64)
		return mxs_fail(err, errlen, "'%s': local part longer than 64 characters", in);
	if (parse_domain(at + 1, dom, sizeof(dom), err, errlen))
		return -1;
	if (ll + 1 + strlen(dom) + 1 > outlen)
		return mxs_fail(err, errlen, "'%s': too long", in);
	for (size_t i = 0; i < ll; i++)
		out[i] = tolower((unsigned char)in[i]);
	out[ll] = '@';
	strcpy(out + ll + 1, dom);
	return 0;
}

/*
 * An upper bound on the size of what glibc's regcomp() builds for the ERE
 * @re. It copies a repeated subexpression once per repetition ("x{2,5}"
 * holds five x's, "x+" is "xx*"), so nested or stacked repetitions
 * multiply: "a+++++++++++++++++++" or "((a{1,100}){1,100}){1,100}" are a
 * few characters that take a gigabyte and seconds to compile (found by
 * tests/fuzz/fuzz_envelope.c), in the CLI and in the policy service,
 * which compiles every pattern when the lists change. Counted: one per
 * atom (a character, an escape, a bracket expression) and per group, a
 * group's atoms summed over its alternatives, times the largest count of
 * the repetition that follows. Saturates at ENV_REGEX_MAX_COST + 1.
 *
 * Time grows faster still when what is repeated can match nothing:
 * "n*" followed by eleven '+' (2048 by the count above) takes a second,
 * each more '+' four times as long, and so do nested groups "((n*)+)+".
 * So two repetitions in a row (undefined in POSIX EREs anyway) and
 * repetitions nested more than ENV_REGEX_MAX_NEST deep count as too large.
 */
#define ENV_REGEX_MAX_COST 20000
#define ENV_REGEX_MAX_NEST 4

static long sat_mul(long a, long b)
{
	return a && b > (ENV_REGEX_MAX_COST + 1) / a ? ENV_REGEX_MAX_COST + 1 : a * b;
}

static long regex_cost(const char *re)
{
	/* per open group: its cost, the cost of its last atom, how deep
	 * repetitions nest inside it and in its last atom */
	struct { long sum, last; int nest, last_nest; } st[256];
	int depth = 0;
	bool after_rep = false;
	const char *p = re;

	memset(&st[0], 0, sizeof(st[0]));
	while (*p && st[depth].sum <= ENV_REGEX_MAX_COST) {
		long mult = 0;

		switch (*p) {
		case '(':
			if (++depth == (int)(sizeof(st) / sizeof(st[0])))
				return ENV_REGEX_MAX_COST + 1;
			memset(&st[depth], 0, sizeof(st[depth]));
			after_rep = false;
			p++;
			continue;
		case ')':
			if (depth) {
				long g = st[depth].sum + 1;
				int nest = st[depth--].nest;

				st[depth].sum += g;
				st[depth].last = g;
				st[depth].last_nest = nest;
				after_rep = false;
				p++;
				continue;
			}
			break;
		case '|':
			st[depth].last = 0;
			st[depth].last_nest = 0;
			after_rep = false;
			p++;
			continue;
		case '*':
		case '?':
			mult = 1;
			p++;
			break;
		case '+':
			mult = 2;
			p++;
			break;
		case '{': {
			char *end;
			long m = strtol(p + 1, &end, 10), n = m;

			if (!isdigit((unsigned char)p[1]))
				break;
			if (*end == ',' && isdigit((unsigned char)end[1])) {
				n = strtol(end + 1, &end, 10);
			} else if (*end == ',') {	/* "{m,}": m copies and a star */
				n = m < ENV_REGEX_MAX_COST ? m + 1 : m;
				end++;
			}
			if (m > ENV_REGEX_MAX_COST || n > ENV_REGEX_MAX_COST)
				return ENV_REGEX_MAX_COST + 1;	/* and no overflow */
			if (*end != '}')
				break;
			mult = n > m ? n : m;
			if (mult < 1)
				mult = 1;
			p = end + 1;
			break;
		}
		case '[':
			/* a bracket expression: "]" first is a member, and
			 * [:class:], [.coll.], [=equiv=] hold their own "]" */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
					const char *c = strchr(p + 2, p[1]);

					p = c && c[1] == ']' ? c + 2 : p + 1;
				} else {
					p++;
				}
			}
			if (*p)
				p++;
			st[depth].sum += 1;
			st[depth].last = 1;
			st[depth].last_nest = 0;
			after_rep = false;
			continue;
		case '\\':
			if (p[1])
				p++;
			break;
		}
		if (mult) {	/* the last atom or group, repeated */
			long extra = sat_mul(st[depth].last, mult - 1);

			if (after_rep || ++st[depth].last_nest > ENV_REGEX_MAX_NEST)
				return ENV_REGEX_MAX_COST + 1;
			if (st[depth].last_nest > st[depth].nest)
				st[depth].nest = st[depth].last_nest;
			st[depth].sum += extra;
			st[depth].last = sat_mul(st[depth].last, mult);
			after_rep = true;
			continue;
		}
		p++;	/* any other character: one atom */
		st[depth].sum += 1;
		st[depth].last = 1;
		st[depth].last_nest = 0;
		after_rep = false;
	}
	while (depth)	/* unclosed groups: regcomp() refuses them */
		st[depth - 1].sum += st[depth].sum, depth--;
	return st[0].sum > ENV_REGEX_MAX_COST ? ENV_REGEX_MAX_COST + 1 : st[0].sum;
}

/* regcomp() for a pattern, refusing one that would grow too large */
static int compile_pattern(regex_t *re, const char *in, char *err, size_t errlen)
{
	int rc;

	if (regex_cost(in) > ENV_REGEX_MAX_COST)
		return mxs_fail(err, errlen, "'%s': regular expression too large once its "
				"repetitions are expanded (nest them at most %d deep, none "
				"right after another)", in, ENV_REGEX_MAX_NEST);
	rc = regcomp(re, in, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (rc) {
		char m[128];

		regerror(rc, re, m, sizeof(m));
		return mxs_fail(err, errlen, "'%s': bad regular expression: %s", in, m);
	}
	return 0;
}

int env_parse_pattern(int field, bool regex, const char *in, char *out, size_t outlen,
		      char *err, size_t errlen)
{
	if (field == PAT_SENDER)
		return env_parse_value(ENV_PATTERN, regex, in, out, outlen, err, errlen);
	if (utf8_text_check("pattern", in, err, errlen))
		return -1;
	return content_pattern_parse(regex, in, out, outlen, err, errlen);
}

int env_parse_value(int kind, bool regex, const char *in, char *out, size_t outlen,
		    char *err, size_t errlen)
{
	/* values reach --json output and the policy log: text only */
	if (utf8_text_check(env_kind_name(kind), in, err, errlen))
		return -1;
	switch (kind) {
	case ENV_SENDER:
	case ENV_RECIPIENT:
		return parse_email(in, out, outlen, err, errlen);
	case ENV_DOMAIN:
		return parse_domain(in, out, outlen, err, errlen);
	case ENV_TLD: {
		const char *t = in[0] == '.' ? in + 1 : in;
		size_t n = strlen(t);

		if (n < 2 || n > 63 || n >= outlen)
			return mxs_fail(err, errlen, "'%s': a TLD is 2-63 characters", in);
		for (size_t i = 0; i < n; i++) {
			if (!isalnum((unsigned char)t[i]) && t[i] != '-')
				return mxs_fail(err, errlen, "'%s': a TLD is one label (letters, digits, '-')", in);
			out[i] = tolower((unsigned char)t[i]);
		}
		out[n] = '\0';
		return 0;
	}
	case ENV_PATTERN: {
		size_t n = strlen(in);

		if (!n || n >= outlen || n > 500)
			return mxs_fail(err, errlen, "'%s': patterns are 1-500 characters", in);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)in[i] < 0x20)
				return mxs_fail(err, errlen, "'%s': control character in pattern", in);
		if (regex) {
			regex_t re;

			if (compile_pattern(&re, in, err, errlen))
				return -1;
			regfree(&re);
			strcpy(out, in);	/* regex: kept as written */
		} else {
			for (size_t i = 0; i <= n; i++)
				out[i] = tolower((unsigned char)in[i]);
		}
		return 0;
	}
	}
	return mxs_fail(err, errlen, "%s: unknown kind", in);
}

bool domain_within(const char *domain, const char *d)
{
	size_t a = strlen(domain), b = strlen(d);

	if (a == b)
		return strcasecmp(domain, d) == 0;
	return a > b && domain[a - b - 1] == '.' && strcasecmp(domain + a - b, d) == 0;
}

bool cert_name_match(const char *pattern, const char *name)
{
	const char *dot;

	if (!pattern || !*pattern || !name || !*name)
		return false;
	if (strncmp(pattern, "*.", 2))
		return strcasecmp(pattern, name) == 0;
	/* "*.example.com": exactly one non-empty label before ".example.com" */
	dot = strchr(name, '.');
	return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
}

/* --------------------------------------------------------------- loading */

char **env_split_csv(const char *s, int *n)
{
	char *copy = strdup(s ? s : ""), *save, *tok, **v = NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		v = realloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = strdup(tok);
	}
	free(copy);
	return v;
}

void env_free_strv(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void partner_free(struct partner *p)
{
	free(p->ips);
	env_free_strv(p->domains, p->ndomains);
	memset(p, 0, sizeof(*p));
}

int partner_from_rec(const struct rec *r, struct partner *p, char *err, size_t errlen)
{
	const char *v;
	char **ips;
	int n;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", rec_get(r, "name") ? : "");
	p->id = strtoul(rec_get(r, "id") ? : "0", NULL, 10);
	ips = env_split_csv(rec_get(r, "ip"), &n);
	p->ips = calloc(n ? n : 1, sizeof(*p->ips));
	for (int i = 0; i < n; i++) {
		if (parse_prefix(ips[i], &p->ips[i], err, errlen)) {
			env_free_strv(ips, n);
			partner_free(p);
			return -1;
		}
	}
	p->nips = n;
	env_free_strv(ips, n);
	p->domains = env_split_csv(rec_get(r, "domain"), &p->ndomains);
	p->lock_domain = (v = rec_get(r, "lock_domain")) && !strcmp(v, "yes");
	p->tls_require = (v = rec_get(r, "tls")) && !strcmp(v, "require");
	snprintf(p->cert_name, sizeof(p->cert_name), "%s", rec_get(r, "cert_name") ? : "");
	if ((v = rec_get(r, "skip"))) {
		if (strstr(v, "spam"))
			p->skip |= PARTNER_SKIP_SPAM;
		if (strstr(v, "policy"))
			p->skip |= PARTNER_SKIP_POLICY;
	}
	return 0;
}

void env_free(struct env_set *s)
{
	for (int i = 0; i < s->n; i++) {
		if (s->e[i].kind == ENV_PATTERN && s->e[i].regex && s->e[i].field == PAT_SENDER)
			regfree(&s->e[i].re);
		free(s->e[i].value);
	}
	free(s->e);
	for (int i = 0; i < s->np; i++)
		partner_free(&s->p[i]);
	free(s->p);
	env_free_strv(s->org, s->norg);
	lang_free(&s->lang);
	memset(s, 0, sizeof(*s));
}

int env_load(const struct ctl *c, struct env_set *s, char *err, size_t errlen)
{
	struct recfile f;
	char e2[MXS_ERRLEN];
	int64_t now = time(NULL);

	memset(s, 0, sizeof(*s));
	{
		char p[4096];

		state_path(c, ST_ENVELOPE, p, sizeof(p));
		if (state_read(p, &f, err, errlen))
			return -1;
	}
	s->e = calloc(f.n ? f.n : 1, sizeof(*s->e));
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];
		struct env_entry *e = &s->e[s->n];
		const char *t = rec_get(r, "type"), *exp = rec_get(r, "expires");
		const char *fld = rec_get(r, "field");
		int k = env_kind_by_name(rec_get(r, "kind"));
		int l = env_list_by_name(rec_get(r, "list"));
		/* no field: a sender pattern (state from before subject and
		 * content patterns) */
		int fi = fld ? pat_field_by_name(fld) : PAT_SENDER;

		if (k < 0 || l < 0 || !rec_get(r, "value") || fi < 0) {
			snprintf(err, errlen, "envelope:%d: bad record", r->line);
			goto bad;
		}
		e->field = k == ENV_PATTERN ? fi : PAT_SENDER;
		e->kind = k;
		e->list = l;
		e->expires = exp ? strtoll(exp, NULL, 10) : 0;
		if (e->expires && e->expires <= now)
			continue;
		e->action = MXS_ACT_NONE;
		if (l == ENV_BLOCK && parse_action(rec_get(r, "action") ? : "reject", &e->action,
						   e2, sizeof(e2))) {
			snprintf(err, errlen, "envelope:%d: %s", r->line, e2);
			goto bad;
		}
		/* only patterns are regular expressions: a "type" on another
		 * kind compiled one that env_free() never freed */
		e->regex = k == ENV_PATTERN && t && !strcmp(t, "regex");
		e->value = strdup(rec_get(r, "value"));
		/* the milter compiles subject and content regexes (PCRE2) */
		if (e->regex && e->field == PAT_SENDER &&
		    compile_pattern(&e->re, e->value, e2, sizeof(e2))) {
			snprintf(err, errlen, "envelope:%d: %s", r->line, e2);
			free(e->value);
			goto bad;
		}
		s->n++;
	}
	recfile_free(&f);

	if (ctl_read(c, ST_PARTNERS, &f))
		goto fail_quiet;
	s->p = calloc(f.n ? f.n : 1, sizeof(*s->p));
	for (int i = 0; i < f.n; i++) {
		if (partner_from_rec(&f.r[i], &s->p[s->np], e2, sizeof(e2))) {
			snprintf(err, errlen, "partners:%d: %s", f.r[i].line, e2);
			goto bad;
		}
		s->np++;
	}
	recfile_free(&f);

	if (ctl_read(c, ST_SETTINGS, &f))
		goto fail_quiet;
	s->org = env_split_csv(f.n ? rec_get(&f.r[0], "org_domains") : NULL, &s->norg);
	{
		const char *ce = f.n ? rec_get(&f.r[0], "content_empty") : NULL;

		s->empty_action = MXS_ACT_NONE;
		if (ce && strcmp(ce, "off") && parse_action(ce, &s->empty_action, e2, sizeof(e2))) {
			snprintf(err, errlen, "settings: content_empty: %s", e2);
			recfile_free(&f);
			env_free(s);
			return -1;
		}
	}
	recfile_free(&f);
	if (lang_load(c, &s->lang, err, errlen)) {
		env_free(s);
		return -1;
	}
	return 0;
bad:
	recfile_free(&f);
	env_free(s);
	return -1;
fail_quiet:
	snprintf(err, errlen, "cannot read the state directory");
	env_free(s);
	return -1;
}

/* ------------------------------------------------------------------- CLI */
