/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/dnsbl_lookup.c: the DNSBL lookups of the policy service, with c-ares
 * inside its event loop: never a blocking call, never a thread.
 *
 * dnsbl_check() answers an address at once from the cache, or starts the
 * queries it lacks (one per list domain; a query already in flight for
 * the same address and domain is shared) and returns 1: the caller's
 * done() runs later, from dnsbl_run(), once every domain has answered or
 * the configured timeout has passed (fail open: a list that did not answer
 * counts as not listing the address). Answers are cached for their TTL
 * (negative ones for the SOA's negative TTL, RFC 2308), clamped to the
 * configured bounds; errors are not cached. The resolver is the system's:
 * /etc/resolv.conf, read when the resolver is made.
 */
#ifndef MXS_DNSBL_LOOKUP_H
#define MXS_DNSBL_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>
#include "dnsbl.h"

struct mxs_prefix;
struct dnsbl_resolver;

/* A lookup ended: its address, its score, and the cookies of the checks
 * that wait for it (in the order they came). */
typedef void (*dnsbl_done_fn)(void *arg, const struct mxs_prefix *addr,
			      const struct dnsbl_score *sc, const uint64_t *cookies, int n);

struct dnsbl_stats {
	uint64_t lookups;	/* addresses checked against the lists */
	uint64_t cache_hits;	/* ... answered from the cache alone */
	uint64_t queries;	/* DNS queries sent */
	uint64_t listed;	/* checks that scored at or above the threshold */
	uint64_t timeouts;	/* checks answered at the timeout, without a list */
	uint64_t errors;	/* queries that failed (no answer, SERVFAIL, refused) */
	uint64_t refused;	/* replies in 127.255.255.0/24: the list refused us */
	uint64_t cached;	/* answers in the cache now */
};

/* A resolver over /etc/resolv.conf. NULL with the reason. */
struct dnsbl_resolver *dnsbl_resolver_new(dnsbl_done_fn done, void *arg, char *err,
					  size_t errlen);
void dnsbl_resolver_free(struct dnsbl_resolver *r);
/* The configuration to use from now on (lookups running keep theirs). */
void dnsbl_resolver_conf(struct dnsbl_resolver *r, const struct dnsbl_conf *cf);
const struct dnsbl_conf *dnsbl_resolver_get_conf(const struct dnsbl_resolver *r);
/* An epoll fd, readable when the resolver has something to do. */
int dnsbl_fd(const struct dnsbl_resolver *r);
/* 0 and *out now, or 1: done(arg, ..., cookie among the cookies) comes
 * later, from dnsbl_run(). */
int dnsbl_check(struct dnsbl_resolver *r, const struct mxs_prefix *addr, uint64_t cookie,
		struct dnsbl_score *out);
/* Handle what is ready without waiting (answers, timeouts, the cache's
 * upkeep); the ms until the next deadline (-1: none). */
int dnsbl_run(struct dnsbl_resolver *r);
void dnsbl_get_stats(const struct dnsbl_resolver *r, struct dnsbl_stats *st);

/* A listed source is pushed once per listing: has @addr been pushed with
 * an expiry still ahead (unix seconds)? dnsbl_pushed() records a push. */
bool dnsbl_push_due(struct dnsbl_resolver *r, const struct mxs_prefix *addr, int64_t now);
void dnsbl_pushed(struct dnsbl_resolver *r, const struct mxs_prefix *addr, int64_t until);

#endif
