/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/dnsbl.c: DNS block and allow lists (DNSBL, DNSWL) as Postfix's
 * postscreen configures them (postscreen_dnsbl_sites in postconf(5)):
 *
 *   SITE = DOMAIN[=FILTER][*WEIGHT]
 *   FILTER = F.F.F.F, each F a number 0-255 or "[" one or more numbers or
 *            N..M ranges separated by ";" "]" (the whole filter may be
 *            inside one more pair of brackets)
 *   WEIGHT = an integer, default 1; negative for an allow list (DNSWL)
 *
 * The score of an address is the sum of the weights of the entries whose
 * domain lists it with a reply the filter matches (an entry counts once,
 * however many replies match); at or above the threshold the policy
 * service applies the configured action. This file is the configuration
 * (the state file "dnsbl"), the parser and the matcher; mta/dnsbl_lookup.c
 * asks DNS.
 */
#ifndef MXS_DNSBL_H
#define MXS_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl;
struct mxs_prefix;

#define ST_DNSBL "dnsbl"		/* the state file */
#define DNSBL_MAX_SITES 64
#define DNSBL_DOMAIN_MAX 254		/* a DNS name, without the final dot */
#define DNSBL_WEIGHT_MAX 100000
#define DNSBL_MAX_REPLIES 16		/* A records kept per answer */
/* what a list answers is a name of the list's zone: the longest query
 * name is 72 characters of IPv6 nibbles, a dot and the domain */
#define DNSBL_QNAME_MAX (72 + 1 + DNSBL_DOMAIN_MAX)

/* Defaults: postscreen's where it has one (postscreen_dnsbl_threshold 1,
 * postscreen_dnsbl_timeout 10s, postscreen_dnsbl_min_ttl 60s,
 * postscreen_dnsbl_max_ttl 1h). */
#define DNSBL_DEF_THRESHOLD 1
#define DNSBL_DEF_PUSH_MAX 3600
#define DNSBL_DEF_TIMEOUT_MS 10000
#define DNSBL_DEF_MIN_TTL 60
#define DNSBL_DEF_MAX_TTL 3600

/* The reply filter: for each of the four octets, the values it takes. */
struct dnsbl_filter {
	uint64_t bits[4][4];		/* [octet][value / 64] bit value % 64 */
};

struct dnsbl_site {
	char domain[DNSBL_DOMAIN_MAX + 1];	/* lower case */
	bool has_filter;
	struct dnsbl_filter f;
	char filter[160];		/* as given, "" without one */
	int weight;
};

struct dnsbl_conf {
	struct dnsbl_site site[DNSBL_MAX_SITES];
	int n;
	int threshold;
	uint8_t action;			/* MXS_ACT_REJECT, _QUARANTINE or _SPAM */
	int64_t push_max;		/* seconds; 0: no push to the NIC */
	int timeout_ms;			/* a request waits this long at most */
	int64_t min_ttl, max_ttl;	/* seconds: the cache's bounds */
};

/* The defaults and no site. */
void dnsbl_conf_init(struct dnsbl_conf *cf);

/* Parse one SITE (DOMAIN[=FILTER][*WEIGHT]). 0, or -1 with the reason. */
int dnsbl_parse_site(const char *s, struct dnsbl_site *site, char *err, size_t errlen);
/* Parse FILTER alone. 0, or -1 with the reason (naming where it fails). */
int dnsbl_parse_filter(const char *s, struct dnsbl_filter *f, char *err, size_t errlen);
/* Does the reply a.b.c.d (network order) pass the filter? */
bool dnsbl_filter_match(const struct dnsbl_filter *f, const uint8_t a[4]);
/* The site as postscreen writes it: DOMAIN[=FILTER][*WEIGHT] (no *1). */
char *dnsbl_site_str(const struct dnsbl_site *site, char *buf, size_t len);
/* Same domain and filter (the key of an entry)? */
bool dnsbl_site_same(const struct dnsbl_site *a, const struct dnsbl_site *b);

/* Does a reply count for a site? A reply in 127.255.255.0/24 never does:
 * it is the list saying the query was refused (Spamhaus: 127.255.255.254
 * for a query through a public resolver, .255 for too many queries, .252
 * for a typo in the name) -- see dnsbl_reply_is_error(). Without a filter
 * any other reply counts; with one, what it matches. */
bool dnsbl_site_matches(const struct dnsbl_site *site, const uint8_t a[4]);
bool dnsbl_reply_is_error(const uint8_t a[4]);

/* The name to ask for @addr in @domain: reversed octets (IPv4) or
 * reversed nibbles (IPv6), then the domain. 0, or -1 (too long). */
int dnsbl_qname(const struct mxs_prefix *addr, const char *domain, char *buf, size_t len);

/* What one domain answered for an address. */
struct dnsbl_answer {
	int status;			/* DNSBL_LISTED, _NOT_LISTED, _FAILED */
	int n;				/* A records (LISTED) */
	uint8_t a[DNSBL_MAX_REPLIES][4];
	uint32_t ttl;			/* seconds, as cached (clamped) */
};
enum { DNSBL_NOT_LISTED, DNSBL_LISTED, DNSBL_FAILED };

/* An address's score over the configured sites, given each distinct
 * domain's answer (answer_of returns NULL for a domain with none: a
 * timeout or an error, which counts as not listed -- fail open). why gets
 * the matching entries, "zen.spamhaus.org=127.0.0.4*3 ..." (empty when
 * none matched); *ttl the least TTL of the answers of the sites that
 * matched with a positive weight (0: none). */
struct dnsbl_score {
	int score;
	int matched;			/* entries that matched */
	bool failed;			/* a domain had no answer */
	uint32_t ttl;
	char why[512];
};
void dnsbl_score(const struct dnsbl_conf *cf,
		 const struct dnsbl_answer *(*answer_of)(const char *domain, void *arg), void *arg,
		 struct dnsbl_score *out);

/* The configuration in the state directory (a missing file: the defaults,
 * no site). 0, or -1 with "FILE:LINE: reason" in err. */
int dnsbl_conf_load(const struct ctl *c, struct dnsbl_conf *cf, char *err, size_t errlen);
/* Write it whole, atomically (checksummed like every state file). 0, or 1
 * after ctl_err. */
int dnsbl_conf_save(const struct ctl *c, const struct dnsbl_conf *cf);

#endif
