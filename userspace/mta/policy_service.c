// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/*
 * `mxshield policy serve`: a Postfix SMTP access policy delegation server
 * (check_policy_service). Requests are "name=value" lines ended by an empty
 * line; each gets "action=...\n\n". Postfix reuses its connections.
 *
 * One thread serves every connection from an epoll loop, so a connection
 * costs memory (its struct, and a buffer only while a request is partly
 * read), never a thread: idle or slow clients cannot starve Postfix.
 *  - A partial request must be complete within --request-timeout (10 s);
 *    the clock starts at its first byte and does not restart on more bytes.
 *  - A connection without a partial request is closed after --idle-timeout.
 *  - At --max-conn connections (4096) a new connection closes the oldest
 *    idle one that has not asked anything yet, else the oldest partial
 *    request, else the oldest idle one: a flood of silent or slow
 *    connections churns itself, Postfix (which asks as soon as it
 *    connects) always gets in and keeps its connections. Over inet one peer
 *    address holds at most --max-per-peer of them (the same rule inside
 *    that peer's share).
 *  - Garbage (NUL bytes, a line over MXS_POLICY_MAX_LINE, a request over
 *    MXS_POLICY_MAX_REQ) closes that connection only, logged with a rate
 *    limit. A request with malformed lines is logged and answered DUNNO.
 *  - The one slow step of a decision, SPF (allow list + SPF, up to
 *    MXS_SPF_TIMEOUT), runs in a thread of its own while the loop goes on;
 *    its connection waits for it, no other does.
 *  - DNSBL lookups (mta/dnsbl_lookup.c) run in this loop with c-ares: a
 *    request whose client is not cached waits, alone, until the lists
 *    answered or the configured timeout passed (fail open). A listed
 *    source is pushed to the block list's "dnsbl" source (filter/source.h)
 *    so its next connections are dropped at the NIC.
 *
 * Decisions: policy_decide() at RCPT; at DATA the reason header for a
 * message marked as spam at RCPT (Postfix takes PREPEND up to DATA, not at
 * END-OF-MESSAGE). Lists are re-read when their state files change.
 *
 * Least privilege: the pinned maps are opened read-only; with --user the
 * service binds its socket and opens the maps, then becomes that user with
 * no capability at all. The compiled build's arrays are replaced by every
 * full build and reaching a new one by its id (BPF_MAP_GET_FD_BY_ID) needs
 * CAP_SYS_ADMIN, so a forked broker keeps that one capability (as the same
 * user, no_new_privs, nothing else in its bounding set) and answers one
 * question over a socketpair: a read-only fd of the array in (outer map,
 * slot). The loop caches those fds by map id.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include "../core/ctl.h"
#include "../core/log.h"
#include "../filter/classify.h"
#include "../filter/install.h"
#include "../filter/loader.h"
#include "../filter/source.h"
#include "dnsbl.h"
#include "dnsbl_lookup.h"
#include "policy_decide.h"
#include "policy_service.h"
#include "spf.h"

#ifndef MXS_POLICY_MAX_REQ
#define MXS_POLICY_MAX_REQ 16384	/* bytes of one request */
#endif
#ifndef MXS_POLICY_MAX_LINE
#define MXS_POLICY_MAX_LINE 4096	/* bytes of one attribute line */
#endif
#define MXS_SPF_JOBS 64			/* SPF checks running at once */
#define INST_SLOTS 4096			/* messages awaiting their reason header */
#define ACCEPT_BATCH 64			/* accepts per loop pass: keep serving */

struct opts {
	int request_ms, idle_ms;
	int max_conn, max_per_peer;
};

struct conn;
struct clist {
	struct conn *head, *tail;
};

struct peer {
	struct peer *next;
	unsigned char addr[16];
	int n;
};

struct conn {
	int fd;
	uint32_t serial;	/* tells an SPF answer for a closed connection apart */
	uint32_t events;	/* what epoll watches now */
	struct clist *list;	/* fresh, partial, idle or none (waiting for SPF) */
	bool answered;		/* has had an answer: moves from fresh to idle */
	struct conn *prev, *next;
	int64_t since;		/* ms: idle since, or the partial request's start */
	char *buf;		/* MXS_POLICY_MAX_REQ + 1, only while data is held */
	size_t len, scan, line;	/* bytes; where the end search goes on; current line */
	char *out;		/* reply not yet written */
	size_t outlen;
	struct spf_wait *spf;	/* the request waiting for its SPF check */
	struct conn *spf_next;	/* queued for an SPF thread */
	struct peer *peer;	/* inet */
	char name[64];
};

/* A request set aside: for its SPF check, or for its client's DNSBL
 * lookup (dns); the DNSBL score, once known, goes with it to the SPF
 * check's second pass. */
struct spf_wait {
	char client[64], sender[512];
	bool queued;
	bool dns;		/* waiting for the DNSBL lookup */
	bool dns_known;
	struct dnsbl_score dsc;
	char req[];		/* the request, as received */
};

struct server;
struct spf_done {
	struct spf_done *next;
	struct server *s;
	uint32_t slot, serial;
	int fail;
	char client[64], sender[512];
};

struct server {
	struct ctl *c;
	struct opts o;
	bool have_maps, inet;
	int lfd, ep, evfd, broker;
	struct env_set env;
	struct timespec env_stamp[4];
	struct route_set routes;	/* per-recipient routes to a scanner */
	struct conn *conns;		/* o.max_conn slots */
	struct conn *free_conn;		/* through ->next */
	int nconn;
	/* in the order of eviction: idle without an answer yet, partial
	 * requests, idle after answers (Postfix's) */
	struct clist fresh, partial, idle;
	struct peer **peers;		/* hash of inet peers */
	unsigned int npeer_buckets;
	/* SPF */
	pthread_mutex_t spf_mu;
	struct spf_done *spf_done;	/* finished, for the loop */
	struct conn *spf_qhead, *spf_qtail;	/* waiting for a thread */
	int spf_running;
	/* rate-limited logs: bad input, and connections closed for room */
	struct ratelimit {
		int64_t window;
		int count, dropped;
		const char *what;
	} rl_bad, rl_room;
	struct inst {
		uint64_t hash;
		char header[512];	/* to prepend at DATA */
	} inst[INST_SLOTS];
	/* the route of a message's accepted recipients: another route (or
	 * none) for a later one is answered 452, so it comes again in a
	 * transaction of its own (FILTER applies to the whole message) */
	struct rinst {
		uint64_t hash, route;	/* route: hash of the FILTER, 1 none */
	} rinst[INST_SLOTS];
	/* compiled arrays by [outer map][slot], keyed by map id */
	struct {
		__u32 id;
		int fd;
	} inner[4][4];
	bool inner_warned;
	char spec[128];			/* what it listens on, for the log */
	bool activated;			/* the socket came from systemd */
	int64_t maps_tried;		/* ms: the last try to open the maps */
	bool maps_force;		/* try again now (a reload) */
	uint64_t answers[POLICY_ANSWER_KINDS];	/* given, by kind (policy_answers) */
	/* DNSBL */
	struct dnsbl_resolver *dns;	/* NULL: no resolver (said at the start) */
	struct dnsbl_conf dcf;
	struct timespec dnsbl_stamp;
	bool dnsbl_said_maps;		/* "no maps: no DNSBL" logged */
	struct srcq *q;			/* where pushes go (the caller applies them);
					 * NULL: none */
	bool push_said;			/* "no push queue" logged */
	uint64_t pushes, push_failures;
	policy_observer observe;	/* told of each RCPT answer (automatic blocks) */
	void *observe_arg;
};

static struct server *srv;	/* for mxs_inner_fd, which has no context */

/* The log (core/log.h): stderr alone, the journal or syslog in `serve`. */
#define logf_(...) log_print(LOG_INFO, __VA_ARGS__)
#define logw_(...) log_print(LOG_WARNING, __VA_ARGS__)
#define loge_(...) log_print(LOG_ERR, __VA_ARGS__)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bad clients are logged, but a flood of them must not flood the log:
 * 20 lines per 10 s of each kind, then one line saying how many were
 * left out. */
static void log_limited(struct ratelimit *rl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_limited(struct ratelimit *rl, const char *fmt, ...)
{
	int64_t now = now_ms();
	char line[1000];
	va_list ap;

	if (now - rl->window >= 10000) {
		if (rl->dropped)
			log_print(LOG_NOTICE, "%d more messages about %s left out", rl->dropped,
				  rl->what);
		rl->window = now;
		rl->count = rl->dropped = 0;
	}
	if (rl->count++ >= 20) {
		rl->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_print(LOG_NOTICE, "%s", line);
}
#define log_bad(s, ...) log_limited(&(s)->rl_bad, __VA_ARGS__)
#define log_room(s, ...) log_limited(&(s)->rl_room, __VA_ARGS__)

/* ------------------------------------------------------------- decisions */

/* Re-read the lists when a state file changed (checked per request). */
static void env_refresh(struct server *s)
{
	static const char *const files[4] = { ST_ENVELOPE, ST_PARTNERS, ST_SETTINGS, ST_ROUTES };
	struct timespec now[4] = {};
	bool changed = false;
	struct env_set fresh;
	struct route_set routes;
	char err[MXS_ERRLEN + 64];

	for (int i = 0; i < 4; i++) {
		char p[4096];
		struct stat st;

		state_path(s->c, files[i], p, sizeof(p));
		if (!stat(p, &st))
			now[i] = st.st_mtim;
		if (now[i].tv_sec != s->env_stamp[i].tv_sec || now[i].tv_nsec != s->env_stamp[i].tv_nsec)
			changed = true;
	}
	if (!changed)
		return;
	if (env_load(s->c, &fresh, err, sizeof(err))) {
		loge_("keeping the previous lists: %s", err);
		memcpy(s->env_stamp, now, sizeof(now));	/* once per change, not per request */
		return;
	}
	if (route_load(s->c, &routes, err, sizeof(err))) {
		loge_("keeping the previous lists: %s", err);
		memcpy(s->env_stamp, now, sizeof(now));
		env_free(&fresh);
		return;
	}
	env_free(&s->env);
	s->env = fresh;
	route_free(&s->routes);
	s->routes = routes;
	memcpy(s->env_stamp, now, sizeof(now));
	logf_("lists loaded: %d envelope entries, %d partners, %d routes", s->env.n, s->env.np,
	      s->routes.n);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h | 1;
}

/* ----------------------------------------------------------------- DNSBL */

/* Re-read the DNSBL configuration when its state file changed (checked
 * per request, like the lists). A bad file keeps the previous one. */
static void dnsbl_refresh(struct server *s, bool force)
{
	char p[4096], err[MXS_ERRLEN + 4096];
	struct timespec now = {};
	struct dnsbl_conf cf;
	struct stat st;

	if (!s->dns)
		return;
	state_path(s->c, ST_DNSBL, p, sizeof(p));
	if (!stat(p, &st))
		now = st.st_mtim;
	if (!force && now.tv_sec == s->dnsbl_stamp.tv_sec && now.tv_nsec == s->dnsbl_stamp.tv_nsec)
		return;
	s->dnsbl_stamp = now;
	if (dnsbl_conf_load(s->c, &cf, err, sizeof(err))) {
		loge_("keeping the previous DNSBL configuration: %s", err);
		return;
	}
	s->dcf = cf;
	dnsbl_resolver_conf(s->dns, &cf);
	if (cf.n)
		logf_("dnsbl: %d site%s, threshold %d -> %s, push to the NIC %s%llds", cf.n,
		      cf.n == 1 ? "" : "s", cf.threshold, action_name(cf.action),
		      cf.push_max ? "for the TTL, at most " : "off", (long long)cf.push_max);
}

/* Is the client to be looked up? Only with sites configured, and only
 * when the filter's maps say what it is: trusted, partner and gateway
 * sources never are (nor pushed). */
static bool dnsbl_wanted(struct server *s, const struct policy_req *q, uint32_t flags,
			 struct mxs_prefix *addr)
{
	struct mxs_verdict v = { .list = MXS_LIST_NONE };
	char err[MXS_ERRLEN];

	if (!s->dns || !s->dcf.n || !q->client_address ||
	    parse_addr(q->client_address, addr, err, sizeof(err)))
		return false;
	if (!s->have_maps) {
		if (!s->dnsbl_said_maps)
			logw_("dnsbl: the filter is not loaded: no DNSBL lookups until it is (they "
			      "must not reach trusted, partner or gateway sources)");
		s->dnsbl_said_maps = true;
		return false;
	}
	s->dnsbl_said_maps = false;
	if (mxs_classify(&s->c->mv, addr, flags & ~MXS_F_GATEWAY_ONLY, now_tai_ns(), &v))
		return false;	/* cannot tell: do not ask */
	return v.list != MXS_LIST_TRUST && v.list != MXS_LIST_PARTNER &&
	       v.list != MXS_LIST_GATEWAY;
}

/* A verdict at or above the threshold: the source goes to the block
 * list's "dnsbl" source until the answers' TTL ends (push-max at most),
 * once per listing. A reject becomes a drop at the NIC; quarantine and
 * spam stay tags. The coalescer writes it with the next batch. */
static void dnsbl_push(struct server *s, const struct mxs_prefix *addr,
		       const struct dnsbl_score *sc)
{
	const struct dnsbl_conf *cf = &s->dcf;
	int64_t now = time(NULL), ttl;
	struct st_ent e = {};
	char comment[600], ps[MXS_PFX_STRLEN], when[32];
	struct mxs_prefix p = *addr;

	if (!sc->matched || sc->score < cf->threshold || !cf->push_max ||
	    !dnsbl_push_due(s->dns, addr, now))
		return;
	ttl = sc->ttl ? sc->ttl : cf->min_ttl;
	if (ttl > cf->push_max)
		ttl = cf->push_max;
	p.plen = p.v6 ? 128 : 32;
	st_set_prefix(&e, &p);
	e.action = cf->action == MXS_ACT_REJECT ? MXS_ACT_DROP : cf->action;
	e.added = now;
	e.expires = now + ttl;
	snprintf(comment, sizeof(comment), "dnsbl: %s score %d", sc->why, sc->score);
	if (!s->q) {
		if (!s->push_said)
			logw_("dnsbl: %s %s, not pushed to the NIC: only `mxshield serve` pushes "
			      "(it applies the pushes); this service answers the requests alone",
			      prefix_str(&p, ps), comment);
		s->push_said = true;
		return;
	}
	if (srcq_push(s->q, &ip_lists[MXS_IPL_BLOCK], "dnsbl", &e, comment)) {
		s->push_failures++;
		log_bad(s, "dnsbl: %s listed (%s) but the push queue refused it (full or out of "
			"memory)", prefix_str(&p, ps), comment);
		return;
	}
	dnsbl_pushed(s->dns, addr, e.expires);
	s->pushes++;
	log_print(LOG_NOTICE, "dnsbl: %s listed: %s score %d; to the block list (%s) until %s",
		  prefix_str(&p, ps), sc->why, sc->score, action_name(e.action),
		  fmt_time(e.expires, when, sizeof(when)));
}

/* policy_decide()'s SPF question. The first pass only notes it (the answer
 * comes from a thread, see spf_start()); the second pass gets the result. */
struct spf_probe {
	bool asked, known;
	int fail;
	char client[64], sender[512];
};

static int spf_probe(const char *client, const char *sender, void *arg)
{
	struct spf_probe *p = arg;

	if (!sender || !*sender || !strchr(sender, '@'))
		return 0;	/* as spf_check_fail(): no SPF for a null sender */
	if (p->known)
		return p->fail;
	p->asked = true;
	snprintf(p->client, sizeof(p->client), "%s", client);
	snprintf(p->sender, sizeof(p->sender), "%s", sender);
	return 0;
}

/* The recipients of one message share its route (FILTER is the whole
 * message's): the first accepted recipient sets it, a recipient with
 * another is deferred with 452 4.5.3, which clients take as "too many
 * recipients" and send again in another transaction (RFC 5321 4.5.3.1.10). */
static void route_split(struct server *s, uint64_t h, struct policy_out *o)
{
	struct rinst *r = &s->rinst[h % INST_SLOTS];
	uint64_t route = o->route ? hash_str(o->route) : 1;
	const char *a = o->action;

	if (a[0] == '4' || a[0] == '5' || !strncasecmp(a, "REJECT", 6) ||
	    !strncasecmp(a, "DEFER", 5))
		return;		/* not accepted: no say in the route */
	if (r->hash != h) {
		r->hash = h;
		r->route = route;
		return;
	}
	if (r->route == route)
		return;
	snprintf(o->action, sizeof(o->action), "452 4.5.3 Error: too many recipients "
		 "(mxshield: routed unlike this message's other recipients; send it in "
		 "another transaction)");
	snprintf(o->log, sizeof(o->log), "deferred: a route other than the message's");
	o->route = NULL;
}

/* The client's DNSBL score: known (a second pass), or asked now. */
struct dnsbl_probe {
	bool known;
	struct dnsbl_score sc;
	uint64_t cookie;	/* the connection, for a lookup that must wait */
};

/* Answer one request into out; returns 1 instead when its SPF check must
 * run first (p->client, p->sender), 2 when its client's DNSBL lookup must
 * (d->cookie is told when it ends), without side effects. */
static int answer(struct server *s, struct policy_req *q, struct spf_probe *p,
		  struct dnsbl_probe *d, char *out, size_t outlen)
{
	struct policy_dnsbl pd;
	struct mxs_prefix addr;
	struct policy_out o;
	uint32_t flags = 0;
	__u32 zero = 0;
	const char *state = q->protocol_state ? q->protocol_state : "RCPT";
	uint64_t h = hash_str(q->instance);
	struct inst *slot = &s->inst[h % INST_SLOTS];

	if (s->have_maps) {
		struct mxs_config cfg;

		if (!bpf_map_lookup_elem(s->c->fd_config, &zero, &cfg))
			flags = cfg.flags;
	}
	if (!strcmp(state, "DATA")) {
		if (q->instance && slot->hash == h) {
			snprintf(out, outlen, "PREPEND %s", slot->header);
			slot->hash = 0;
		} else {
			snprintf(out, outlen, "DUNNO");
		}
		return 0;
	}
	if (strcmp(state, "RCPT")) {
		snprintf(out, outlen, "DUNNO");
		return 0;
	}
	env_refresh(s);
	dnsbl_refresh(s, false);
	if (!d->known && dnsbl_wanted(s, q, flags, &addr)) {
		if (dnsbl_check(s->dns, &addr, d->cookie, &d->sc))
			return 2;
		d->known = true;
		dnsbl_push(s, &addr, &d->sc);	/* from the cache: pushed again if expired */
	}
	if (d->known && d->sc.matched && d->sc.score >= s->dcf.threshold) {
		pd = (struct policy_dnsbl){ s->dcf.action, d->sc.score, d->sc.why };
		q->dnsbl = &pd;
	}
	policy_decide(q, &s->env, s->have_maps ? &s->c->mv : NULL, flags, spf_probe, p, &o);
	if (p->asked && !p->known)
		return 1;
	policy_route(q, &s->routes, &o);

	if (o.header_pending) {
		/* one X-Spam-Flag per message, however many recipients */
		if (q->instance && slot->hash == h) {
			if (!o.route)
				snprintf(o.action, sizeof(o.action), "DUNNO");
		} else {
			slot->hash = h;
			snprintf(slot->header, sizeof(slot->header), "%s", o.data_header);
		}
	}
	if (s->routes.n && q->instance)
		route_split(s, h, &o);
	logf_("client=%s sender=<%s> rcpt=<%s> tls=%s -> %s (%s)",
	      q->client_address ? : "?", q->sender ? : "", q->recipient ? : "",
	      q->encryption_protocol && *q->encryption_protocol ? q->encryption_protocol : "no",
	      o.action, o.log);
	snprintf(out, outlen, "%s", o.action);
	if (s->observe && q->client_address)
		s->observe(s->observe_arg, q->client_address, q->recipient ? : "", out);
	return 0;
}

/* Parse one request (lines ended by '\n', the block without its empty
 * line). Returns the number of malformed lines. */
static int parse_request(char *req, struct policy_req *q)
{
	static const struct { const char *k; size_t off; } attrs[] = {
		{ "request", offsetof(struct policy_req, request) },
		{ "protocol_state", offsetof(struct policy_req, protocol_state) },
		{ "client_address", offsetof(struct policy_req, client_address) },
		{ "sender", offsetof(struct policy_req, sender) },
		{ "recipient", offsetof(struct policy_req, recipient) },
		{ "encryption_protocol", offsetof(struct policy_req, encryption_protocol) },
		{ "ccert_subject", offsetof(struct policy_req, ccert_subject) },
		{ "instance", offsetof(struct policy_req, instance) },
	};
	char *save, *line;
	int bad = 0;

	memset(q, 0, sizeof(*q));
	for (line = strtok_r(req, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		size_t n;

		if (line[0] && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (!eq || eq == line) {
			bad++;
			continue;
		}
		*eq = '\0';
		n = eq - line;
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (strlen(attrs[i].k) == n && !memcmp(attrs[i].k, line, n))
				*(const char **)((char *)q + attrs[i].off) = eq + 1;
	}
	return bad;
}

/* ----------------------------------------------------------- connections */

static void list_del(struct conn *c)
{
	struct clist *l = c->list;

	if (!l)
		return;
	*(c->prev ? &c->prev->next : &l->head) = c->next;
	*(c->next ? &c->next->prev : &l->tail) = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

/* Lists are in the order of ->since: a connection joins at the tail. */
static void list_add(struct clist *l, struct conn *c, int64_t since)
{
	list_del(c);
	c->since = since;
	c->list = l;
	c->prev = l->tail;
	c->next = NULL;
	*(l->tail ? &l->tail->next : &l->head) = c;
	l->tail = c;
}

static void watch(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events != events && !epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = events;
}

static unsigned int peer_hash(const struct server *s, const unsigned char a[16])
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return h % s->npeer_buckets;
}

static struct peer *peer_get(struct server *s, const unsigned char a[16])
{
	struct peer **b = &s->peers[peer_hash(s, a)], *p;

	for (p = *b; p; p = p->next)
		if (!memcmp(p->addr, a, 16))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->addr, a, 16);
	p->next = *b;
	*b = p;
	return p;
}

static void peer_put(struct server *s, struct peer *p)
{
	struct peer **b;

	if (!p || --p->n)
		return;
	for (b = &s->peers[peer_hash(s, p->addr)]; *b != p; b = &(*b)->next)
		;
	*b = p->next;
	free(p);
}

static void spf_unqueue(struct server *s, struct conn *c);

static void conn_close(struct server *s, struct conn *c)
{
	list_del(c);
	close(c->fd);		/* leaves the epoll set with it */
	peer_put(s, c->peer);
	free(c->buf);
	free(c->out);
	if (c->spf && c->spf->queued)
		spf_unqueue(s, c);
	free(c->spf);
	c->serial++;
	c->fd = -1;
	c->buf = c->out = NULL;
	c->spf = NULL;
	c->peer = NULL;
	c->next = s->free_conn;
	s->free_conn = c;
	s->nconn--;
}

/* Make room for a new connection of @p (NULL: of anyone): close the
 * oldest idle connection that has not had an answer yet, else the oldest
 * partial request, else the oldest idle one that has. Postfix connects
 * to ask and asks at once, so a flood of silent connections only ever
 * closes its own; connections waiting for SPF stay. 1 if one went. */
static int evict(struct server *s, struct peer *p)
{
	static const char *const what[3] = { "idle", "partial", "idle" };
	struct clist *lists[3] = { &s->fresh, &s->partial, &s->idle };

	for (int i = 0; i < 3; i++)
		for (struct conn *c = lists[i]->head; c; c = c->next)
			if (!p || c->peer == p) {
				log_room(s, "%s: closing its %s connection for a new one (%s)", c->name,
					 what[i], p ? "--max-per-peer" : "--max-conn");
				conn_close(s, c);
				return 1;
			}
	return 0;
}

/* Queue the reply; what the socket does not take now goes out on EPOLLOUT,
 * and until then this connection's further requests wait. */
const char *const policy_answer_names[POLICY_ANSWER_KINDS] = {
	"dunno", "reject", "defer", "hold", "prepend", "other",
};

/* The kind of an action by its first word: "550 5.7.1 ..." and REJECT
 * reject, 4xx and DEFER* defer (Postfix's own words and codes). */
static int answer_kind(const char *a)
{
	if (!strncasecmp(a, "DUNNO", 5))
		return 0;
	if (a[0] == '5' || !strncasecmp(a, "REJECT", 6))
		return 1;
	if (a[0] == '4' || !strncasecmp(a, "DEFER", 5))
		return 2;
	if (!strncasecmp(a, "HOLD", 4))
		return 3;
	if (!strncasecmp(a, "PREPEND", 7))
		return 4;
	return 5;
}

void policy_observe(struct policy_server *ps, policy_observer fn, void *arg)
{
	struct server *s = (struct server *)ps;

	s->observe = fn;
	s->observe_arg = arg;
}

void policy_answers(const struct policy_server *ps, uint64_t n[POLICY_ANSWER_KINDS])
{
	memcpy(n, ((const struct server *)ps)->answers, sizeof(uint64_t) * POLICY_ANSWER_KINDS);
}

bool policy_dnsbl_stats(const struct policy_server *ps, struct policy_dnsbl_stats *st)
{
	const struct server *s = (const struct server *)ps;
	struct dnsbl_stats d;

	memset(st, 0, sizeof(*st));
	if (!s->dns)
		return false;
	dnsbl_get_stats(s->dns, &d);
	st->lookups = d.lookups;
	st->cache_hits = d.cache_hits;
	st->queries = d.queries;
	st->listed = d.listed;
	st->timeouts = d.timeouts;
	st->errors = d.errors;
	st->refused = d.refused;
	st->cached = d.cached;
	st->pushes = s->pushes;
	st->push_failures = s->push_failures;
	st->sites = s->dcf.n;
	return true;
}

static int send_reply(struct server *s, struct conn *c, const char *action)
{
	char reply[640];
	int n = snprintf(reply, sizeof(reply), "action=%s\n\n", action);
	ssize_t w = 0;

	if (n >= (int)sizeof(reply))
		n = sizeof(reply) - 1;
	if (!c->outlen) {
		w = send(c->fd, reply, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w < 0)
			w = 0;
		if (w == n)
			return 0;
	}
	c->out = realloc(c->out, c->outlen + n - w);
	if (!c->out)
		return -1;
	memcpy(c->out + c->outlen, reply + w, n - w);
	c->outlen += n - w;
	return 0;
}

static int flush_out(struct conn *c)
{
	while (c->outlen) {
		ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w <= 0)
			return -1;
		memmove(c->out, c->out + w, c->outlen - w);
		c->outlen -= w;
	}
	free(c->out);
	c->out = NULL;
	return 0;
}

/* The end of the first complete request in c->buf: its length, and the
 * length with the empty line (*used); 0 when there is none yet. Searches
 * only the new bytes, so a request dripping in costs linear time. */
static size_t request_end(struct conn *c, size_t *used)
{
	for (size_t i = c->scan; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		if (i >= 1 && c->buf[i - 1] == '\n') {
			*used = i + 1;
			return i;	/* with the last line's '\n' */
		}
		if (i >= 3 && !memcmp(c->buf + i - 3, "\r\n\r", 3)) {
			*used = i + 1;
			return i - 2;
		}
	}
	c->scan = c->len;
	return 0;
}

static void spf_start(struct server *s, struct conn *c);

/* Answer the request text req[0..n); with @known, again after its SPF
 * check; with @dknown, again after its client's DNSBL lookup. 1 when it
 * now waits for one of them (in c->spf). */
static int handle_request(struct server *s, struct conn *c, const char *req, size_t n,
			  const struct spf_probe *known, const struct dnsbl_score *dknown)
{
	static char copy[MXS_POLICY_MAX_REQ + 1];
	struct spf_probe p = {};
	struct dnsbl_probe d = { .cookie = (uint64_t)(c - s->conns) << 32 | c->serial };
	struct policy_req q;
	char action[600];
	int bad, rc;

	if (known)
		p = *known;
	if (dknown) {
		d.known = true;
		d.sc = *dknown;
	}
	memcpy(copy, req, n);
	copy[n] = '\0';
	bad = parse_request(copy, &q);
	if (bad || !q.request) {
		log_bad(s, "%s: malformed request (%d bad line(s)%s): DUNNO", c->name, bad,
			q.request ? "" : ", no request=");
		snprintf(action, sizeof(action), "DUNNO");
	} else if ((rc = answer(s, &q, &p, &d, action, sizeof(action)))) {
		c->spf = calloc(1, sizeof(*c->spf) + n + 1);
		if (!c->spf)
			return -1;
		memcpy(c->spf->req, req, n);
		snprintf(c->spf->client, sizeof(c->spf->client), "%s", p.client);
		snprintf(c->spf->sender, sizeof(c->spf->sender), "%s", p.sender);
		c->spf->dns = rc == 2;
		c->spf->dns_known = d.known;
		c->spf->dsc = d.sc;
		list_del(c);	/* no deadline: the check and the lookup have their own */
		watch(s, c, 0);
		if (rc == 1)
			spf_start(s, c);
		return 1;
	}
	s->answers[answer_kind(action)]++;
	return send_reply(s, c, action) ? -1 : 0;
}

/* Answer every complete request held, then put the connection where its
 * state says: waiting (SPF, output), partial or idle. 0, or -1 to close. */
static int conn_process(struct server *s, struct conn *c)
{
	size_t n, used;
	bool consumed = false;

	while (!c->spf && !c->outlen && c->len && (n = request_end(c, &used))) {
		int rc = handle_request(s, c, c->buf, n, NULL, NULL);

		if (rc < 0)
			return -1;
		memmove(c->buf, c->buf + used, c->len - used + 1);
		c->len -= used;
		c->scan = 0;	/* c->line goes on: the request ended with a '\n' */
		consumed = true;
	}
	if (consumed)
		c->answered = true;	/* set aside for SPF counts: it asked */
	if (c->spf)
		return 0;		/* spf_finish() goes on */
	if (c->outlen) {
		list_add(&s->partial, c, now_ms());	/* a client must read its answers */
		watch(s, c, EPOLLOUT);
		return 0;
	}
	if (c->len == MXS_POLICY_MAX_REQ) {
		log_bad(s, "%s: request larger than %d bytes: closing", c->name, MXS_POLICY_MAX_REQ);
		return -1;
	}
	if (!c->len) {
		free(c->buf);
		c->buf = NULL;
		list_add(c->answered ? &s->idle : &s->fresh, c, now_ms());
	} else if (consumed || c->list != &s->partial) {
		list_add(&s->partial, c, now_ms());	/* a new partial request */
	}
	watch(s, c, EPOLLIN);
	return 0;
}

static int conn_read(struct server *s, struct conn *c)
{
	ssize_t n;

	if (!c->buf && !(c->buf = malloc(MXS_POLICY_MAX_REQ + 1)))
		return -1;
	n = recv(c->fd, c->buf + c->len, MXS_POLICY_MAX_REQ - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (!c->len) {
			free(c->buf);	/* an idle connection holds no buffer */
			c->buf = NULL;
		}
		return 0;
	}
	if (n <= 0) {
		if (c->len)
			log_bad(s, "%s: connection ended inside a request (%zu bytes dropped)",
				c->name, c->len);
		return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = c->buf[c->len + i];

		if (!ch) {
			log_bad(s, "%s: NUL byte in request: closing", c->name);
			return -1;
		}
		c->line = ch == '\n' ? 0 : c->line + 1;
		if (c->line > MXS_POLICY_MAX_LINE) {
			log_bad(s, "%s: line longer than %d bytes: closing", c->name,
				MXS_POLICY_MAX_LINE);
			return -1;
		}
	}
	c->len += n;
	c->buf[c->len] = '\0';
	return conn_process(s, c);
}

static void conn_event(struct server *s, struct conn *c, uint32_t ev)
{
	int rc = 0;

	if (c->outlen && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		rc = flush_out(c);
		if (!rc && !c->outlen)
			rc = conn_process(s, c);
	} else if (c->spf) {
		/* gone while waiting? (asked of the socket: the event may be
		 * stale, for a connection this slot held before) */
		char b;

		if (ev & (EPOLLERR | EPOLLHUP))
			rc = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0 ||
			     (errno != EAGAIN && errno != EINTR) ? -1 : 0;
	} else if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		rc = conn_read(s, c);
	}
	if (rc)
		conn_close(s, c);
}

static void accept_some(struct server *s)
{
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned char a[16] = {};
		struct epoll_event ev = { .events = EPOLLIN };
		struct peer *p = NULL;
		struct conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of fds despite the raised limit: make room */
				if (evict(s, NULL))
					continue;
				loge_("accept: %s", strerror(errno));
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				loge_("accept: %s", strerror(errno));
			}
			return;
		}
		if (s->inet) {
			if (ss.ss_family == AF_INET6)
				memcpy(a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
			else
				memcpy(a + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4),
				a[10] = a[11] = 0xff;
			p = peer_get(s, a);
			if (!p) {
				close(fd);
				continue;
			}
			p->n++;	/* counted now: evicting its last one cannot free it */
			if (p->n > s->o.max_per_peer && !evict(s, p)) {
				log_room(s, "a peer holds %d connections waiting for SPF: refusing one",
					 s->o.max_per_peer);
				peer_put(s, p);
				close(fd);
				continue;
			}
		}
		if (s->nconn >= s->o.max_conn && !evict(s, NULL)) {
			log_room(s, "%d connections waiting for SPF: refusing one", s->nconn);
			peer_put(s, p);
			close(fd);
			continue;
		}
		c = s->free_conn;
		s->free_conn = c->next;
		c->next = NULL;
		c->fd = fd;
		c->len = c->scan = c->line = c->outlen = 0;
		c->events = EPOLLIN;
		c->peer = p;
		c->answered = false;
		if (s->inet) {
			char h[INET6_ADDRSTRLEN] = "?";

			getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), NULL, 0, NI_NUMERICHOST);
			snprintf(c->name, sizeof(c->name), "%s (fd %d)", h, fd);
		} else {
			struct ucred cr;
			socklen_t cl = sizeof(cr);

			/* who it is, for the admin reading about a flood */
			if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl))
				snprintf(c->name, sizeof(c->name), "local uid %u pid %d (fd %d)",
					 cr.uid, cr.pid, fd);
			else
				snprintf(c->name, sizeof(c->name), "local client (fd %d)", fd);
		}
		s->nconn++;
		ev.data.ptr = c;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
			loge_("epoll: %s", strerror(errno));
			conn_close(s, c);
			continue;
		}
		list_add(&s->fresh, c, now_ms());
		/* Postfix writes its request right after connecting: answer it
		 * now, before a flood of new connections could evict this one */
		if (conn_read(s, c))
			conn_close(s, c);
	}
}

/* Close what has waited too long. Each list is in deadline order. */
static int expire(struct server *s)
{
	int64_t now = now_ms(), next = -1;
	struct conn *c;

	while ((c = s->idle.head) && c->since + s->o.idle_ms <= now)
		conn_close(s, c);
	while ((c = s->fresh.head) && c->since + s->o.idle_ms <= now)
		conn_close(s, c);
	while ((c = s->partial.head) && c->since + s->o.request_ms <= now) {
		log_bad(s, "%s: %s within %d s: closing", c->name,
			c->outlen ? "answer not read" : "request not complete",
			s->o.request_ms / 1000);
		conn_close(s, c);
	}
	if (s->idle.head)
		next = s->idle.head->since + s->o.idle_ms - now;
	if (s->fresh.head) {
		int64_t t = s->fresh.head->since + s->o.idle_ms - now;

		if (next < 0 || t < next)
			next = t;
	}
	if (s->partial.head) {
		int64_t t = s->partial.head->since + s->o.request_ms - now;

		if (next < 0 || t < next)
			next = t;
	}
	return next < 0 ? -1 : next > INT_MAX ? INT_MAX : (int)next + 1;
}

/* ------------------------------------------------------------------- SPF */

/* Post an SPF result to the loop. */
static void spf_post(struct server *s, struct spf_done *d)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->spf_mu);
	d->next = s->spf_done;
	s->spf_done = d;
	pthread_mutex_unlock(&s->spf_mu);
	/* cannot fail: the counter does not come near its maximum */
	(void)!write(s->evfd, &one, sizeof(one));
}

static void *spf_thread(void *arg)
{
	struct spf_done *d = arg;

	d->fail = spf_check_fail(d->client, d->sender, NULL);	/* <= MXS_SPF_TIMEOUT */
	spf_post(d->s, d);
	return NULL;
}

/* Start the SPF check of c's waiting request in a thread of its own. */
static void spf_run(struct server *s, struct conn *c)
{
	struct spf_done *d = calloc(1, sizeof(*d));
	pthread_attr_t at;
	pthread_t t;
	int err;

	c->spf->queued = false;
	if (!d) {
		/* nothing would ever answer it: drop the connection */
		loge_("%s: out of memory for an SPF check: closing", c->name);
		shutdown(c->fd, SHUT_RDWR);
		watch(s, c, EPOLLIN);
		free(c->spf);
		c->spf = NULL;
		return;
	}
	s->spf_running++;
	d->s = s;
	d->slot = c - s->conns;
	d->serial = c->serial;
	snprintf(d->client, sizeof(d->client), "%s", c->spf->client);
	snprintf(d->sender, sizeof(d->sender), "%s", c->spf->sender);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 * 1024);
	err = pthread_create(&t, &at, spf_thread, d);
	pthread_attr_destroy(&at);
	if (err) {
		/* decided as if SPF gave no result, as on its timeout */
		loge_("cannot start an SPF check: %s", strerror(err));
		spf_post(s, d);
	}
}

static void spf_start(struct server *s, struct conn *c)
{
	if (s->spf_running < MXS_SPF_JOBS) {
		spf_run(s, c);
		return;
	}
	c->spf_next = NULL;
	c->spf->queued = true;
	*(s->spf_qtail ? &s->spf_qtail->spf_next : &s->spf_qhead) = c;
	s->spf_qtail = c;
}

/* SPF answers are in: finish their requests, start queued checks. */
static void spf_finish(struct server *s)
{
	struct spf_done *d, *next;
	uint64_t cnt;

	(void)!read(s->evfd, &cnt, sizeof(cnt));	/* the list says what there is */
	pthread_mutex_lock(&s->spf_mu);
	d = s->spf_done;
	s->spf_done = NULL;
	pthread_mutex_unlock(&s->spf_mu);
	for (; d; d = next) {
		struct conn *c = &s->conns[d->slot];
		struct spf_probe p = { .known = true, .fail = d->fail };
		struct spf_wait *w = c->spf;

		next = d->next;
		s->spf_running--;
		if (c->fd >= 0 && c->serial == d->serial && w) {
			int rc;

			c->spf = NULL;
			rc = handle_request(s, c, w->req, strlen(w->req), &p,
					    w->dns_known ? &w->dsc : NULL);
			free(w);
			if (rc < 0 || conn_process(s, c))
				conn_close(s, c);
		}
		free(d);
	}
	while (s->spf_qhead && s->spf_running < MXS_SPF_JOBS) {
		struct conn *c = s->spf_qhead;

		s->spf_qhead = c->spf_next;
		if (!s->spf_qhead)
			s->spf_qtail = NULL;
		spf_run(s, c);
	}
}

/* A queued connection that closes must leave the SPF queue. */
static void spf_unqueue(struct server *s, struct conn *c)
{
	struct conn **pp = &s->spf_qhead, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->spf_next)
		if (*pp == c) {
			*pp = c->spf_next;
			if (s->spf_qtail == c)
				s->spf_qtail = prev;
			return;
		}
}

/* ----------------------------------------------------------- DNSBL waits */

/* A lookup ended (from dnsbl_run): push the source if it is listed, then
 * answer each request that waited for it. */
static void dnsbl_done(void *arg, const struct mxs_prefix *addr, const struct dnsbl_score *sc,
		       const uint64_t *cookies, int n)
{
	struct server *s = arg;

	dnsbl_push(s, addr, sc);
	for (int i = 0; i < n; i++) {
		uint32_t slot = cookies[i] >> 32, serial = (uint32_t)cookies[i];
		struct conn *c = slot < (uint32_t)s->o.max_conn ? &s->conns[slot] : NULL;
		struct spf_wait *w;
		int rc;

		if (!c || c->fd < 0 || c->serial != serial || !c->spf || !c->spf->dns)
			continue;	/* gone while it waited */
		w = c->spf;
		c->spf = NULL;
		rc = handle_request(s, c, w->req, strlen(w->req), NULL, sc);
		free(w);
		if (rc < 0 || conn_process(s, c))
			conn_close(s, c);
	}
}

/* ---------------------------------------------- the compiled build's arrays */

struct broker_req {
	__u32 which, slot;	/* outer map (0 dir, 1 node, 2 leaf, 3 rec), slot */
};

struct broker_rep {
	__s32 err;		/* 0 with an fd attached, or a negative errno */
	__u32 id;
};

/* A read-only fd of the array in @slot of @outer, and its id: what the
 * broker does, and what the service does itself when it runs with
 * CAP_SYS_ADMIN. */
static int inner_open(int outer, __u32 slot, __u32 *id)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
	int fd;

	if (bpf_map_lookup_elem(outer, &slot, id))
		return -errno;
	fd = bpf_map_get_fd_by_id_opts(*id, &o);
	return fd < 0 ? -errno : fd;
}

static int broker_ask(struct server *s, __u32 which, __u32 slot, __u32 *id)
{
	struct broker_req q = { which, slot };
	struct broker_rep r;
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (send(s->broker, &q, sizeof(q), MSG_NOSIGNAL) != sizeof(q) ||
	    recvmsg(s->broker, &m, MSG_CMSG_CLOEXEC) != sizeof(r)) {
		loge_("the broker for the compiled maps is gone or hangs: IP verdicts from "
		      "now on are those of the last build it opened");
		close(s->broker);
		s->broker = -1;
		return -EPIPE;
	}
	cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (r.err || fd < 0) {
		if (fd >= 0)
			close(fd);
		return r.err ? r.err : -EPROTO;
	}
	*id = r.id;
	return fd;
}

/* The broker's loop: one answer per question, until the service goes. */
static void broker_serve(int sk, const int outer[4])
{
	struct broker_req q;

	while (recv(sk, &q, sizeof(q), 0) == sizeof(q)) {
		struct broker_rep r = {};
		char cbuf[CMSG_SPACE(sizeof(int))] = {};
		struct iovec iov = { &r, sizeof(r) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		int fd = -EINVAL;

		if (q.which < 4 && q.slot < 4)
			fd = inner_open(outer[q.which], q.slot, &r.id);
		if (fd >= 0) {
			struct cmsghdr *cm;

			m.msg_control = cbuf;
			m.msg_controllen = sizeof(cbuf);
			cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
		} else {
			r.err = fd;
		}
		if (sendmsg(sk, &m, MSG_NOSIGNAL) != sizeof(r))
			break;
		if (fd >= 0)
			close(fd);
	}
}

/* mxs_inner_fd for the service: the array in @slot of @outer from the
 * cache while its id is the live one, else a new read-only fd of it. */
static int policy_inner_fd(int outer, __u32 slot)
{
	struct server *s = srv;
	int outers[4], w, fd;
	__u32 id = 0;

	cmaps_outer(&s->c->mv, outers);
	for (w = 0; w < 4 && outers[w] != outer; w++)
		;
	if (w == 4 || slot >= 4)
		return -EINVAL;
	if (bpf_map_lookup_elem(outer, &slot, &id))
		return -errno;
	if (s->inner[w][slot].fd >= 0 && s->inner[w][slot].id == id)
		return dup(s->inner[w][slot].fd);
	fd = s->broker >= 0 ? broker_ask(s, w, slot, &id) : inner_open(outer, slot, &id);
	if (fd < 0) {
		if (!s->inner_warned)
			logw_("cannot open the compiled build's maps (%s): IP verdicts are off "
			      "until they can be (start as root, with --user)", strerror(-fd));
		s->inner_warned = true;
		/* a stale array still answers better than none */
		return s->inner[w][slot].fd >= 0 ? dup(s->inner[w][slot].fd) : fd;
	}
	s->inner_warned = false;
	/* a new build: let go of the previous one's arrays (the other
	 * generation's slots), so that the kernel can free them */
	for (__u32 o = 0; o < 4; o++)
		if (o != slot && o != (slot ^ 1) && s->inner[w][o].fd >= 0) {
			close(s->inner[w][o].fd);
			s->inner[w][o].fd = -1;
		}
	if (s->inner[w][slot].fd >= 0)
		close(s->inner[w][slot].fd);
	s->inner[w][slot].fd = fd;
	s->inner[w][slot].id = id;
	return dup(fd);
}

/* ------------------------------------------------------------ privileges */

static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

static int caps_set(int keep)	/* keep: one capability, or -1 for none */
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (keep >= 0) {
		d[keep / 32].effective = d[keep / 32].permitted = 1U << (keep % 32);
	}
	return syscall(SYS_capset, &h, d);
}

static bool caps_are(int keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	__u32 want[2] = {};

	if (keep >= 0)
		want[keep / 32] = 1U << (keep % 32);
	if (syscall(SYS_capget, &h, d))
		return false;
	for (int i = 0; i < 2; i++)
		if (d[i].effective != want[i] || d[i].permitted != want[i] || d[i].inheritable)
			return false;
	return true;
}

/* Become @pw for good, keeping capability @keep (-1: none): no_new_privs,
 * the bounding and ambient sets emptied, the user's groups, then uid and
 * gid, and a check that root cannot come back. 0, or 1 after an error. */
int drop_to(const struct passwd *pw, int keep)
{
	bool change = getuid() != pw->pw_uid || geteuid() != pw->pw_uid;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return ctl_err("no_new_privs: %s", strerror(errno));
	for (int cap = 0; cap <= cap_last(); cap++)
		if (cap != keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL &&
		    errno != EPERM)
			return ctl_err("dropping capability %d from the bounding set: %s", cap,
				       strerror(errno));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (keep >= 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return ctl_err("keepcaps: %s", strerror(errno));
	if (change) {
		if (initgroups(pw->pw_name, pw->pw_gid))
			return ctl_err("--user %s: setting its groups: %s", pw->pw_name,
				       strerror(errno));
		if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
			return ctl_err("--user %s: %s", pw->pw_name, strerror(errno));
	}
	if (caps_set(keep) && keep < 0)
		return ctl_err("clearing capabilities: %s", strerror(errno));
	if (keep >= 0)
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (pw->pw_uid && (!setuid(0) || !seteuid(0)))
		return ctl_err("--user %s: could become root again", pw->pw_name);
	if (!caps_are(keep))
		return ctl_err("--user %s: capabilities are not what they should be", pw->pw_name);
	return 0;
}

/* Fork the broker (see the top of the file); it shares nothing with the
 * clients but the question socket. 0, or 1 after an error. */
static int broker_start(struct server *s, const struct passwd *pw)
{
	int sk[2], outer[4];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return ctl_err("socketpair: %s", strerror(errno));
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return ctl_err("fork: %s", strerror(errno));
	if (!pid) {
		close(sk[0]);
		close(s->lfd);
		prctl(PR_SET_NAME, "mxs-broker", 0, 0, 0);
		cmaps_outer(&s->c->mv, outer);
		if (drop_to(pw, CAP_SYS_ADMIN))
			_exit(1);
		/* after the drop, which clears it; EOF on sk[1] also ends it */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(0);
		broker_serve(sk[1], outer);
		_exit(0);
	}
	close(sk[1]);
	s->broker = sk[0];
	/* the loop waits for its answers: not for ever, should it hang */
	setsockopt(s->broker, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 2 },
		   sizeof(struct timeval));
	setsockopt(s->broker, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 2 },
		   sizeof(struct timeval));
	return 0;
}

/* Enough file descriptors for --max-conn (raising the hard limit needs
 * root: done before the drop). 0, or 1 after an error. */
static int raise_nofile(int max_conn)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_conn + 256;	/* maps, SPF's DNS sockets, logs */

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return ctl_err("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_max < want)
			return ctl_err("--max-conn %d needs %llu open files, the hard limit is %llu "
				       "(raise it, e.g. LimitNOFILE= in the unit)", max_conn,
				       (unsigned long long)want, (unsigned long long)rl.rlim_max);
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return ctl_err("setrlimit: %s", strerror(errno));
	}
	return 0;
}

/* ------------------------------------------------------------- listeners */

/* The unix socket at @path, created safely (the path is the admin's, the
 * directory may not be): the parent must not be writable by others
 * without the sticky bit; a socket left there is removed, anything else
 * (a symlink above all) is refused, never followed; the socket is born
 * with mode 0660 (umask, no chmod after bind that could follow a swapped
 * path) and gets @gid with fchownat(AT_SYMLINK_NOFOLLOW). */
static int listen_unix(const char *path, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;
	int dfd, cwd, fd = -1, saved = -1;
	mode_t um;

	if (path[0] != '/' || !slash || !slash[1])
		return ctl_err("unix:%s: expected an absolute path to the socket", path), -1;
	if (strlen(slash + 1) >= sizeof(sa.sun_path))
		return ctl_err("unix:%s: socket name too long", path), -1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
	strcpy(sa.sun_path, slash + 1);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st)) {
		ctl_err("unix:%s: directory %s: %s", path, dir, strerror(errno));
		goto out;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		ctl_err("unix:%s: %s is writable by everyone without the sticky bit: anyone "
			"could swap the socket; put it in a directory of its own", path, dir);
		goto out;
	}
	if (!fstatat(dfd, sa.sun_path, &st, AT_SYMLINK_NOFOLLOW)) {
		if (!S_ISSOCK(st.st_mode)) {
			ctl_err("unix:%s: exists and is not a socket (%s): not touching it", path,
				S_ISLNK(st.st_mode) ? "a symlink" : "a file or directory");
			goto out;
		}
		if (unlinkat(dfd, sa.sun_path, 0) && errno != ENOENT) {
			ctl_err("unix:%s: removing the old socket: %s", path, strerror(errno));
			goto out;
		}
	}
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cwd < 0 || fd < 0 || fchdir(dfd)) {
		ctl_err("unix:%s: %s", path, strerror(errno));
		if (cwd >= 0)
			close(cwd);
		goto fail;
	}
	um = umask(0117);
	saved = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
	umask(um);
	(void)!fchdir(cwd);	/* the service uses absolute paths only */
	close(cwd);
	if (saved) {
		ctl_err("unix:%s: %s", path, strerror(saved));
		goto fail;
	}
	if (gid != (gid_t)-1 && fchownat(dfd, sa.sun_path, -1, gid, AT_SYMLINK_NOFOLLOW)) {
		ctl_err("unix:%s: setting its group: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, SOMAXCONN)) {
		ctl_err("unix:%s: %s", path, strerror(errno));
		goto fail;
	}
	close(dfd);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
out:
	if (dfd >= 0)
		close(dfd);
	return fd;
}

static int listen_inet(const char *spec)
{
	char host[256];
	const char *port = strrchr(spec + 5, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
	size_t hl;
	int fd, one = 1;

	if (!port || port == spec + 5)
		return ctl_err("%s: expected inet:HOST:PORT", spec), -1;
	hl = port - (spec + 5);
	if (hl >= sizeof(host))
		return ctl_err("%s: host too long", spec), -1;
	memcpy(host, spec + 5, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (getaddrinfo(host, port + 1, &hints, &ai))
		return ctl_err("%s: expected a numeric address and port", spec), -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
		freeaddrinfo(ai);
		ctl_err("%s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* ------------------------------------------------------------------ main */

static int num_opt(const char *name, const char *v, int lo, int hi, int *out)
{
	char *end;
	long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return ctl_err("policy serve: --%s: expected a number from %d to %d, got '%s'",
			       name, lo, hi, v);
	*out = n;
	return 0;
}

/* The listening socket systemd passed (socket activation): a stream
 * socket that listens. Its family says unix or inet. 0, or 1. */
static int adopt_listener(struct server *s, int fd, char *spec, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int type = 0, acc = 0;
	socklen_t il = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) || !acc ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl))
		return ctl_err("the socket passed by systemd (fd %d) is not a listening stream "
			       "socket (ListenStream= in the .socket unit)", fd);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC))
		return ctl_err("fd %d: %s", fd, strerror(errno));
	s->inet = ss.ss_family != AF_UNIX;
	if (s->inet) {
		char h[INET6_ADDRSTRLEN] = "?", port[8] = "?";

		getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(spec, len, ss.ss_family == AF_INET6 ? "inet:[%s]:%s" : "inet:%s:%s", h,
			 port);
	} else {
		snprintf(spec, len, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
	}
	s->lfd = fd;
	return 0;
}

/* Open the filter's maps if it is loaded: at the start, on a reload, and
 * every 30 s while it is not (restore may come after the service). */
static void maps_try(struct server *s, bool first)
{
	int64_t now = now_ms();

	if (s->have_maps || (!first && now - s->maps_tried < 30000 && !s->maps_force))
		return;
	s->maps_tried = now;
	s->maps_force = false;
	s->have_maps = ctl_open_pinned(s->c) == 0;
	if (s->have_maps && !first)
		logf_("the filter is loaded now under %s: IP verdicts are on", s->c->bpffs_dir);
	else if (!s->have_maps && first)
		logw_("warning: the filter is not loaded under %s (or its pins are not readable "
		      "here): IP verdicts are off, the envelope lists still answer",
		      s->c->bpffs_dir);
}

static int opts_parse(const struct policy_opts *po, struct opts *o, int *rto, int *ito)
{
	*rto = 10;
	*ito = 600;
	o->max_conn = 4096;
	o->max_per_peer = 256;
	if (num_opt("request-timeout", po->request_timeout, 1, 3600, rto) ||
	    num_opt("idle-timeout", po->idle_timeout, 1, 86400, ito) ||
	    num_opt("max-conn", po->max_conn, 1, 1000000, &o->max_conn) ||
	    num_opt("max-per-peer", po->max_per_peer, 1, 1000000, &o->max_per_peer))
		return 1;
	o->request_ms = *rto * 1000;
	o->idle_ms = *ito * 1000;
	return 0;
}

static struct server the_server;	/* large: off the stack; one per process */

struct policy_server *policy_open(struct ctl *c, const struct policy_opts *po, int lfd)
{
	struct server *s = &the_server;
	struct epoll_event ev = { .events = EPOLLIN };
	gid_t sgid = (gid_t)-1;
	const char *spec, *group;
	int rto, ito;

	memset(s, 0, sizeof(*s));
	spec = po->listen ? : "inet:127.0.0.1:10040";
	group = po->socket_group;
	if (opts_parse(po, &s->o, &rto, &ito))
		return NULL;
	if (lfd < 0) {
		s->inet = !strncmp(spec, "inet:", 5);
		if (!s->inet && strncmp(spec, "unix:", 5))
			return ctl_err("'%s': listen on unix:PATH or inet:HOST:PORT", spec), NULL;
		if (group && s->inet)
			return ctl_err("--socket-group is for a unix: socket"), NULL;
		if (group || !s->inet) {
			/* smtpd runs as postfix: by default that group may connect */
			struct group *gr = getgrnam(group ? group : "postfix");

			if (!gr && group)
				return ctl_err("--socket-group %s: no such group", group), NULL;
			if (gr)
				sgid = gr->gr_gid;
		}
	}
	if (raise_nofile(s->o.max_conn))
		return NULL;

	s->c = c;
	s->broker = -1;
	s->lfd = s->ep = s->evfd = -1;
	s->rl_bad.what = "bad clients";
	s->rl_room.what = "connections closed for room";
	for (int w = 0; w < 4; w++)
		for (int i = 0; i < 4; i++)
			s->inner[w][i].fd = -1;
	pthread_mutex_init(&s->spf_mu, NULL);
	c->read_only = true;	/* the service only reads maps */
	maps_try(s, true);
	srv = s;
	mxs_inner_fd = policy_inner_fd;
	s->conns = calloc(s->o.max_conn, sizeof(*s->conns));
	s->npeer_buckets = 1024;
	s->peers = calloc(s->npeer_buckets, sizeof(*s->peers));
	if (!s->conns || !s->peers)
		return ctl_err("out of memory for %d connections", s->o.max_conn), NULL;
	for (int i = s->o.max_conn - 1; i >= 0; i--) {
		s->conns[i].fd = -1;
		s->conns[i].next = s->free_conn;
		s->free_conn = &s->conns[i];
	}
	if (lfd >= 0) {
		if (adopt_listener(s, lfd, s->spec, sizeof(s->spec)))
			return NULL;
		s->activated = true;
	} else {
		snprintf(s->spec, sizeof(s->spec), "%s", spec);
		s->lfd = s->inet ? listen_inet(spec) : listen_unix(spec + 5, sgid);
		if (s->lfd < 0)
			return NULL;
		if (!s->inet) {
			struct stat st;
			struct group *gr;

			if (!lstat(spec + 5, &st) && (gr = getgrgid(st.st_gid)))
				logf_("%s: mode %04o, group %s", spec, st.st_mode & 07777,
				      gr->gr_name);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->ep < 0 || s->evfd < 0)
		return ctl_err("epoll: %s", strerror(errno)), NULL;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev))
		return ctl_err("epoll: %s", strerror(errno)), NULL;
	ev.data.ptr = &s->evfd;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &ev))
		return ctl_err("epoll: %s", strerror(errno)), NULL;
	/* the resolver reads /etc/resolv.conf now, before any drop of
	 * privileges; without one the service still serves, without DNSBL */
	{
		char err[MXS_ERRLEN];

		s->q = po->srcq;
		s->dns = dnsbl_resolver_new(dnsbl_done, s, err, sizeof(err));
		if (!s->dns)
			logw_("warning: no DNSBL lookups: %s", err);
		ev.data.ptr = &s->dns;
		if (s->dns && epoll_ctl(s->ep, EPOLL_CTL_ADD, dnsbl_fd(s->dns), &ev))
			return ctl_err("epoll: %s", strerror(errno)), NULL;
	}
	return (struct policy_server *)s;
}

/* The lists, loaded the first time (or as the user after a drop). */
static void policy_start(struct server *s, const char *user)
{
	char peer[48] = "";

	memset(s->env_stamp, 0xff, sizeof(s->env_stamp));	/* force the first load */
	env_refresh(s);
	dnsbl_refresh(s, true);
	if (s->inet)
		snprintf(peer, sizeof(peer), ", %d per peer", s->o.max_per_peer);
	logf_("listening on %s%s (up to %d connections%s; requests within %d s, idle for "
	      "%d s)%s%s", s->spec, s->activated ? " (socket from systemd)" : "", s->o.max_conn,
	      peer, s->o.request_ms / 1000, s->o.idle_ms / 1000, user ? " as " : "",
	      user ? user : "");
}

int policy_fd(const struct policy_server *ps)
{
	return ((const struct server *)ps)->ep;
}

int policy_run(struct policy_server *ps)
{
	struct server *s = (struct server *)ps;
	struct epoll_event evs[256];
	int n = epoll_wait(s->ep, evs, 256, 0);

	if (n < 0 && errno != EINTR)
		return ctl_err("epoll_wait: %s", strerror(errno)), -2;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &s->lfd)
			accept_some(s);
		else if (evs[i].data.ptr == &s->evfd)
			spf_finish(s);
		else if (evs[i].data.ptr == &s->dns)
			;	/* dnsbl_run() below */
		else if (((struct conn *)evs[i].data.ptr)->fd >= 0)
			conn_event(s, evs[i].data.ptr, evs[i].events);
	}
	maps_try(s, false);
	{
		int t = expire(s);
		int d = s->dns ? dnsbl_run(s->dns) : -1;

		/* while the filter is missing, look again within 30 s */
		if (!s->have_maps && (t < 0 || t > 30000))
			t = 30000;
		if (d >= 0 && (t < 0 || d < t))
			t = d;
		return t;
	}
}

int policy_reconfigure(struct policy_server *ps, const struct policy_opts *po,
		       char *restart, size_t len)
{
	struct server *s = (struct server *)ps;
	struct opts o;
	int rto, ito;
	size_t n = 0;

	restart[0] = '\0';
	if (opts_parse(po, &o, &rto, &ito))
		return 1;
	if (o.max_conn != s->o.max_conn)
		n += snprintf(restart + n, n < len ? len - n : 0, "%smax_conn", n ? ", " : "");
	s->o.request_ms = o.request_ms;
	s->o.idle_ms = o.idle_ms;
	s->o.max_per_peer = o.max_per_peer;
	/* the lists again, and the filter's maps if they were missing */
	memset(s->env_stamp, 0xff, sizeof(s->env_stamp));
	env_refresh(s);
	dnsbl_refresh(s, true);
	s->maps_force = true;
	maps_try(s, false);
	logf_("policy limits now: requests within %d s, idle for %d s, %d per peer%s%s", rto,
	      ito, s->o.max_per_peer, *restart ? "; needs a restart: " : "", restart);
	return 0;
}

bool policy_has_maps(const struct policy_server *ps)
{
	return ((const struct server *)ps)->have_maps;
}

int policy_serve(struct ctl *c, const struct policy_opts *po)
{
	struct passwd *pw = NULL;
	struct server *s;
	char err[MXS_ERRLEN + 64];
	const char *user = po->user;

	log_open(LOG_TO_STDERR, "mxshield-policy");
	if (user && !(pw = getpwnam(user)))
		return ctl_err("--user %s: no such user", user);
	s = (struct server *)policy_open(c, po, -1);
	if (!s)
		return 1;
	signal(SIGCHLD, SIG_IGN);	/* the broker, should it end: no zombie */
	if (pw) {
		if (s->have_maps && geteuid() == 0 && broker_start(s, pw))
			return 1;
		if (drop_to(pw, -1))
			return 1;
		/* the lists are re-read as this user: make sure that works now */
		memset(s->env_stamp, 0xff, sizeof(s->env_stamp));
		if (env_load(c, &s->env, err, sizeof(err)))
			return ctl_err("--user %s cannot read the state directory %s: %s (make "
				       "it and its files readable by a group of the user: chgrp "
				       "GROUP DIR; chmod 0750 DIR; chmod 0640 DIR/*)",
				       user, c->state_dir, err);
		env_free(&s->env);
		memset(&s->env, 0, sizeof(s->env));
	}
	policy_start(s, pw ? pw->pw_name : NULL);
	for (;;) {
		struct pollfd pfd = { .fd = s->ep, .events = POLLIN };
		int t = policy_run((struct policy_server *)s);

		if (t == -2)
			return 1;
		if (poll(&pfd, 1, t) < 0 && errno != EINTR)
			return ctl_err("poll: %s", strerror(errno));
	}
}

void policy_begin(struct policy_server *ps)
{
	policy_start((struct server *)ps, NULL);
}
