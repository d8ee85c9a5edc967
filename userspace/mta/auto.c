// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Automatic blocks: the rules, the evidence in Postfix's words, and the
 * engine that counts it per source in bounded memory (auto.h).
 *
 * The windows are exact: a source's events of one kind are kept as a ring
 * of their times, as deep as the largest --count of that kind's rules, so
 * "N within W" is "the N-th most recent event is less than W old". A ring
 * is a few dozen bytes for the counts rules use (docs/auto.md has the
 * figure); the sources are a hash table with a least-recently-seen list,
 * so a flood of distinct sources costs at most max_sources of them, the
 * quietest going first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../core/ctl.h"
#include "../state/recfile.h"
#include "auto.h"

const char *const auto_kind_names[AUTO_KINDS + 1] = { "reject", "spam", "auth-fail", NULL };
const char *const auto_origin_names[AUTO_ORIGINS] = { "policy", "maillog", "journal" };

/* ---------------------------------------------------------------- rules */

char *auto_fmt_duration(int64_t s, char *buf, size_t len)
{
	static const struct { int64_t secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t n = 0;

	if (s <= 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (int i = 0; i < 4 && s; i++)
		if (s >= units[i].secs) {
			n += snprintf(buf + n, n < len ? len - n : 0, "%lld%c",
				      (long long)(s / units[i].secs), units[i].unit);
			s %= units[i].secs;
		}
	return buf;
}

static int dur_arg(const char *opt, const char *v, int64_t *out, char *err, size_t errlen)
{
	char e[MXS_ERRLEN];

	if (parse_duration(v, out, e, sizeof(e)))
		return mxs_fail(err, errlen, "--%s: %s", opt, e);
	if (*out < 1 || *out > AUTO_DUR_MAX)
		return mxs_fail(err, errlen, "--%s: '%s': from 1s to 366d", opt, v);
	return 0;
}

int auto_rule_make(struct auto_rule *r, const char *name, const char *on, const char *count,
		   const char *within, const char *block, const char *max, char *err,
		   size_t errlen)
{
	char e[MXS_ERRLEN], *end;
	long n;
	int k;

	memset(r, 0, sizeof(*r));
	if (parse_name(name, e, sizeof(e)))
		return mxs_fail(err, errlen, "rule name '%s': %s", name, e);
	snprintf(r->name, sizeof(r->name), "%s", name);
	for (k = 0; k < AUTO_KINDS && strcmp(on, auto_kind_names[k]); k++)
		;
	if (k == AUTO_KINDS)
		return mxs_fail(err, errlen, "--on: '%s': expected reject, spam or auth-fail", on);
	r->on = k;
	errno = 0;
	n = strtol(count, &end, 10);
	if (errno || end == count || *end || n < 1 || n > AUTO_COUNT_MAX)
		return mxs_fail(err, errlen, "--count: '%s': expected a number from 1 to %d", count,
				AUTO_COUNT_MAX);
	r->count = n;
	if (dur_arg("within", within, &r->within, err, errlen) ||
	    dur_arg("block", block, &r->block, err, errlen))
		return -1;
	r->max = r->block;
	if (max && dur_arg("max", max, &r->max, err, errlen))
		return -1;
	if (r->max < r->block)
		return mxs_fail(err, errlen, "--max %s is shorter than --block %s", max, block);
	return 0;
}

int auto_rules_read(const struct ctl *c, struct auto_rule **v, int *n)
{
	struct recfile f = {};
	char path[PATH_MAX], err[MXS_ERRLEN];

	*v = NULL;
	*n = 0;
	if (ctl_read(c, ST_AUTO_RULES, &f))
		return 1;
	state_path(c, ST_AUTO_RULES, path, sizeof(path));
	*v = calloc(f.n ? f.n : 1, sizeof(**v));
	if (!*v) {
		recfile_free(&f);
		return ctl_err("out of memory");
	}
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];

		if (auto_rule_make(&(*v)[i], rec_get(r, "name") ? : "", rec_get(r, "on") ? : "",
				   rec_get(r, "count") ? : "", rec_get(r, "within") ? : "",
				   rec_get(r, "block") ? : "", rec_get(r, "max"), err, sizeof(err))) {
			ctl_err("%s:%d: %s", path, r->line, err);
			recfile_free(&f);
			free(*v);
			*v = NULL;
			return 1;
		}
	}
	*n = f.n;
	recfile_free(&f);
	return 0;
}

int auto_rules_write(const struct ctl *c, const struct auto_rule *v, int n)
{
	struct recfile f = {};
	char b[32];
	int rc;

	for (int i = 0; i < n; i++) {
		struct rec *r = recfile_add(&f);

		rec_set(r, "name", v[i].name);
		rec_set(r, "on", auto_kind_names[v[i].on]);
		snprintf(b, sizeof(b), "%u", v[i].count);
		rec_set(r, "count", b);
		rec_set(r, "within", auto_fmt_duration(v[i].within, b, sizeof(b)));
		rec_set(r, "block", auto_fmt_duration(v[i].block, b, sizeof(b)));
		rec_set(r, "max", auto_fmt_duration(v[i].max, b, sizeof(b)));
	}
	rc = ctl_write(c, ST_AUTO_RULES, &f);
	recfile_free(&f);
	return rc;
}

/* ------------------------------------------------------------- evidence */

/* "HOST[ADDR]" or "HOST[ADDR]:PORT" then ": ": the address, and where the
 * text after ": " starts. A host name never holds '[' (Postfix logs only
 * verified names, else "unknown"). */
static const char *client_of(const char *p, struct mxs_prefix *src)
{
	const char *lb = p + strcspn(p, "[ "), *rb;
	char a[64], err[MXS_ERRLEN];

	if (*lb != '[')
		return NULL;
	rb = strchr(lb, ']');
	if (!rb || rb - lb - 1 <= 0 || rb - lb - 1 >= (long)sizeof(a))
		return NULL;
	memcpy(a, lb + 1, rb - lb - 1);
	a[rb - lb - 1] = '\0';
	if (parse_addr(a, src, err, sizeof(err)))
		return NULL;
	p = rb + 1;
	if (*p == ':' && p[1] >= '0' && p[1] <= '9') {	/* smtpd_client_port_logging */
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	return !strncmp(p, ": ", 2) ? p + 2 : NULL;
}

/* "550 5.1.1 <nobody@example.com>: Recipient address rejected: User
 * unknown in virtual mailbox table; from=<...> to=<...> ..." */
static int unknown_rcpt(const char *p, struct auto_evidence *ev)
{
	const char *lt, *gt;

	if (!(p[0] == '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	      !strncmp(p + 3, " 5.1.1 <", 8)))
		return 0;
	lt = p + 10;
	gt = strstr(lt, ">: ");
	/* the recipient is the client's text: "User unknown" must come after
	 * it, in Postfix's words */
	if (!gt || !strstr(gt, ": User unknown"))
		return 0;
	ev->kind = AUTO_REJECT;
	snprintf(ev->what, sizeof(ev->what), "RCPT to %.*s %.3s 5.1.1",
		 (int)(gt - lt - 1 > 80 ? 80 : gt - lt - 1), lt + 1, p);
	return 1;
}

int auto_parse_message(const char *msg, struct auto_evidence *ev)
{
	const char *p = msg;
	size_t n;

	memset(ev, 0, sizeof(*ev));
	if (!strncmp(p, "warning: ", 9)) {
		/* warning: HOST[ADDR]: SASL LOGIN authentication failed: ... */
		p = client_of(p + 9, &ev->src);
		if (!p || strncmp(p, "SASL ", 5))
			return 0;
		n = strcspn(p + 5, " ");
		if (!n || n > 32 || strncmp(p + 5 + n, " authentication failed", 22))
			return 0;
		ev->kind = AUTO_AUTH_FAIL;
		snprintf(ev->what, sizeof(ev->what), "SASL %.*s authentication failed", (int)n,
			 p + 5);
		return 1;
	}
	/* NOQUEUE: reject: RCPT from HOST[ADDR]: 550 5.1.1 ..., or a queue
	 * id for a message that has a recipient already */
	n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	if (!n || strncmp(p + n, ": reject: RCPT from ", 20))
		return 0;
	p = client_of(p + n + 20, &ev->src);
	return p ? unknown_rcpt(p, ev) : 0;
}

int auto_parse_line(const char *line, struct auto_evidence *ev)
{
	/* "Dec  1 10:00:00.123456 mx postfix/smtpd[1234]: MESSAGE" (also
	 * postfix/submission/smtpd); the first such tag is the program's: the
	 * time and the host name come before it, the client's text after */
	const char *p = strstr(line, "/smtpd[");

	if (!p)
		return 0;
	p += 7;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, "]: ", 3))
		return 0;
	return auto_parse_message(p + 3, ev);
}

/* --------------------------------------------------------------- engine */

struct src {
	struct src *hnext, *prev, *next;	/* hash chain; least recently seen first */
	struct mxs_prefix addr;
	int64_t last;			/* the last evidence */
	int64_t quiet_until;		/* blocked or spared: not counted until */
	uint16_t head[AUTO_KINDS], n[AUTO_KINDS];
	int64_t t[];			/* the rings, e->depth[k] each */
};

struct off {
	struct off *hnext, *prev, *next;	/* hash chain; oldest offence first */
	struct mxs_prefix addr;
	char rule[AUTO_NAME_MAX];
	uint32_t offence;
	int64_t at, expires;
	char *comment;
};

struct lru {
	void *head, *tail;
};

struct auto_engine {
	size_t max, nbuckets;
	int64_t remember;
	uint64_t seed;
	struct auto_rule rules[AUTO_RULES_MAX];
	uint64_t blocks[AUTO_RULES_MAX];
	int nrules;
	uint16_t depth[AUTO_KINDS];	/* ring depth: the largest --count of a kind */
	size_t ring_off[AUTO_KINDS];
	size_t ring_total;
	int64_t longest;		/* the longest --within */
	/* the sources counted */
	struct src **sb;
	struct src *shead, *stail;
	size_t nsrc;
	/* the offences remembered */
	struct off **ob;
	struct off *ohead, *otail;
	size_t noff;
	bool loaded, dirty;
	struct auto_stats st;
};

static uint64_t addr_hash(const struct auto_engine *e, const struct mxs_prefix *a)
{
	return mxs_hash(a->addr, a->v6 ? 16 : 4, e->seed ^ (uint64_t)a->v6);
}

static bool addr_eq(const struct mxs_prefix *a, const struct mxs_prefix *b)
{
	return a->v6 == b->v6 && !memcmp(a->addr, b->addr, a->v6 ? 16 : 4);
}

/* the two lists share one shape: prev/next after hnext */
#define LRU_UNLINK(h, t, x) do {					\
		if ((x)->prev) (x)->prev->next = (x)->next; else (h) = (x)->next; \
		if ((x)->next) (x)->next->prev = (x)->prev; else (t) = (x)->prev; \
		(x)->prev = (x)->next = NULL;				\
	} while (0)
#define LRU_APPEND(h, t, x) do {					\
		(x)->prev = (t); (x)->next = NULL;			\
		if (t) (t)->next = (x); else (h) = (x);			\
		(t) = (x);						\
	} while (0)

struct auto_engine *auto_new(size_t max_sources, int64_t remember)
{
	struct auto_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->max = max_sources ? max_sources : 1;
	e->remember = remember;
	for (e->nbuckets = 1024; e->nbuckets < e->max; e->nbuckets <<= 1)
		;
	e->sb = calloc(e->nbuckets, sizeof(*e->sb));
	e->ob = calloc(e->nbuckets, sizeof(*e->ob));
	/* a client cannot aim its addresses at one chain */
	if (getrandom(&e->seed, sizeof(e->seed), 0) != sizeof(e->seed))
		e->seed = MXS_HASH_SEED ^ (uint64_t)getpid();
	if (!e->sb || !e->ob) {
		auto_free(e);
		return NULL;
	}
	return e;
}

static void src_drop(struct auto_engine *e, struct src *s)
{
	struct src **pp = &e->sb[addr_hash(e, &s->addr) & (e->nbuckets - 1)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	LRU_UNLINK(e->shead, e->stail, s);
	free(s);
	e->nsrc--;
}

static void off_drop(struct auto_engine *e, struct off *o)
{
	struct off **pp = &e->ob[addr_hash(e, &o->addr) & (e->nbuckets - 1)];

	while (*pp != o)
		pp = &(*pp)->hnext;
	*pp = o->hnext;
	LRU_UNLINK(e->ohead, e->otail, o);
	free(o->comment);
	free(o);
	e->noff--;
}

static void drop_sources(struct auto_engine *e)
{
	while (e->shead)
		src_drop(e, e->shead);
}

void auto_free(struct auto_engine *e)
{
	if (!e)
		return;
	if (e->sb)
		drop_sources(e);
	while (e->ob && e->ohead)
		off_drop(e, e->ohead);
	free(e->sb);
	free(e->ob);
	free(e);
}

int auto_set_rules(struct auto_engine *e, const struct auto_rule *r, int n)
{
	uint64_t blocks[AUTO_RULES_MAX] = {};
	uint16_t depth[AUTO_KINDS] = {};
	bool same = true;

	if (n > AUTO_RULES_MAX)
		return -1;
	/* the counts of a rule that stays stay with it */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < e->nrules; j++)
			if (!strcmp(r[i].name, e->rules[j].name))
				blocks[i] = e->blocks[j];
	e->longest = 0;
	for (int i = 0; i < n; i++) {
		if (r[i].count > depth[r[i].on])
			depth[r[i].on] = r[i].count;
		if (r[i].within > e->longest)
			e->longest = r[i].within;
	}
	for (int k = 0; k < AUTO_KINDS; k++)
		same &= depth[k] == e->depth[k];
	if (!same) {
		/* the rings change shape: the counting starts again */
		drop_sources(e);
		e->ring_total = 0;
		for (int k = 0; k < AUTO_KINDS; k++) {
			e->depth[k] = depth[k];
			e->ring_off[k] = e->ring_total;
			e->ring_total += depth[k];
		}
	}
	memcpy(e->rules, r, n * sizeof(*r));
	memcpy(e->blocks, blocks, sizeof(blocks));
	e->nrules = n;
	return 0;
}

int auto_nrules(const struct auto_engine *e)
{
	return e->nrules;
}

const struct auto_rule *auto_rule_at(const struct auto_engine *e, int i)
{
	return i >= 0 && i < e->nrules ? &e->rules[i] : NULL;
}

uint64_t auto_blocks(const struct auto_engine *e, int i)
{
	return i >= 0 && i < e->nrules ? e->blocks[i] : 0;
}

static struct src *src_get(struct auto_engine *e, const struct mxs_prefix *a, bool make)
{
	struct src **b = &e->sb[addr_hash(e, a) & (e->nbuckets - 1)], *s;

	for (s = *b; s; s = s->hnext)
		if (addr_eq(&s->addr, a))
			return s;
	if (!make)
		return NULL;
	if (e->nsrc >= e->max) {
		/* full: the source seen least recently goes */
		src_drop(e, e->shead);
		e->st.evicted++;
		b = &e->sb[addr_hash(e, a) & (e->nbuckets - 1)];
	}
	s = calloc(1, sizeof(*s) + e->ring_total * sizeof(s->t[0]));
	if (!s)
		return NULL;
	s->addr = *a;
	s->hnext = *b;
	*b = s;
	LRU_APPEND(e->shead, e->stail, s);
	e->nsrc++;
	return s;
}

static struct off *off_get(struct auto_engine *e, const struct mxs_prefix *a, const char *rule)
{
	struct off *o = e->ob[addr_hash(e, a) & (e->nbuckets - 1)];

	for (; o; o = o->hnext)
		if (addr_eq(&o->addr, a) && !strcmp(o->rule, rule))
			return o;
	return NULL;
}

/* Record (or renew) an offence: the newest goes last in the list. */
static void off_put(struct auto_engine *e, const struct mxs_prefix *a, const char *rule,
		    uint32_t offence, int64_t at, int64_t expires, const char *comment)
{
	struct off *o = off_get(e, a, rule);
	char *cm = strdup(comment ? comment : "");

	if (!cm)
		return;
	if (!o) {
		struct off **b;

		if (e->noff >= e->max) {
			off_drop(e, e->ohead);
			e->st.offences_evicted++;
		}
		o = calloc(1, sizeof(*o));
		if (!o) {
			free(cm);
			return;
		}
		o->addr = *a;
		snprintf(o->rule, sizeof(o->rule), "%s", rule);
		b = &e->ob[addr_hash(e, a) & (e->nbuckets - 1)];
		o->hnext = *b;
		*b = o;
		e->noff++;
	} else {
		LRU_UNLINK(e->ohead, e->otail, o);
	}
	LRU_APPEND(e->ohead, e->otail, o);
	o->offence = offence;
	o->at = at;
	o->expires = expires;
	free(o->comment);
	o->comment = cm;
	e->dirty = true;
}

static void rings_clear(struct src *s)
{
	memset(s->n, 0, sizeof(s->n));
	memset(s->head, 0, sizeof(s->head));
}

/* The time of the i-th most recent event of kind k (0: the latest). */
static int64_t ring_at(const struct auto_engine *e, const struct src *s, int k, unsigned i)
{
	unsigned d = e->depth[k];

	return s->t[e->ring_off[k] + (s->head[k] + d - 1 - i) % d];
}

static int64_t block_for(const struct auto_rule *r, uint32_t offence)
{
	int64_t d = r->block;

	/* doubling on each repeat offence, at most --max */
	for (uint32_t i = 1; i < offence && d < r->max; i++)
		d *= 2;
	return d < r->max ? d : r->max;
}

int auto_evidence(struct auto_engine *e, const struct auto_evidence *ev,
		  enum auto_origin from, int64_t now, struct auto_block *b)
{
	int k = ev->kind;
	unsigned d = e->depth[k];
	struct src *s;

	e->st.evidence[k][from]++;
	if (!d)
		return 0;	/* no rule counts this kind */
	s = src_get(e, &ev->src, true);
	if (!s)
		return 0;
	LRU_UNLINK(e->shead, e->stail, s);
	LRU_APPEND(e->shead, e->stail, s);
	s->last = now;
	if (s->quiet_until > now)
		return 0;
	s->t[e->ring_off[k] + s->head[k]] = now;
	s->head[k] = (s->head[k] + 1) % d;
	if (s->n[k] < d)
		s->n[k]++;
	for (int i = 0; i < e->nrules; i++) {
		const struct auto_rule *r = &e->rules[i];
		const struct off *o;
		char w[24];

		if ((int)r->on != k || s->n[k] < r->count ||
		    now - ring_at(e, s, k, r->count - 1) >= r->within)
			continue;
		memset(b, 0, sizeof(*b));
		b->src = ev->src;
		b->rule = i;
		o = off_get(e, &ev->src, r->name);
		b->offence = o && o->expires + e->remember > now ? o->offence + 1 : 1;
		b->at = now;
		b->expires = now + block_for(r, b->offence);
		snprintf(b->comment, sizeof(b->comment),
			 "auto: rule %s: %u %s in %s, offence %u, last: %s", r->name, r->count,
			 auto_kind_names[k], auto_fmt_duration(r->within, w, sizeof(w)),
			 b->offence, ev->what);
		return 1;
	}
	return 0;
}

void auto_commit(struct auto_engine *e, const struct auto_block *b)
{
	struct src *s = src_get(e, &b->src, false);

	if (s) {
		rings_clear(s);
		s->quiet_until = b->expires;
	}
	if (b->rule >= 0 && b->rule < e->nrules) {
		e->blocks[b->rule]++;
		off_put(e, &b->src, e->rules[b->rule].name, b->offence, b->at, b->expires,
			b->comment);
	}
}

void auto_spare(struct auto_engine *e, const struct auto_block *b)
{
	struct src *s = src_get(e, &b->src, false);

	e->st.spared++;
	if (s) {
		/* it stays unblockable: not looked at again for a window */
		rings_clear(s);
		s->quiet_until = b->at + (b->rule >= 0 && b->rule < e->nrules ?
					  e->rules[b->rule].within : 60);
	}
}

void auto_forget(struct auto_engine *e, const struct mxs_prefix *src, int64_t before)
{
	struct src *s = src_get(e, src, false);
	struct off *o, *next;

	if (s)
		src_drop(e, s);
	for (o = e->ob[addr_hash(e, src) & (e->nbuckets - 1)]; o; o = next) {
		next = o->hnext;
		if (addr_eq(&o->addr, src) && o->at <= before) {
			off_drop(e, o);
			e->dirty = true;
		}
	}
}

void auto_prune(struct auto_engine *e, int64_t now)
{
	struct src *s, *sn;
	struct off *o, *on;

	/* least recently seen first: stop at the first still counting */
	for (s = e->shead; s; s = sn) {
		sn = s->next;
		if (s->last + e->longest > now || s->quiet_until > now)
			break;
		src_drop(e, s);
	}
	/* a quiet source seen recently may sit behind a counting one */
	for (s = e->shead; s; s = sn) {
		sn = s->next;
		if (s->last + e->longest <= now && s->quiet_until <= now)
			src_drop(e, s);
	}
	for (o = e->ohead; o; o = on) {
		on = o->next;
		if (o->expires + e->remember <= now) {
			off_drop(e, o);
			e->dirty = true;
		}
	}
}

void auto_stats(const struct auto_engine *e, struct auto_stats *st)
{
	*st = e->st;
	st->sources = e->nsrc;
	st->offenders = e->noff;
	st->source_bytes = sizeof(struct src) + e->ring_total * sizeof(int64_t);
}

/* ------------------------------------------------------ the offences file */

char *auto_addr_str(const struct mxs_prefix *a, char *buf)
{
	struct mxs_prefix p = *a;

	p.plen = p.v6 ? 128 : 32;
	prefix_str(&p, buf);
	buf[strcspn(buf, "/")] = '\0';
	return buf;
}

static void off_rec(struct recfile *f, const struct mxs_prefix *a, const char *rule,
		    uint32_t offence, int64_t at, int64_t expires, const char *comment)
{
	struct rec *r = recfile_add(f);
	char b[MXS_PFX_STRLEN];

	rec_set(r, "ip", auto_addr_str(a, b));
	rec_set(r, "rule", rule);
	snprintf(b, sizeof(b), "%u", offence);
	rec_set(r, "offence", b);
	snprintf(b, sizeof(b), "%lld", (long long)at);
	rec_set(r, "at", b);
	snprintf(b, sizeof(b), "%lld", (long long)expires);
	rec_set(r, "expires", b);
	rec_set(r, "comment", comment ? comment : "");
}

/* One record of auto-offences: 0, or -1 (a damaged record). */
static int off_parse(const struct rec *r, struct auto_offence *o)
{
	const char *ip = rec_get(r, "ip"), *rule = rec_get(r, "rule");
	const char *n = rec_get(r, "offence"), *at = rec_get(r, "at");
	const char *ex = rec_get(r, "expires"), *cm = rec_get(r, "comment");
	char err[MXS_ERRLEN];

	memset(o, 0, sizeof(*o));
	if (!ip || !rule || !n || !at || !ex || parse_addr(ip, &o->src, err, sizeof(err)))
		return -1;
	snprintf(o->rule, sizeof(o->rule), "%s", rule);
	o->offence = strtoul(n, NULL, 10);
	o->at = strtoll(at, NULL, 10);
	o->expires = strtoll(ex, NULL, 10);
	snprintf(o->comment, sizeof(o->comment), "%s", cm ? cm : "");
	return o->offence ? 0 : -1;
}

int auto_offences_read(const struct ctl *c, struct auto_offence **v, int *n)
{
	struct recfile f = {};
	char path[PATH_MAX];

	*v = NULL;
	*n = 0;
	if (ctl_read(c, ST_AUTO_OFFENCES, &f))
		return 1;
	*v = calloc(f.n ? f.n : 1, sizeof(**v));
	if (!*v) {
		recfile_free(&f);
		return ctl_err("out of memory");
	}
	state_path(c, ST_AUTO_OFFENCES, path, sizeof(path));
	for (int i = 0; i < f.n; i++)
		if (off_parse(&f.r[i], &(*v)[*n]) == 0)
			(*n)++;
		else
			fprintf(stderr, "mxshield: %s:%d: a damaged offence record, skipped\n",
				path, f.r[i].line);
	recfile_free(&f);
	return 0;
}

/* auto.lock: 0 and *fd, 1 busy (@wait false), -1 after ctl_err. */
static int auto_lock(const struct ctl *c, bool wait, int *fd)
{
	char p[PATH_MAX];
	int err = ctl_mkdir_p(c->state_dir, 0700);	/* a service on a fresh host */

	if (err)
		return ctl_err("state directory %s: %s", c->state_dir, strerror(-err)), -1;
	state_path(c, ST_AUTO_LOCK, p, sizeof(p));
	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return ctl_err("%s: %s", p, strerror(errno)), -1;
	if (flock(*fd, LOCK_EX | (wait ? 0 : LOCK_NB))) {
		int busy = errno == EWOULDBLOCK && !wait;

		if (!busy)
			ctl_err("%s: lock: %s", p, strerror(errno));
		close(*fd);
		*fd = -1;
		return busy ? 1 : -1;
	}
	return 0;
}

int auto_offences_forget(const struct ctl *c, const struct mxs_prefix *src, int *removed)
{
	struct recfile f = {}, fg = {};
	struct auto_offence o;
	char b[32], ps[MXS_PFX_STRLEN];
	int fd, rc;

	*removed = 0;
	if (auto_lock(c, true, &fd))
		return 1;
	rc = ctl_read(c, ST_AUTO_OFFENCES, &f) || ctl_read(c, ST_AUTO_FORGET, &fg);
	for (int i = 0; !rc && i < f.n;) {
		if (!off_parse(&f.r[i], &o) && addr_eq(&o.src, src)) {
			recfile_del(&f, i);
			(*removed)++;
		} else {
			i++;
		}
	}
	if (!rc && *removed)
		rc = ctl_write(c, ST_AUTO_OFFENCES, &f);
	/* the running service forgets its counts and its copy when it reads this */
	if (!rc) {
		struct rec *r = recfile_add(&fg);

		rec_set(r, "ip", auto_addr_str(src, ps));
		snprintf(b, sizeof(b), "%lld", (long long)time(NULL));
		rec_set(r, "at", b);
		rc = ctl_write(c, ST_AUTO_FORGET, &fg);
	}
	recfile_free(&f);
	recfile_free(&fg);
	close(fd);
	return rc;
}

int auto_sync(struct auto_engine *e, const struct ctl *c, int64_t now, bool wait)
{
	struct recfile f = {};
	char path[PATH_MAX];
	int fd, rc = auto_lock(c, wait, &fd);

	if (rc)
		return rc;
	if (!e->loaded) {
		struct auto_offence *v;
		int n;

		if (auto_offences_read(c, &v, &n)) {
			close(fd);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (v[i].expires + e->remember > now)
				off_put(e, &v[i].src, v[i].rule, v[i].offence, v[i].at, v[i].expires,
					v[i].comment);
		free(v);
		e->loaded = true;
		e->dirty = false;
	}
	/* what `auto forget` asked */
	state_path(c, ST_AUTO_FORGET, path, sizeof(path));
	if (!access(path, F_OK)) {
		if (ctl_read(c, ST_AUTO_FORGET, &f)) {
			close(fd);
			return -1;
		}
		for (int i = 0; i < f.n; i++) {
			struct mxs_prefix a;
			char err[MXS_ERRLEN];
			const char *ip = rec_get(&f.r[i], "ip"), *at = rec_get(&f.r[i], "at");

			/* an offence recorded after the request is a new one */
			if (ip && !parse_addr(ip, &a, err, sizeof(err)))
				auto_forget(e, &a, at ? strtoll(at, NULL, 10) : INT64_MAX);
		}
		recfile_free(&f);
		e->dirty = true;
	}
	if (e->dirty) {
		for (struct off *o = e->ohead; o; o = o->next)
			off_rec(&f, &o->addr, o->rule, o->offence, o->at, o->expires, o->comment);
		rc = ctl_write(c, ST_AUTO_OFFENCES, &f) ? -1 : 0;
		recfile_free(&f);
		if (!rc) {
			e->dirty = false;
			unlink(path);	/* the forget requests are in the file now */
		}
	}
	close(fd);
	return rc;
}
