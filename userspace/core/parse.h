/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/parse.c: prefixes and addresses, the parsers of every value an admin
 * types (prefixes, durations, countries, actions, ports, domains, names),
 * the names of the contract's enums, and the clocks.
 * Parsers return 0 on success, or -1 after writing a one-line reason
 * (no trailing newline) into err[errlen].
 */
#ifndef MXS_PARSE_H
#define MXS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../../maps/contract.h"

/* An IPv4 or IPv6 prefix. IPv4 uses addr[0..3]. */
struct mxs_prefix {
	int v6;			/* 0: IPv4, 1: IPv6 */
	uint8_t plen;
	uint8_t addr[16];
};

/* FNV-1a over @n bytes, continuing from @h (start: MXS_HASH_SEED), with a
 * final fold so that low bits index hash tables well. */
#define MXS_HASH_SEED 0xcbf29ce484222325ULL
uint64_t mxs_hash(const void *p, size_t n, uint64_t h);

#define MXS_ERRLEN 256

/* Format a reason into err[errlen]; returns -1 (for "return mxs_fail(...)"). */
int mxs_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int parse_prefix(const char *s, struct mxs_prefix *p, char *err, size_t errlen);
/* A single address (no "/len"); IPv4-mapped IPv6 becomes IPv4. */
int parse_addr(const char *s, struct mxs_prefix *p, char *err, size_t errlen);
/* "30s" "45m" "12h" "7d" (also combined "1d12h") -> seconds. */
int parse_duration(const char *s, int64_t *secs, char *err, size_t errlen);
/* When an entry expires: a duration from @now ("7d"), an absolute UTC time
 * "2026-12-07T10:00:00Z" (what `list --format import` writes), or "never"
 * (0). */
int parse_expiry(const char *s, int64_t now, int64_t *when, char *err, size_t errlen);
/* "2026-12-07T10:00:00Z" (UTC), or "never" for 0. buf >= 24. */
char *fmt_time(int64_t unix_secs, char *buf, size_t len);
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
/* Do two prefixes share an address (one contains the other)? */
bool prefix_meets(const struct mxs_prefix *a, const struct mxs_prefix *b);
/* The last address of @p (a full-length prefix). */
void prefix_last(struct mxs_prefix *p);
/* The 16-byte key of the tags map (IPv4 as ::ffff:a.b.c.d). */
void prefix_to_tag_key(const struct mxs_prefix *p, struct mxs_addr *k);

/* ------------------------------------------------------------------ time */

/* The data plane compares expiry against CLOCK_TAI; state files keep
 * Unix seconds. These convert between the two. */
uint64_t unix_to_tai_ns(int64_t unix_secs);
int64_t tai_ns_to_unix(uint64_t tai_ns);
/* The same in nanoseconds (drop events' times). */
int64_t tai_ns_to_unix_ns(uint64_t tai_ns);
/* A CLOCK_MONOTONIC_COARSE stamp (hit times) as unix seconds; 0 stays 0. */
int64_t mono_ns_to_unix(uint64_t mono_ns);
uint64_t now_tai_ns(void);
/* "in 6d23h", "expired 5m ago" */
char *fmt_remaining(int64_t unix_secs, char *buf, size_t len);

#endif
