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
#include "envelope.h"
#include "input.h"
#include "utf8.h"

static const char *const kind_names[ENV_KIND_MAX] = {
	"sender", "domain", "tld", "recipient", "pattern",
};
static const char *const elist_names[ENV_LIST_MAX] = { "allow", "block", "trust" };

/* Which lists each kind may be on. */
static const uint8_t kind_lists[ENV_KIND_MAX] = {
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

static char **split_csv(const char *s, int *n)
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

static void free_strv(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void partner_free(struct partner *p)
{
	free(p->ips);
	free_strv(p->domains, p->ndomains);
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
	ips = split_csv(rec_get(r, "ip"), &n);
	p->ips = calloc(n ? n : 1, sizeof(*p->ips));
	for (int i = 0; i < n; i++) {
		if (parse_prefix(ips[i], &p->ips[i], err, errlen)) {
			free_strv(ips, n);
			partner_free(p);
			return -1;
		}
	}
	p->nips = n;
	free_strv(ips, n);
	p->domains = split_csv(rec_get(r, "domain"), &p->ndomains);
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
		if (s->e[i].kind == ENV_PATTERN && s->e[i].regex)
			regfree(&s->e[i].re);
		free(s->e[i].value);
	}
	free(s->e);
	for (int i = 0; i < s->np; i++)
		partner_free(&s->p[i]);
	free(s->p);
	free_strv(s->org, s->norg);
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
		int k = env_kind_by_name(rec_get(r, "kind"));
		int l = env_list_by_name(rec_get(r, "list"));

		if (k < 0 || l < 0 || !rec_get(r, "value")) {
			snprintf(err, errlen, "envelope:%d: bad record", r->line);
			goto bad;
		}
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
		if (e->regex && compile_pattern(&e->re, e->value, e2, sizeof(e2))) {
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
	s->org = split_csv(f.n ? rec_get(&f.r[0], "org_domains") : NULL, &s->norg);
	recfile_free(&f);
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

static int find_entry(const struct recfile *f, int kind, int list, const char *value)
{
	for (int i = 0; i < f->n; i++) {
		const struct rec *r = &f->r[i];

		if (env_kind_by_name(rec_get(r, "kind")) == kind &&
		    (list < 0 || env_list_by_name(rec_get(r, "list")) == list) &&
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
	org = split_csv(f.n ? rec_get(&f.r[0], "org_domains") : NULL, &n);
	for (int i = 0; i < n && !rc; i++) {
		const char *dot = strrchr(org[i], '.');

		if (!strcasecmp(dot ? dot + 1 : org[i], tld)) {
			snprintf(err, errlen, "refusing to block .%s: it is the TLD of the "
				 "organisation's own domain %s", tld, org[i]);
			rc = -1;
		}
	}
	free_strv(org, n);
	recfile_free(&f);
	return rc;
}

struct env_add {
	int kind, list;
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

	if (!(kind_lists[a->kind] & (1 << a->list))) {
		snprintf(err, errlen, "%s entries can't be on the %s list", env_kind_name(a->kind),
			 env_list_name(a->list));
		return -1;
	}
	if (env_parse_value(a->kind, a->regex, raw, val, sizeof(val), err, errlen))
		return -1;
	if (a->comment && utf8_text_check("comment", a->comment, err, errlen))
		return -1;
	if (a->kind == ENV_TLD && check_tld_allowed(c, val, err, errlen))
		return -1;
	i = find_entry(f, a->kind, a->list, val);
	r = i >= 0 ? &f->r[i] : recfile_add(f);
	rec_set(r, "kind", env_kind_name(a->kind));
	rec_set(r, "list", env_list_name(a->list));
	rec_set(r, "value", val);
	if (a->list == ENV_BLOCK)
		rec_set(r, "action", action_name(a->action));
	if (a->kind == ENV_PATTERN)
		rec_set(r, "type", a->regex ? "regex" : "text");
	snprintf(num, sizeof(num), "%lld", (long long)a->expires);
	rec_set(r, "expires", num);
	rec_set(r, "comment", a->comment ? a->comment : "");
	return 0;
}

static int opts_to_add(int kind, const char *list, const char *action, const char *type,
		       const char *expires, const char *comment, struct env_add *a)
{
	char err[MXS_ERRLEN];
	int64_t secs;

	memset(a, 0, sizeof(*a));
	a->kind = kind;
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
	if (expires) {
		if (parse_duration(expires, &secs, err, sizeof(err)))
			return ctl_err("%s", err);
		a->expires = time(NULL) + secs;
	}
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
			if (env_kind_by_name(rec_get(&f->r[i], "kind")) == kind &&
			    env_list_by_name(rec_get(&f->r[i], "list")) == defaults->list) {
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
		 * default, the comment keeps its commas; a regex may contain
		 * commas: the whole line */
		for (char *q = p; q && nc < 4; nc++) {
			if (kind == ENV_PATTERN && a.regex) {
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
		if (nc > 2 && *cols[2]) {
			int64_t secs;

			if (parse_duration(cols[2], &secs, err, sizeof(err))) {
				ctl_err("%s:%ld: %s", path, rd.lineno, err);
				bad++;
				continue;
			}
			a.expires = time(NULL) + secs;
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

int cmd_envelope(struct ctl *c, const char *obj, int argc, char **argv)
{
	static const char *const opts[] = { "list", "action", "type", "expires", "comment",
					    "?replace", "?allow-empty", NULL };
	int kind = env_kind_by_name(obj), rc = 1, added = 0, removed = 0, i;
	struct cmd_args a;
	struct env_add ea;
	struct recfile f;
	char err[MXS_ERRLEN], val[600];
	const char *verb = argc ? argv[0] : "";

	if (get_args(argc, argv, opts, 1, &a))
		return ctl_err("usage: mxshield %s add|del|list|import ...", obj);
	if ((strcmp(verb, "list") ? ctl_lock(c) : ctl_lock_ro(c)) || ctl_read(c, ST_ENVELOPE, &f))
		return 1;
	if (!strcmp(verb, "list") && a.npos == 0) {
		int want = arg(&a, opts, "list") ? env_list_by_name(arg(&a, opts, "list")) : -1;

		if (c->json)
			jw_arr();
		for (i = 0; i < f.n; i++) {
			const struct rec *r = &f.r[i];

			if (env_kind_by_name(rec_get(r, "kind")) != kind ||
			    (want >= 0 && env_list_by_name(rec_get(r, "list")) != want))
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

				printf("%-6s %-40s %-11s %-16s %s\n", rec_get(r, "list"),
				       rec_get(r, "value"), rec_get(r, "action") ? : "",
				       e ? fmt_remaining(e, exp, sizeof(exp)) : "never",
				       rec_get(r, "comment") ? : "");
			}
		}
		if (c->json)
			jw_end_arr();
		rc = 0;
		goto out;
	}
	if (a.npos != 1) {
		ctl_err("usage: mxshield %s add|del|import VALUE|FILE [options]", obj);
		goto out;
	}
	if ((arg(&a, opts, "replace") || arg(&a, opts, "allow-empty")) && strcmp(verb, "import")) {
		ctl_err("--replace and --allow-empty are for import");
		goto out;
	}
	if (arg(&a, opts, "allow-empty") && !arg(&a, opts, "replace")) {
		ctl_err("--allow-empty goes with --replace");
		goto out;
	}
	if (!strcmp(verb, "add") || !strcmp(verb, "import")) {
		if (opts_to_add(kind, arg(&a, opts, "list"), arg(&a, opts, "action"),
				arg(&a, opts, "type"), arg(&a, opts, "expires"),
				arg(&a, opts, "comment"), &ea))
			goto out;
		if (!strcmp(verb, "add")) {
			if (env_put(c, &f, &ea, a.pos[0], err, sizeof(err))) {
				ctl_err("%s", err);
				goto out;
			}
			added = 1;
		} else if (env_import(c, kind, &f, a.pos[0], &ea, arg(&a, opts, "replace") != NULL,
				      arg(&a, opts, "allow-empty") != NULL, &added, &removed)) {
			goto out;
		}
		if (ctl_write(c, ST_ENVELOPE, &f))
			goto out;
		if (c->json && !strcmp(verb, "import")) {
			jw_obj();
			jw_kstr("kind", obj);
			jw_kstr("list", env_list_name(ea.list));
			jw_ku64("imported", added);
			jw_ku64("removed", removed);
			jw_end_obj();
		} else if (!c->json) {
			printf("%s: %d entr%s on the %s list", obj, added, added == 1 ? "y" : "ies",
			       env_list_name(ea.list));
			if (removed)
				printf(" (%d replaced entr%s removed first)", removed,
				       removed == 1 ? "y" : "ies");
			putchar('\n');
		}
		rc = 0;
	} else if (!strcmp(verb, "del")) {
		const char *l = arg(&a, opts, "list");
		int list = l ? env_list_by_name(l) : -1;

		if (env_parse_value(kind, true, a.pos[0], val, sizeof(val), err, sizeof(err)) &&
		    env_parse_value(kind, false, a.pos[0], val, sizeof(val), err, sizeof(err))) {
			/* a value no longer valid (a hand-edited state file, an
			 * older controller) can still be deleted as written */
			i = find_entry(&f, kind, list, a.pos[0]);
			if (i < 0) {
				ctl_err("%s", err);
				goto out;
			}
		} else {
			i = find_entry(&f, kind, list, val);
		}
		if (i < 0 && kind == ENV_PATTERN)
			i = find_entry(&f, kind, list, a.pos[0]);
		if (i < 0) {
			ctl_err("%s '%s' is not listed", obj, a.pos[0]);
			goto out;
		}
		recfile_del(&f, i);
		if (ctl_write(c, ST_ENVELOPE, &f))
			goto out;
		if (!c->json)
			printf("%s deleted %s\n", obj, a.pos[0]);
		rc = 0;
	} else {
		ctl_err("%s: unknown command '%s' (add, del, list, import)", obj, verb);
	}
out:
	recfile_free(&f);
	return rc;
}

int cmd_org(struct ctl *c, int argc, char **argv)
{
	struct recfile s, e;
	char dom[256], err[MXS_ERRLEN], list[4096] = "";
	char **v;
	int n, rc = 1;

	if (argc < 1 || (strcmp(argv[0], "list") && argc != 2))
		return ctl_err("usage: mxshield org-domain add|del DOMAIN | list");
	if ((strcmp(argv[0], "list") ? ctl_lock(c) : ctl_lock_ro(c)) ||
	    ctl_read(c, ST_SETTINGS, &s))
		return 1;
	v = split_csv(s.n ? rec_get(&s.r[0], "org_domains") : NULL, &n);
	if (!strcmp(argv[0], "list")) {
		if (c->json)
			jw_arr();
		for (int i = 0; i < n; i++)
			c->json ? jw_str(v[i]) : (void)printf("%s\n", v[i]);
		if (c->json)
			jw_end_arr();
		rc = 0;
		goto out;
	}
	if (parse_domain(argv[1], dom, sizeof(dom), err, sizeof(err))) {
		ctl_err("%s", err);
		goto out;
	}
	if (!strcmp(argv[0], "add")) {
		const char *dot = strrchr(dom, '.');

		if (ctl_read(c, ST_ENVELOPE, &e))
			goto out;
		if (find_entry(&e, ENV_TLD, ENV_BLOCK, dot ? dot + 1 : dom) >= 0) {
			ctl_err("the TLD of %s is blocked: delete that tld entry first", dom);
			recfile_free(&e);
			goto out;
		}
		recfile_free(&e);
	} else if (strcmp(argv[0], "del")) {
		ctl_err("usage: mxshield org-domain add|del DOMAIN | list");
		goto out;
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
	if (!strcmp(argv[0], "add")) {
		if (*list)
			strcat(list, ",");
		strcat(list, dom);
	}
	rec_set(s.n ? &s.r[0] : recfile_add(&s), "org_domains", list);
	rc = ctl_write(c, ST_SETTINGS, &s);
	if (!rc && !c->json)
		printf("org domains: %s\n", *list ? list : "(none)");
out:
	free_strv(v, n);
	recfile_free(&s);
	return rc;
}
