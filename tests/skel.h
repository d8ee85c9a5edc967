/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The production XDP program loaded for a BPF test: nothing pinned,
 * nothing reused, and the view of its maps the controller's code takes. */
#ifndef MXS_TEST_SKEL_H
#define MXS_TEST_SKEL_H

#include <bpf/libbpf.h>
#include "core/view.h"
#include "mxshield.skel.h"

/* The loaded skeleton (NULL on failure), *mv filled from its maps. */
static inline struct mxshield_bpf *skel_load_unpinned(struct mxs_maps_view *mv)
{
	struct mxshield_bpf *skel = mxshield_bpf__open();
	struct bpf_map *m;

	if (!skel)
		return NULL;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (mxshield_bpf__load(skel)) {
		mxshield_bpf__destroy(skel);
		return NULL;
	}
	mv->country_policy = bpf_map__fd(skel->maps.country_policy);
	mv->c_gen = bpf_map__fd(skel->maps.c_gen);
	mv->c_dir = bpf_map__fd(skel->maps.c_dir);
	mv->c_node = bpf_map__fd(skel->maps.c_node);
	mv->c_leaf = bpf_map__fd(skel->maps.c_leaf);
	mv->c_rec = bpf_map__fd(skel->maps.c_rec);
	mv->hit_batch = bpf_map__fd(skel->maps.hit_batch);
	return skel;
}

#endif
