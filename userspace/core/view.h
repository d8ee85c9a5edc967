/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned maps of a loaded filter that the controller reads and writes,
 * as open fds (filled by filter/loader.c, used by filter/install.c and
 * filter/classify.c).
 */
#ifndef MXS_VIEW_H
#define MXS_VIEW_H

#include <linux/types.h>

struct mxs_maps_view {
	int country_policy;
	int c_gen, c_dir, c_node, c_leaf, c_rec;	/* see maps/maps.bpf.h */
	int hit_batch;		/* per-CPU pending hits; <= 0: none */
};

#endif
