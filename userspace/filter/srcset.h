/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/srcset.c: the sources of an IP list, read together.
 *
 * An IP list (trust, gateway, block) holds the admin's own entries (the
 * "manual" source: the list's state files, state/ipstore.h) and any number
 * of named sources, each an ipstore of its own under the state directory:
 *
 *   sources/LIST/SOURCE.list, sources/LIST/SOURCE.journal
 *
 * "feed:NAME" for a feed, "dnsbl" for DNSBL pushes, "auto" for automatic
 * blocks. Each source is written by its own owner alone, so refreshing a
 * feed never touches the manual entries or another source.
 *
 * The compiled list is the union. A prefix listed by several sources is
 * one rule (src_combine): the manual entry when there is one (the admin's
 * word is final), else the most severe action of the live entries and the
 * latest expiry (never, if one never expires). Expired entries take no
 * part: an expired drop never hides a live spam.
 */
#ifndef MXS_SRCSET_H
#define MXS_SRCSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../state/ipstore.h"

struct ctl;
struct mxs_prefix;

/* Sources per list, manual aside, and the longest source name. */
#define SRC_MAX 32
#define SRC_NAMELEN 48
#define SRC_MANUAL "manual"

/* A source name: "dnsbl", "auto" or "feed:NAME", NAME of letters, digits,
 * '-', '_' and '.', not starting with '.', at most 32 bytes. 0, or -1 with
 * @err set. */
int src_valid(const char *src, char *err, size_t errlen);
/* The ipstore name of source @src of list @list ("sources/block/dnsbl");
 * the manual source (@src NULL or "manual") is the list itself. */
void src_store_name(const char *list, const char *src, char *buf, size_t len);
/* The sources of @list on disk, sorted, manual aside: how many (at most
 * @max into @names), or -1 after printing an error. */
int src_names(const struct ctl *c, const char *list, char names[][SRC_NAMELEN], int max);
/* Make sure sources/LIST exists (0700). 0, or 1 after an error. */
int src_mkdir(const struct ctl *c, const char *list);

/* A store standing in for one store's files (changes not yet on disk). */
struct src_over {
	const char *list;
	const char *src;	/* NULL: the manual entries */
	const struct store *s;
};

struct srcset {
	const char *list;
	int n;					/* stores: [0] manual, then sources */
	char name[SRC_MAX + 1][SRC_NAMELEN];	/* [0] is SRC_MANUAL */
	struct store own[SRC_MAX + 1];
	const struct store *st[SRC_MAX + 1];	/* own[i], or an override */
	bool opened[SRC_MAX + 1];
};

/* Open every source of @list (@ov, when it names one of them or a source
 * not yet on disk, stands in for it). 0, or 1 after printing an error. */
int srcset_open(const struct ctl *c, const char *list, const struct src_over *ov,
		struct srcset *set);
void srcset_close(struct srcset *set);
/* The index of source @src in @set, or -1. */
int srcset_index(const struct srcset *set, const char *src);

/*
 * The merged list, in prefix order: for each prefix with a live entry, one
 * call of @cb with the combined entry, its comment (the deciding source's)
 * and the set of sources listing it (bit i: set->name[i]). With @span, only
 * the entries that cover it or lie inside it. Returns what @cb returned
 * when not 0, or -1 when out of memory.
 */
typedef int (*src_cb)(const struct st_ent *e, const char *comment, uint64_t srcs, void *arg);
int srcset_merge(const struct srcset *set, int64_t now, const struct mxs_prefix *span,
		 src_cb cb, void *arg);
/* The combined live entry with exactly prefix @p: true and *out, *comment,
 * *srcs filled, or false. */
bool srcset_find(const struct srcset *set, int64_t now, const struct mxs_prefix *p,
		 struct st_ent *out, const char **comment, uint64_t *srcs);
/* "manual,feed:x" for the bits of @srcs. */
void srcset_names_of(const struct srcset *set, uint64_t srcs, char *buf, size_t len);

#endif
