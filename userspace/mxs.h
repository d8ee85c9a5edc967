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

/* FNV-1a over @n bytes, continuing from @h (start: MXS_HASH_SEED), with a
 * final fold so that low bits index hash tables well. */
#define MXS_HASH_SEED 0xcbf29ce484222325ULL
uint64_t mxs_hash(const void *p, size_t n, uint64_t h);
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
/* A CLOCK_MONOTONIC_COARSE stamp (hit times) as unix seconds; 0 stays 0. */
int64_t mono_ns_to_unix(uint64_t mono_ns);
uint64_t now_tai_ns(void);
/* "in 6d23h", "expired 5m ago" */
char *fmt_remaining(int64_t unix_secs, char *buf, size_t len);

/* ------------------------------------------------------------- compile.c
 * Entries of every list -> the compiled classifier (maps/mxshield.h). */

/* Entries with their trie-style values (list, action, expires, ref). */
struct rule_vec {
	struct mxs_prefix *p;
	struct mxs_rule *r;
	size_t n, cap;
};

int rule_vec_push(struct rule_vec *v, const struct mxs_prefix *p, const struct mxs_rule *r);
void rule_vec_free(struct rule_vec *v);

/* One family's compiled arrays, in memory. rec[0] is unused. */
struct ctable {
	int v6;
	uint32_t *dir;
	size_t ndir;
	struct mxs_cnode *node;
	size_t nnode, capnode;
	uint32_t *leaf;
	size_t nleaf, capleaf;
	struct mxs_crec *rec;
	size_t nrec, caprec;
	size_t nranges;		/* distinct ranges after merging */
};

int mxs_compile(int v6, const struct rule_vec *in, struct ctable *t, char *err, size_t errlen);
/* Stable LSD radix sort of n 48-bit keys k[], carrying ix[] along (three
 * 16-bit passes). 0, or -ENOMEM. */
int mxs_radix48(uint64_t *k, uint32_t *ix, size_t n);
/* Only first-stage slots [first, first + n): t->dir[0..n), node, leaf and
 * rec indices local to @t. @in needs only the entries that meet them. */
int mxs_compile_span(int v6, const struct rule_vec *in, size_t first, size_t n,
		     struct ctable *t, char *err, size_t errlen);
void ctable_free(struct ctable *t);
/* Shift every node, leaf and record index in @t by these offsets (its
 * arrays are to sit behind others'). */
void ctable_shift(struct ctable *t, uint32_t noff, uint32_t loff, uint32_t roff);
/* The first-stage slots a change of prefix @p touches: [*first, *first +
 * *n), which together are the network *span (p itself when it is shorter
 * than the first stage). 0, or -1 when they are more than MXS_PATCH_SLOTS
 * (a full build is then cheaper than patching in place). */
#define MXS_PATCH_SLOTS 4096
int mxs_patch_span(const struct mxs_prefix *p, struct mxs_prefix *span, size_t *first,
		   size_t *n);

/* -------------------------------------------------------------- cmaps.c
 * Compiled tables in BPF maps: install a build, read it back. */

struct mxs_maps_view {
	int country_policy;
	int c_gen, c_dir, c_node, c_leaf, c_rec;	/* see bpf/mxshield.bpf.c */
	int hit_batch;		/* per-CPU pending hits; <= 0: none */
};

struct cinfo {
	size_t entries[2], ranges[2], nodes[2], leaves[2], recs[2];
	uint64_t bytes[2];	/* kernel memory of the arrays */
	double compile_s, load_s;
};

/* Compile fam[0] (IPv4) and fam[1] (IPv6), put them into fresh maps of the
 * idle generation and flip c_gen: packets see the old build or the new,
 * never a mix. Hit counters carry over by entry. 0, or -1 with err. */
int cmaps_install(const struct mxs_maps_view *mv, const struct rule_vec fam[2],
		  struct cinfo *info, char *err, size_t errlen);
/* The same, calling @before_switch (when given) once the new build is in
 * place and before it goes live: non-zero from it leaves the old build
 * live and returns -2 (the hook has reported why). */
int cmaps_install_hook(const struct mxs_maps_view *mv, const struct rule_vec fam[2],
		       struct cinfo *info, int (*before_switch)(void *arg), void *arg,
		       char *err, size_t errlen);
/* The state stamp of the live build (all zero when none is live or it
 * was never stamped), and setting it. 0, or a negative errno. */
int cmaps_stamp_get(const struct mxs_maps_view *mv, struct mxs_cfill *fill);
int cmaps_stamp_set(const struct mxs_maps_view *mv, const uint64_t seq[3], uint32_t other);
/* Rebuild first-stage slots [first, first + n) of family @v6 of the live
 * build in place from @in (the entries that meet those slots): the new
 * parts go into the spare room, then each slot switches with one write.
 * 0 done; 1 when it cannot (no live build, no room left: install a full
 * build instead); -1 with err. */
/* Spare elements beyond 1/MXS_CSPARE (tests lower it to run out of room). */
extern size_t cmaps_spare_min;
int cmaps_patch(const struct mxs_maps_view *mv, int v6, const struct rule_vec *in,
		size_t first, size_t n, struct cinfo *info, char *err, size_t errlen);
/* The inner map in @slot of an outer map: an fd, or a negative errno. */
int cmaps_inner_fd(int outer, __u32 slot);
/* Is a build live? 1 yes, 0 no, negative errno. */
int cmaps_live(const struct mxs_maps_view *mv);
/* Fill counts of the live build of a family, and the capacity of its
 * node, leaf and rec maps (cap[0..2]). 0, or a negative errno. */
int cmaps_fill(const struct mxs_maps_view *mv, int v6, struct mxs_cfill *fill,
	       uint32_t cap[3]);
/* The outer maps of a build's arrays, in their order: 0 dir, 1 node,
 * 2 leaf, 3 rec. */
void cmaps_outer(const struct mxs_maps_view *mv, int out[4]);
/* The value size of a build's array @w (in that order). */
uint32_t cmaps_vsize(int w);
/* Kernel memory of the compiled maps of both generations, per family. */
int cmaps_memory(const struct mxs_maps_view *mv, uint64_t bytes[2]);

/* Hit counters of the live build, by entry. */
struct hitmap {
	struct hit_ent *e;
	size_t mask, n;
};
int hitmap_load(const struct mxs_maps_view *mv, struct hitmap *h);
/* 1 and the counters when the entry (list, prefix) decided packets. */
int hitmap_get(const struct hitmap *h, uint8_t list, const struct mxs_prefix *p,
	       uint64_t *hits, uint64_t *last_hit);
void hitmap_free(struct hitmap *h);
/* Keep the hit counters of @old (the maps of an upgrade's old layout) for
 * the next full build. */
void cmaps_carry_hits(const struct mxs_maps_view *old);

/* -------------------------------------------------------------- classify.c
 * The controller's classifier: the XDP program's walk (mxs_c_classify() of
 * maps/mxshield.h) over the live build in the pinned maps. */

int mxs_classify(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		 uint32_t flags, uint64_t now_tai, struct mxs_verdict *v);
/* Where mxs_classify() gets an fd of the live build's array in @slot of the
 * outer map @outer (closed after use): cmaps_inner_fd() by default, which
 * needs CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID); the policy service, which
 * runs without it, puts its own here (userspace/policy.c). */
extern int (*mxs_inner_fd)(int outer, __u32 slot);

/* ------------------------------------------------------------------ maps.c
 * LPM tries of the reference classifier (tests and benchmarks). All
 * return 0 / an fd, or a negative errno. */

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
/* The same for the networks that meet @under only. */
int geo_collect_under(const char *path, const uint8_t *want, const struct mxs_prefix *under,
		      struct pfx_vec *out, char *err, size_t errlen);
/* Country of one address: 0 and code filled, 1 if not found, -1 on error. */
int geo_country_of(const char *path, const struct mxs_prefix *addr,
		   char code[3], char *err, size_t errlen);

#endif
