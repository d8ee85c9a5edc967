/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tests/ref/tries.c: the LPM tries of the reference classifier (one trie per
 * list, the XDP program built with -DMXS_REFERENCE), for the differential
 * tests and the benchmarks' baseline. All return 0 / an fd, or a negative
 * errno.
 */
#ifndef MXS_TRIES_H
#define MXS_TRIES_H

#include "../../userspace/core/parse.h"

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

#endif
