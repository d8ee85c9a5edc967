/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The compiled classifier's walk, written once for the XDP program and the
 * controller. The includer first declares mxs_country_action() (see
 * precedence.h) and, for the
 * family and generation its ctx refers to:
 *
 *   static const __u32 *mxs_c_dir(void *ctx, __u32 i);
 *   static const struct mxs_cnode *mxs_c_node(void *ctx, __u32 i);
 *   static const __u32 *mxs_c_leaf(void *ctx, __u32 i);
 *   static struct mxs_crec *mxs_c_rec(void *ctx, __u32 i);
 *   static __u64 mxs_c_now(void *ctx);	CLOCK_TAI ns, asked for only
 *					when a record can expire
 *
 * (NULL when out of range). The key is the address as a 128-bit number
 * hi:lo, IPv4 in the top 32 bits of hi.
 */
#ifndef MXS_WALK_H
#define MXS_WALK_H

#include "precedence.h"

static __always_inline __u64 mxs_popcount(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* MXS_STRIDE bits of hi:lo starting at bit @off (0 = most significant). */
static __always_inline __u32 mxs_c_bits(__u64 hi, __u64 lo, __u32 off)
{
	if (off + MXS_STRIDE <= 64)
		return (hi >> (64 - MXS_STRIDE - off)) & ((1U << MXS_STRIDE) - 1);
	if (off >= 64)
		return (lo >> (128 - MXS_STRIDE - off)) & ((1U << MXS_STRIDE) - 1);
	return ((hi << (off + MXS_STRIDE - 64)) | (lo >> (128 - MXS_STRIDE - off))) &
	       ((1U << MXS_STRIDE) - 1);
}

/* The compiled value of the longest match of hi:lo. */
static __always_inline __u32 mxs_c_walk(void *ctx, int v6, __u64 hi, __u64 lo)
{
	__u32 dbits = v6 ? MXS_DIR_BITS_V6 : MXS_DIR_BITS_V4;
	__u32 levels = v6 ? MXS_LEVELS_V6 : MXS_LEVELS_V4;
	const struct mxs_cnode *n;
	const __u32 *p;
	__u32 v, off = dbits, i;

	p = mxs_c_dir(ctx, hi >> (64 - dbits));
	if (!p)
		return 0;
	v = *p;
	for (i = 0; i < MXS_LEVELS_V6; i++) {
		__u32 idx;
		__u64 mask;

		if (!(v & MXS_CV_NODE))
			return v;
		if (i >= levels)
			return 0;
		n = mxs_c_node(ctx, v & ~MXS_CV_NODE);
		if (!n)
			return 0;
		idx = mxs_c_bits(hi, lo, off);
		mask = ((__u64)2 << idx) - 1;	/* bits 0..idx */
		if ((n->vector >> idx) & 1) {
			v = MXS_CV_NODE | (n->base_node + mxs_popcount(n->vector & mask) - 1);
		} else {
			/* the child's run: the number of runs started at or
			 * before it, the first two in the node (no popcount) */
			__u64 runs = n->leafvec & mask, later = runs & (runs - 1);

			if (!later)
				return n->leaf[0];
			if (!(later & (later - 1)))
				return n->leaf[1];
			if ((n->base_leaf & MXS_CN_LASTFIRST) && !(n->leafvec & ~mask))
				return n->leaf[0];	/* the last run, as the first */
			p = mxs_c_leaf(ctx, (n->base_leaf & ~MXS_CN_LASTFIRST) +
						mxs_popcount(runs) - 3);
			return p ? *p : 0;
		}
		off += MXS_STRIDE;
	}
	return 0;
}

/* Follow a value past expired entries: the live record, or NULL with *val
 * left at the country / default value that decides instead. */
static __always_inline struct mxs_crec *mxs_c_resolve(void *ctx, __u32 *val)
{
	struct mxs_crec *r;
	int i;

	for (i = 0; i < MXS_CHAIN_STEPS; i++) {
		if (!MXS_CV_IS_REC(*val))
			return (void *)0;
		r = mxs_c_rec(ctx, *val);
		if (!r)
			break;
		if (!r->expires || r->expires > mxs_c_now(ctx))
			return r;
		*val = r->next;
	}
	*val = 0;
	return (void *)0;
}

/* Classify hi:lo with the compiled structure: fills *v as mxs_decide()
 * would, and returns the deciding record (for its hit counters) or NULL. */
static __always_inline struct mxs_crec *mxs_c_classify(void *ctx, int v6, __u64 hi,
						       __u64 lo, __u32 flags,
						       struct mxs_verdict *v, __u32 *rec_idx)
{
	__u32 val = mxs_c_walk(ctx, v6, hi, lo);
	struct mxs_crec *rec = mxs_c_resolve(ctx, &val);
	struct mxs_rule r = {};

	if (rec) {
		r.expires = rec->expires;
		r.ref = rec->ref;
		r.action = rec->action;
		r.list = rec->list;
		r.prefixlen = rec->prefixlen;
	} else if (val & MXS_CV_COUNTRY) {
		r.list = MXS_LIST_COUNTRY;
		r.ref = val & 0xffff;
	}
	mxs_finish(ctx, (rec || val) ? &r : (void *)0, flags, v);
	*rec_idx = val;
	return rec;
}

#endif /* MXS_WALK_H */
