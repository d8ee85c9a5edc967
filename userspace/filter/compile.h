/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/compile.c: the entries of every list -> the compiled classifier
 * (maps/walk.h), with the precedence of maps/precedence.h resolved at build
 * time.
 */
#ifndef MXS_COMPILE_H
#define MXS_COMPILE_H

#include "../core/parse.h"

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

#endif
