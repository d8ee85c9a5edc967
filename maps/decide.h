/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mxs_decide(): the reference classifier, the precedence rule of
 * precedence.h applied list by list (one lookup per list, in order).
 *
 * The includer first declares
 *
 *   static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out)
 *
 * which looks the source address up in one list's trie, limited to prefixes
 * of length <= plen, copies the longest match into *out and returns 1, or
 * returns 0 for no match; and
 *
 *   static __u8 mxs_country_action(void *ctx, __u32 cc)
 *
 * which returns the policy action of a country index.
 *
 * Who uses it: the controller's compiler (userspace/filter/compile.c) calls
 * mxs_winner() for every elementary address range over the entries that
 * cover it, so the compiled structure holds exactly this precedence; the
 * reference build of the XDP program (-DMXS_REFERENCE: one LPM trie per
 * list) calls mxs_decide() per packet, and the differential test requires
 * both to agree. mxs_finish() turns a winning entry into a verdict for both.
 */
#ifndef MXS_DECIDE_H
#define MXS_DECIDE_H

#include "precedence.h"

static __always_inline int mxs_match_live(void *ctx, __u32 list, __u8 maxplen,
					  __u64 now, struct mxs_rule *r)
{
	__u8 plen = maxplen;
	int i;

	/* An expired entry stops matching: step past it to the next shorter
	 * entry covering the address, at most MXS_EXPIRED_STEPS times. */
	for (i = 0; i < MXS_EXPIRED_STEPS; i++) {
		if (!mxs_match(ctx, list, plen, r))
			return 0;
		if (!r->expires || r->expires > now)
			return 1;
		if (r->prefixlen == 0)
			return 0;
		plen = r->prefixlen - 1;
	}
	return 0;
}

/* The winning live entry over all lists, in precedence order (the
 * gateway-only switch does not change which entry wins, only its effect). */
static __always_inline int mxs_winner(void *ctx, __u8 maxplen, __u64 now,
				      struct mxs_rule *r)
{
	__u32 l;

	for (l = MXS_LIST_TRUST; l < MXS_LIST_MAX; l++)
		if (mxs_match_live(ctx, l, maxplen, now, r))
			return 1;
	return 0;
}

static __always_inline void mxs_decide(void *ctx, __u8 maxplen, __u64 now,
				       __u32 flags, struct mxs_verdict *v)
{
	struct mxs_rule r;

	mxs_finish(ctx, mxs_winner(ctx, maxplen, now, &r) ? &r : (void *)0, flags, v);
}

#endif /* MXS_DECIDE_H */
