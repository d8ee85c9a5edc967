/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/classify.c: the controller's classifier, the XDP program's walk
 * (maps/walk.h) over the live build in the pinned maps.
 */
#ifndef MXS_CLASSIFY_H
#define MXS_CLASSIFY_H

#include "../core/parse.h"
#include "../core/view.h"

int mxs_classify(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		 uint32_t flags, uint64_t now_tai, struct mxs_verdict *v);
/* Where mxs_classify() gets an fd of the live build's array in @slot of the
 * outer map @outer (closed after use): cmaps_inner_fd() by default, which
 * needs CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID); the policy service, which
 * runs without it, puts its own here (userspace/mta/policy_service.c). */
extern int (*mxs_inner_fd)(int outer, __u32 slot);

#endif
