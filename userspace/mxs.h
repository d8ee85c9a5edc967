/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mxshield controller: types and functions shared by its source files. */
#ifndef MXS_USER_H
#define MXS_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../maps/mxshield.h"

/* ------------------------------------------------------------- prefixes */

/* An IPv4 or IPv6 prefix. IPv4 uses addr[0..3]. */
struct mxs_prefix {
	int v6;			/* 0: IPv4, 1: IPv6 */
	uint8_t plen;
	uint8_t addr[16];
};

struct pfx_vec {
	struct mxs_prefix *v;
	uint32_t *ref;		/* optional per-prefix value (country index) */
	size_t n, cap;
};

int pfx_vec_push(struct pfx_vec *pv, const struct mxs_prefix *p, uint32_t ref);
void pfx_vec_free(struct pfx_vec *pv);

/* ----------------------------------------------------------------- parse.c
 * Parsers return 0 on success, or -1 after writing a one-line reason
 * (no trailing newline) into err[errlen]. */

#define MXS_ERRLEN 256

/* Format a reason into err[errlen]; returns -1 (for "return mxs_fail(...)"). */
int mxs_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int parse_prefix(const char *s, struct mxs_prefix *p, char *err, size_t errlen);
/* A single address (no "/len"); IPv4-mapped IPv6 becomes IPv4. */
int parse_addr(const char *s, struct mxs_prefix *p, char *err, size_t errlen);
/* "30s" "45m" "12h" "7d" (also combined "1d12h") -> seconds. */
int parse_duration(const char *s, int64_t *secs, char *err, size_t errlen);
/* ISO 3166-1 alpha-2, any case -> index 0..675; code[3] gets upper case. */
int parse_country(const char *s, uint32_t *idx, char code[3], char *err, size_t errlen);
int parse_action(const char *s, uint8_t *act, char *err, size_t errlen);
/* "25,465,587" -> ports[], 1..MXS_MAX_PORTS distinct ports. */
int parse_ports(const char *s, uint16_t *ports, uint32_t *n, char *err, size_t errlen);
/* A DNS domain name (letters, digits, hyphens, dots; labels 1-63). */
int parse_domain(const char *s, char *out, size_t outlen, char *err, size_t errlen);
/* Partner names: [A-Za-z0-9._-]{1,63}. */
int parse_name(const char *s, char *err, size_t errlen);

const char *action_name(uint8_t act);
const char *list_name(uint8_t list);
const char *reason_name(uint8_t reason);
void country_code(uint32_t idx, char out[3]);
/* "198.51.100.0/24" or "2001:db8::/32"; buf >= MXS_PFX_STRLEN */
#define MXS_PFX_STRLEN 64
char *prefix_str(const struct mxs_prefix *p, char *buf);
/* Zero the host bits. */
void prefix_mask(struct mxs_prefix *p);
bool prefix_contains(const struct mxs_prefix *outer, const struct mxs_prefix *inner);
/* The 16-byte key of the tags map (IPv4 as ::ffff:a.b.c.d). */
void prefix_to_tag_key(const struct mxs_prefix *p, struct mxs_addr *k);

/* ------------------------------------------------------------------ time */

/* The data plane compares expiry against CLOCK_TAI; state files keep
 * Unix seconds. These convert between the two. */
uint64_t unix_to_tai_ns(int64_t unix_secs);
int64_t tai_ns_to_unix(uint64_t tai_ns);
uint64_t now_tai_ns(void);
/* "in 6d23h", "expired 5m ago" */
char *fmt_remaining(int64_t unix_secs, char *buf, size_t len);

/* -------------------------------------------------------------- classify.c
 * The controller's side of mxs_decide(): the same precedence over the
 * pinned maps. lists_v4 / lists_v6 are the outer ARRAY_OF_MAPS fds. */

struct mxs_maps_view {
	int lists_v4;
	int lists_v6;
	int country_policy;
};

int mxs_classify(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		 uint32_t flags, uint64_t now_tai, struct mxs_verdict *v);
/* Longest live match of @addr in one list (for "also matches" output).
 * Returns 1 and fills *r when found. */
int mxs_list_match(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		   uint32_t list, uint64_t now_tai, struct mxs_rule *r);
/* Open the inner trie of @list for a family: fd or negative errno. */
int mxs_trie_fd(const struct mxs_maps_view *mv, uint32_t list, int v6);

/* ------------------------------------------------------------------ maps.c
 * Inner LPM tries. All return 0 / an fd, or a negative errno. */

int trie_create(int v6);
int trie_put(int fd, const struct mxs_prefix *p, const struct mxs_rule *r);
int trie_del(int fd, const struct mxs_prefix *p);
/* Exact-prefix read (not longest match). */
int trie_get(int fd, const struct mxs_prefix *p, struct mxs_rule *r);
/* Put many entries (batched where the kernel allows). rules[i] for p[i]. */
int trie_put_many(int fd, const struct mxs_prefix *p, const struct mxs_rule *rules,
		  size_t n);
/* Iterate a trie: cb returns non-zero to stop. */
int trie_walk(int fd, int v6,
	      int (*cb)(const struct mxs_prefix *p, const struct mxs_rule *r, void *arg),
	      void *arg);
/* Replace the inner trie of @list in an outer map (atomic for packets). */
int outer_set(int outer_fd, uint32_t list, int inner_fd);

/* ------------------------------------------------------------------ geo.c */

struct geo_meta {
	char type[64];		/* database_type */
	uint64_t build_epoch;
	uint64_t networks;	/* data-carrying networks walked */
	const char *schema;	/* "country.iso_code" or "country_code" */
};

/* Walk every network of a MaxMind-format database. Networks whose country
 * index has want[idx] set are appended to *out (ref = country index).
 * want may be NULL for all countries. per_country[676] (optional) counts
 * prefixes per country. Returns 0, or -1 with err. */
int geo_collect(const char *path, const uint8_t *want, struct pfx_vec *out,
		uint64_t *per_country, struct geo_meta *meta,
		char *err, size_t errlen);
/* Country of one address: 0 and code filled, 1 if not found, -1 on error. */
int geo_country_of(const char *path, const struct mxs_prefix *addr,
		   char code[3], char *err, size_t errlen);

#endif
