/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/install.c: compiled builds in the BPF maps -- install a build with
 * a generation flip, patch the live one in place, stamp it with the state
 * it carries, read its fill, memory and hit counters back.
 */
#ifndef MXS_INSTALL_H
#define MXS_INSTALL_H

#include "compile.h"
#include "../core/view.h"

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
int cmaps_stamp_set(const struct mxs_maps_view *mv, const uint64_t seq[MXS_STATE_LISTS], uint32_t other);
/* Rebuild first-stage slots [first, first + n) of family @v6 of the live
 * build in place from @in (the entries that meet those slots): the new
 * parts go into the spare room, then each slot switches with one write.
 * 0 done; 1 when it cannot (no live build, no room left: install a full
 * build instead); -1 with err. */
/* Spare elements beyond 1/MXS_CSPARE (tests lower it to run out of room). */
extern size_t cmaps_spare_min;
/* Keep the live build's writable mappings from one cmaps_patch to the
 * next (on), or let them go (off): a batch of patches maps each array
 * once instead of once a patch. */
void cmaps_patch_batch(bool on);
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
/* The live build's in-place patches since it was built, and the share
 * (0..1) of its spare room used: the fullest of its node, leaf and rec
 * maps. 0, or a negative errno (no build, or maps of no size). */
int cmaps_room(const struct mxs_maps_view *mv, int v6, uint32_t *patches, double *used);
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
/* Call @fn for every entry with hits, in no particular order; a non-zero
 * return from @fn stops the walk and is returned. */
int hitmap_each(const struct hitmap *h,
		int (*fn)(uint8_t list, const struct mxs_prefix *p, uint64_t hits,
			  uint64_t last_hit, void *arg),
		void *arg);
void hitmap_free(struct hitmap *h);
/* Keep the hit counters of @old (the maps of an upgrade's old layout) for
 * the next full build. */
void cmaps_carry_hits(const struct mxs_maps_view *old);

#endif
