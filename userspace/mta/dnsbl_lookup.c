// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/*
 * DNSBL lookups with c-ares, in the policy service's loop.
 *
 * Three things:
 *  - the cache: one entry per (address, list domain), the domain's answer
 *    and when it expires; an entry is "pending" while its query is in
 *    flight, so a burst of requests for one address sends one query per
 *    domain. An entry is the query's callback argument: it lives until
 *    c-ares has called back (c-ares always does: answer, its own timeout,
 *    or the channel's destruction), and is freed by the sweep after it
 *    expires. Failed queries leave an expired entry: not cached.
 *  - the lookups ("jobs"): one per address being looked up, with a copy
 *    of each domain's answer as it arrives, a deadline (the configured
 *    timeout), and the cookies of the checks waiting for it. A job ends
 *    when every domain has answered or at its deadline, whichever is
 *    first; only then is the caller told (from dnsbl_run, never from
 *    inside a c-ares callback, so the caller may start new checks).
 *  - the sockets: c-ares tells which sockets it wants watched
 *    (ARES_OPT_SOCK_STATE_CB); they live in an epoll set of our own whose
 *    fd the service polls with its others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>
#include "../core/log.h"
#include "../core/parse.h"
#include "dnsbl_lookup.h"

#define CACHE_BUCKETS 65536
#define CACHE_MAX 262144	/* answers kept; past it new ones are not cached */
#define PUSH_BUCKETS 4096
#define SWEEP_MS 10000

struct centry {
	struct centry *next;	/* in its bucket */
	struct dnsbl_resolver *r;
	uint64_t h;
	uint8_t addr[16];
	bool v6, pending;
	int64_t expires;	/* ms, monotonic; <= now: expired (or failed) */
	struct dnsbl_answer an;
	char domain[];
};

struct slot {
	char domain[DNSBL_DOMAIN_MAX + 1];
	bool done;
	struct dnsbl_answer an;
};

struct job {
	struct job *next;
	struct mxs_prefix addr;
	int64_t deadline;
	int nslot, left;
	struct slot *slot;
	uint64_t *cookie;
	int ncookie, capcookie;
};

struct pushed {
	struct pushed *next;
	uint8_t addr[16];
	bool v6;
	int64_t until;		/* unix seconds */
};

struct dnsbl_resolver {
	ares_channel ch;
	int ep;
	dnsbl_done_fn done;
	void *arg;
	struct dnsbl_conf cf;
	struct centry *bucket[CACHE_BUCKETS];
	size_t ncache;
	struct pushed *pbucket[PUSH_BUCKETS];
	struct job *jobs;
	int64_t next_sweep;
	int64_t refused_said;	/* ms: the last warning about 127.255.255.x */
	struct dnsbl_stats st;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const uint8_t addr[16], const char *domain)
{
	return mxs_hash(domain, strlen(domain), mxs_hash(addr, 16, MXS_HASH_SEED));
}

/* ---------------------------------------------------------------- sockets */

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dnsbl_resolver *r = data;
	struct epoll_event ev = { .events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0),
				  .data.fd = fd };

	if (!readable && !writable) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
		epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
}

struct dnsbl_resolver *dnsbl_resolver_new(dnsbl_done_fn done, void *arg, char *err,
					  size_t errlen)
{
	struct dnsbl_resolver *r = calloc(1, sizeof(*r));
	struct ares_options o = {};
	int rc;

	if (!r) {
		mxs_fail(err, errlen, "out of memory");
		return NULL;
	}
	r->done = done;
	r->arg = arg;
	dnsbl_conf_init(&r->cf);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0) {
		mxs_fail(err, errlen, "epoll: %s", strerror(errno));
		free(r);
		return NULL;
	}
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = r;
	if (!rc)
		rc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB);
	if (rc) {
		mxs_fail(err, errlen, "the DNS resolver (c-ares, /etc/resolv.conf): %s",
			 ares_strerror(rc));
		close(r->ep);
		free(r);
		return NULL;
	}
	r->next_sweep = mono_ms() + SWEEP_MS;
	return r;
}

static void job_free(struct job *j)
{
	free(j->slot);
	free(j->cookie);
	free(j);
}

void dnsbl_resolver_free(struct dnsbl_resolver *r)
{
	if (!r)
		return;
	/* every query calls back (ARES_EDESTRUCTION) while the entries live */
	ares_destroy(r->ch);
	for (int b = 0; b < CACHE_BUCKETS; b++)
		for (struct centry *e = r->bucket[b], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	for (int b = 0; b < PUSH_BUCKETS; b++)
		for (struct pushed *p = r->pbucket[b], *n; p; p = n) {
			n = p->next;
			free(p);
		}
	for (struct job *j = r->jobs, *n; j; j = n) {
		n = j->next;
		job_free(j);
	}
	close(r->ep);
	free(r);
}

void dnsbl_resolver_conf(struct dnsbl_resolver *r, const struct dnsbl_conf *cf)
{
	r->cf = *cf;
}

const struct dnsbl_conf *dnsbl_resolver_get_conf(const struct dnsbl_resolver *r)
{
	return &r->cf;
}

int dnsbl_fd(const struct dnsbl_resolver *r)
{
	return r->ep;
}

void dnsbl_get_stats(const struct dnsbl_resolver *r, struct dnsbl_stats *st)
{
	*st = r->st;
	st->cached = r->ncache;
}

/* ------------------------------------------------------------------ cache */

static struct centry *cache_find(struct dnsbl_resolver *r, const struct mxs_prefix *a,
				 const char *domain, uint64_t h)
{
	for (struct centry *e = r->bucket[h % CACHE_BUCKETS]; e; e = e->next)
		if (e->h == h && e->v6 == a->v6 && !memcmp(e->addr, a->addr, 16) &&
		    !strcmp(e->domain, domain))
			return e;
	return NULL;
}

static struct centry *cache_add(struct dnsbl_resolver *r, const struct mxs_prefix *a,
				const char *domain, uint64_t h)
{
	size_t dl = strlen(domain) + 1;
	struct centry *e = calloc(1, sizeof(*e) + dl);

	if (!e)
		return NULL;
	e->r = r;
	e->h = h;
	e->v6 = a->v6;
	memcpy(e->addr, a->addr, 16);
	memcpy(e->domain, domain, dl);
	e->next = r->bucket[h % CACHE_BUCKETS];
	r->bucket[h % CACHE_BUCKETS] = e;
	r->ncache++;
	return e;
}

/* Free what has expired (never an entry whose query is in flight). */
static void cache_sweep(struct dnsbl_resolver *r, int64_t now)
{
	int64_t unow = time(NULL);

	for (int b = 0; b < CACHE_BUCKETS; b++)
		for (struct centry **pp = &r->bucket[b]; *pp;) {
			struct centry *e = *pp;

			if (e->pending || e->expires > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			r->ncache--;
			free(e);
		}
	for (int b = 0; b < PUSH_BUCKETS; b++)
		for (struct pushed **pp = &r->pbucket[b]; *pp;) {
			struct pushed *p = *pp;

			if (p->until > unow) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			free(p);
		}
}

static uint32_t clamp_ttl(const struct dnsbl_resolver *r, int64_t ttl)
{
	if (ttl < r->cf.min_ttl)
		ttl = r->cf.min_ttl;
	if (ttl > r->cf.max_ttl)
		ttl = r->cf.max_ttl;
	return (uint32_t)ttl;
}

/* Skip a (possibly compressed) name at *p. 0, or -1 past the end. */
static int skip_name(const unsigned char **p, const unsigned char *end)
{
	while (*p < end) {
		unsigned len = **p;

		if (!len) {
			(*p)++;
			return 0;
		}
		if ((len & 0xc0) == 0xc0) {
			*p += 2;
			return *p <= end ? 0 : -1;
		}
		*p += len + 1;
	}
	return -1;
}

/* The negative TTL of an answer without the record (RFC 2308): the SOA of
 * its authority section, min(its TTL, its MINIMUM). -1 when there is none. */
static int64_t negative_ttl(const unsigned char *abuf, int alen)
{
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	unsigned qd, an, ns;

	if (!abuf || alen < 12)
		return -1;
	qd = abuf[4] << 8 | abuf[5];
	an = abuf[6] << 8 | abuf[7];
	ns = abuf[8] << 8 | abuf[9];
	for (unsigned i = 0; i < qd; i++)
		if (skip_name(&p, end) || (p += 4) > end)
			return -1;
	for (unsigned i = 0; i < an + ns; i++) {
		unsigned type, rdlen;
		uint32_t ttl;

		if (skip_name(&p, end) || p + 10 > end)
			return -1;
		type = p[0] << 8 | p[1];
		ttl = (uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
		rdlen = p[8] << 8 | p[9];
		p += 10;
		if (p + rdlen > end)
			return -1;
		if (i >= an && type == 6 && rdlen >= 20) {
			const unsigned char *m = p + rdlen - 4;	/* MINIMUM: the last field */
			uint32_t min = (uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3];

			return ttl < min ? ttl : min;
		}
		p += rdlen;
	}
	return -1;
}

static void refused_warn(struct dnsbl_resolver *r, const char *domain, const uint8_t a[4])
{
	int64_t now = mono_ms();

	r->st.refused++;
	if (r->refused_said && now - r->refused_said < 600000)
		return;
	r->refused_said = now;
	log_print(LOG_WARNING, "dnsbl: %s answered %u.%u.%u.%u: the list refuses our queries "
		  "(127.255.255.254: through a public or shared resolver; .255: too many "
		  "queries; .252: the name is wrong). Counted as not listed; use a resolver of "
		  "your own, or the list's registered access. (Said once per 10 minutes.)",
		  domain, a[0], a[1], a[2], a[3]);
}

/* A query came back: the entry gets the answer (cached for its TTL, or
 * expired at once after an error), and so does each lookup of that
 * address waiting for that domain. */
static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct centry *e = arg;
	struct dnsbl_resolver *r = e->r;
	struct dnsbl_answer an = { .status = DNSBL_FAILED };
	int64_t now = mono_ms(), ttl = -1;

	e->pending = false;
	if (status == ARES_EDESTRUCTION)
		return;		/* the resolver goes: nobody waits */
	if (status == ARES_SUCCESS) {
		struct ares_addrttl at[DNSBL_MAX_REPLIES];
		int n = DNSBL_MAX_REPLIES;

		if (ares_parse_a_reply(abuf, alen, NULL, at, &n) == ARES_SUCCESS && n > 0) {
			an.status = DNSBL_LISTED;
			for (int i = 0; i < n; i++) {
				memcpy(an.a[an.n], &at[i].ipaddr, 4);
				if (dnsbl_reply_is_error(an.a[an.n]))
					refused_warn(r, e->domain, an.a[an.n]);
				if (ttl < 0 || at[i].ttl < ttl)
					ttl = at[i].ttl;
				an.n++;
			}
		} else {
			an.status = DNSBL_NOT_LISTED;	/* a CNAME and no A, say */
		}
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		an.status = DNSBL_NOT_LISTED;
		ttl = negative_ttl(abuf, alen);
	}
	if (an.status == DNSBL_FAILED) {
		r->st.errors++;
		e->expires = 0;		/* not cached */
	} else {
		an.ttl = clamp_ttl(r, ttl < 0 ? r->cf.min_ttl : ttl);
		e->expires = r->ncache > CACHE_MAX ? 0 : now + (int64_t)an.ttl * 1000;
	}
	e->an = an;
	for (struct job *j = r->jobs; j; j = j->next) {
		if (j->addr.v6 != e->v6 || memcmp(j->addr.addr, e->addr, 16))
			continue;
		for (int i = 0; i < j->nslot; i++)
			if (!j->slot[i].done && !strcmp(j->slot[i].domain, e->domain)) {
				j->slot[i].done = true;
				j->slot[i].an = an;
				j->left--;
			}
	}
}

/* ------------------------------------------------------------------ checks */

struct slots {
	const struct slot *s;
	int n;
};

static const struct dnsbl_answer *slot_answer(const char *domain, void *arg)
{
	const struct slots *ss = arg;

	for (int i = 0; i < ss->n; i++)
		if (!strcmp(ss->s[i].domain, domain))
			return ss->s[i].done ? &ss->s[i].an : NULL;
	return NULL;
}

static void job_score(struct dnsbl_resolver *r, const struct job *j, struct dnsbl_score *sc)
{
	struct slots ss = { j->slot, j->nslot };

	dnsbl_score(&r->cf, slot_answer, &ss, sc);
	if (sc->score >= r->cf.threshold && sc->matched)
		r->st.listed++;
}

/* The distinct domains of the configuration, in its order. */
static int domains(const struct dnsbl_conf *cf, const char *out[DNSBL_MAX_SITES])
{
	int n = 0;

	for (int i = 0; i < cf->n; i++) {
		int k;

		for (k = 0; k < n && strcmp(out[k], cf->site[i].domain); k++)
			;
		if (k == n)
			out[n++] = cf->site[i].domain;
	}
	return n;
}

static int add_cookie(struct job *j, uint64_t cookie)
{
	if (j->ncookie == j->capcookie) {
		int cap = j->capcookie ? j->capcookie * 2 : 4;
		uint64_t *c = realloc(j->cookie, cap * sizeof(*c));

		if (!c)
			return -1;
		j->cookie = c;
		j->capcookie = cap;
	}
	j->cookie[j->ncookie++] = cookie;
	return 0;
}

int dnsbl_check(struct dnsbl_resolver *r, const struct mxs_prefix *addr, uint64_t cookie,
		struct dnsbl_score *out)
{
	const char *dom[DNSBL_MAX_SITES];
	int nd = domains(&r->cf, dom), missing = 0;
	int64_t now = mono_ms();
	struct job *j;

	memset(out, 0, sizeof(*out));
	if (!nd)
		return 0;
	r->st.lookups++;
	/* a lookup of this address runs: wait for it */
	for (j = r->jobs; j; j = j->next)
		if (j->addr.v6 == addr->v6 && !memcmp(j->addr.addr, addr->addr, 16))
			return add_cookie(j, cookie) ? 0 : 1;	/* no memory: fail open */
	j = calloc(1, sizeof(*j));
	if (!j || !(j->slot = calloc(nd, sizeof(*j->slot))) || add_cookie(j, cookie)) {
		if (j)
			job_free(j);
		return 0;
	}
	j->addr = *addr;
	j->nslot = nd;
	for (int i = 0; i < nd; i++) {
		uint64_t h = key_hash(addr->addr, dom[i]);
		struct centry *e = cache_find(r, addr, dom[i], h);

		snprintf(j->slot[i].domain, sizeof(j->slot[i].domain), "%s", dom[i]);
		if (e && !e->pending && e->expires > now) {
			j->slot[i].done = true;
			j->slot[i].an = e->an;
		} else {
			missing++;
		}
	}
	if (!missing) {
		r->st.cache_hits++;
		job_score(r, j, out);
		job_free(j);
		return 0;
	}
	/* linked before the queries: an error may call back at once */
	j->left = missing;
	j->deadline = now + r->cf.timeout_ms;
	j->next = r->jobs;
	r->jobs = j;
	for (int i = 0; i < nd; i++) {
		uint64_t h = key_hash(addr->addr, dom[i]);
		struct centry *e;
		char qname[DNSBL_QNAME_MAX + 1];

		if (j->slot[i].done)
			continue;
		e = cache_find(r, addr, dom[i], h);
		if (e && e->pending)
			continue;	/* in flight for another lookup: its answer comes here too */
		if (!e && !(e = cache_add(r, addr, dom[i], h)))
			continue;	/* no memory: the deadline answers */
		if (dnsbl_qname(addr, dom[i], qname, sizeof(qname)))
			continue;
		e->pending = true;
		r->st.queries++;
		ares_query(r->ch, qname, 1 /* C_IN */, 1 /* T_A */, on_answer, e);
	}
	return 1;
}

bool dnsbl_push_due(struct dnsbl_resolver *r, const struct mxs_prefix *addr, int64_t now)
{
	uint64_t h = mxs_hash(addr->addr, 16, MXS_HASH_SEED + addr->v6) % PUSH_BUCKETS;

	for (struct pushed *p = r->pbucket[h]; p; p = p->next)
		if (p->v6 == addr->v6 && !memcmp(p->addr, addr->addr, 16))
			return p->until <= now;
	return true;
}

void dnsbl_pushed(struct dnsbl_resolver *r, const struct mxs_prefix *addr, int64_t until)
{
	uint64_t h = mxs_hash(addr->addr, 16, MXS_HASH_SEED + addr->v6) % PUSH_BUCKETS;
	struct pushed *p;

	for (p = r->pbucket[h]; p; p = p->next)
		if (p->v6 == addr->v6 && !memcmp(p->addr, addr->addr, 16))
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->v6 = addr->v6;
		memcpy(p->addr, addr->addr, 16);
		p->next = r->pbucket[h];
		r->pbucket[h] = p;
	}
	p->until = until;
}

int dnsbl_run(struct dnsbl_resolver *r)
{
	struct epoll_event evs[64];
	struct job *finished = NULL, **pp;
	int64_t now, next = -1;
	struct timeval tv, *t;
	int n;

	while ((n = epoll_wait(r->ep, evs, 64, 0)) > 0)
		for (int i = 0; i < n; i++)
			ares_process_fd(r->ch,
					evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) ?
						evs[i].data.fd : ARES_SOCKET_BAD,
					evs[i].events & EPOLLOUT ? evs[i].data.fd : ARES_SOCKET_BAD);
	/* c-ares' own timeouts and retries */
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	now = mono_ms();
	for (pp = &r->jobs; *pp;) {
		struct job *j = *pp;

		if (j->left > 0 && j->deadline > now) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->next = finished;
		finished = j;
	}
	/* tell the waiters, now that the list is consistent: they may check
	 * again (a new lookup joins r->jobs) */
	while (finished) {
		struct job *j = finished;
		struct dnsbl_score sc;

		finished = j->next;
		if (j->left > 0)
			r->st.timeouts++;
		job_score(r, j, &sc);
		r->done(r->arg, &j->addr, &sc, j->cookie, j->ncookie);
		job_free(j);
	}
	if (now >= r->next_sweep) {
		cache_sweep(r, now);
		r->next_sweep = now + SWEEP_MS;
	}
	for (struct job *j = r->jobs; j; j = j->next) {
		/* a lookup started by a waiter above may be complete already */
		int64_t left = !j->left || j->deadline <= now ? 0 : j->deadline - now;

		if (next < 0 || left < next)
			next = left;
	}
	t = ares_timeout(r->ch, NULL, &tv);
	if (t) {
		int64_t ms = (int64_t)t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;

		if (next < 0 || ms < next)
			next = ms;
	}
	if (r->ncache && (next < 0 || r->next_sweep - now < next))
		next = r->next_sweep > now ? r->next_sweep - now : 0;
	return next < 0 ? -1 : next > 3600000 ? 3600000 : (int)next;
}
