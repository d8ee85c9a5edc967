// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Compiled builds in BPF maps. A build is four array maps per family
 * (dir, node, leaf, rec), created at their exact size, filled through mmap,
 * and put into the idle generation's slots of the outer maps c_dir, c_node,
 * c_leaf, c_rec; then c_gen flips, one 4-byte write. Packets read c_gen
 * once, so each sees the old build or the new, never a mix. After a grace
 * period the previous build's node, leaf and rec maps give way to tiny
 * ones (release_build); the kernel frees a replaced inner map after
 * another grace period, off the data path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "install.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void cmaps_outer(const struct mxs_maps_view *mv, int out[4])
{
	out[0] = mv->c_dir;
	out[1] = mv->c_node;
	out[2] = mv->c_leaf;
	out[3] = mv->c_rec;
}

/* c_gen counts builds up; its low bit is the live generation. */
static int live_build(const struct mxs_maps_view *mv, uint32_t *build)
{
	__u32 zero = 0;

	*build = 0;
	if (bpf_map_lookup_elem(mv->c_gen, &zero, build))
		return -errno;
	return 0;
}

static int live_gen(const struct mxs_maps_view *mv, uint32_t *gen)
{
	int e = live_build(mv, gen);

	*gen &= 1;
	return e;
}

int cmaps_inner_fd(int outer, __u32 slot)
{
	__u32 id = 0;
	int fd;

	if (bpf_map_lookup_elem(outer, &slot, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

/* The arrays of a build, by their index in the outer maps' order (dir,
 * node, leaf, rec): their maps' names and value sizes. */
static const struct {
	const char *name;
	uint32_t vsize;
} arr[4] = {
	{ "mxs_c_dir", sizeof(struct mxs_cline) },
	{ "mxs_c_node", sizeof(struct mxs_cnode) },
	{ "mxs_c_leaf", sizeof(struct mxs_cline) },
	{ "mxs_c_rec", sizeof(struct mxs_crec) },
};

uint32_t cmaps_vsize(int w)
{
	return arr[w].vsize;
}

/* A map for array @w of @n elements holding @len bytes of @data. */
static int make_array(int w, size_t n, const void *data, size_t len, uint64_t *bytes)
{
	/* the first stage has one size (MXS_DIR_LINES); the others vary */
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE |
			(w ? BPF_F_INNER_MAP : 0));
	const char *name = arr[w].name;
	uint32_t vsize = arr[w].vsize;
	size_t pg = sysconf(_SC_PAGESIZE), sz;
	void *m;
	int fd;

	if (!n)
		n = 1;
	if (n > UINT32_MAX)
		return -E2BIG;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, vsize, n, &o);
	if (fd < 0)
		return -errno;
	sz = (n * vsize + pg - 1) / pg * pg;
	*bytes += sz;
	if (!len)
		return fd;
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int e = -errno;

		close(fd);
		return e;
	}
	memcpy(m, data, len);
	munmap(m, sz);
	return fd;
}

/*
 * The writable mappings of the live build kept over a batch of patches
 * (cmaps_patch_batch): mapping a BPF array maps all its pages at once
 * (remap_vmalloc_range), some 30,000 for the four arrays of a build of 1M
 * prefixes and over 1,000 for the first stage alone, so that mapping them
 * afresh for every patch made a patch of one /32 cost milliseconds, most
 * of a batch of single pushes (filter/source.c). An entry is used again
 * only while the live build is the same (c_gen's count, which every full
 * build moves on; patches do not): a full build in between (a patch with
 * no room left) has new maps, and the old mapping goes.
 */
static struct {
	bool on;
	struct {
		__u32 build;
		void *m;
		size_t len, n;
	} e[2][4];
} pmap;

void cmaps_patch_batch(bool on)
{
	for (int v6 = 0; !on && v6 < 2; v6++)
		for (int w = 0; w < 4; w++)
			if (pmap.e[v6][w].m)
				munmap(pmap.e[v6][w].m, pmap.e[v6][w].len);
	if (!on)
		memset(&pmap, 0, sizeof(pmap));
	pmap.on = on;
}

/* Map the live build's @which array (0 dir, 1 node, 2 leaf, 3 rec) of a
 * family with @prot. Returns the mapping and its element count, or NULL
 * (errno set). In a batch, writable mappings are kept (see pmap): the
 * caller does not unmap them. */
static void *map_live(const struct mxs_maps_view *mv, int v6, int which, int prot, size_t *n,
		      size_t *len)
{
	struct bpf_map_info info = {};
	__u32 il = sizeof(info), gen, build = 0;
	size_t pg = sysconf(_SC_PAGESIZE);
	int outer[4], fd;
	void *m;

	if (pmap.on && (prot & PROT_WRITE) && !live_build(mv, &build) &&
	    pmap.e[v6][which].m && pmap.e[v6][which].build == build) {
		*n = pmap.e[v6][which].n;
		*len = pmap.e[v6][which].len;
		return pmap.e[v6][which].m;
	}
	cmaps_outer(mv, outer);
	if (live_gen(mv, &gen))
		return NULL;
	fd = cmaps_inner_fd(outer[which], MXS_CSLOT(gen, v6));
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &il)) {
		close(fd);
		return NULL;
	}
	if (info.value_size != arr[which].vsize) {
		close(fd);	/* maps of another layout */
		errno = EPROTO;
		return NULL;
	}
	*len = ((size_t)info.value_size * info.max_entries + pg - 1) / pg * pg;
	if (pmap.on && (prot & PROT_WRITE)) {
		__typeof__(pmap.e[0][0]) *e = &pmap.e[v6][which];

		if (e->m)
			munmap(e->m, e->len);
		memset(e, 0, sizeof(*e));
		m = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return NULL;
		*e = (__typeof__(*e)){ .build = build, .m = m, .len = *len,
				       .n = info.max_entries };
		*n = info.max_entries;
		return m;
	}
	m = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	*n = info.max_entries;
	return m;
}

int cmaps_fill(const struct mxs_maps_view *mv, int v6, struct mxs_cfill *fill,
	       uint32_t cap[3])
{
	size_t n[3] = {}, len[3] = {};
	void *m[3];
	int rc = -ENOENT;

	memset(fill, 0, sizeof(*fill));
	for (int w = 1; w < 4; w++)
		m[w - 1] = map_live(mv, v6, w, PROT_READ, &n[w - 1], &len[w - 1]);
	if (m[0] && m[1] && m[2]) {
		*fill = *(struct mxs_cfill *)m[2];
		cap[0] = n[0];
		cap[1] = n[1] * MXS_CLINE;
		cap[2] = n[2];
		rc = 0;
	}
	for (int w = 0; w < 3; w++)
		if (m[w])
			munmap(m[w], len[w]);
	return rc;
}

int cmaps_room(const struct mxs_maps_view *mv, int v6, uint32_t *patches, double *used)
{
	struct mxs_cfill f;
	uint32_t cap[3];
	int err = cmaps_fill(mv, v6, &f, cap);

	if (err)
		return err;
	if (!cap[0] || !cap[1] || !cap[2])
		return -ENOENT;
	*used = (double)f.nodes / cap[0];
	if ((double)f.leaves / cap[1] > *used)
		*used = (double)f.leaves / cap[1];
	if ((double)f.recs / cap[2] > *used)
		*used = (double)f.recs / cap[2];
	*patches = f.patches;
	return 0;
}

int cmaps_live(const struct mxs_maps_view *mv)
{
	uint32_t gen;
	int fd, e = live_gen(mv, &gen);

	if (e)
		return e;
	fd = cmaps_inner_fd(mv->c_dir, MXS_CSLOT(gen, 0));
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	close(fd);
	return 1;
}

int cmaps_memory(const struct mxs_maps_view *mv, uint64_t bytes[2])
{
	int outer[4];

	cmaps_outer(mv, outer);
	bytes[0] = bytes[1] = 0;
	/* both generations: what the kernel holds */
	for (int s = 0; s < MXS_CSLOTS; s++) {
		int v6 = s & 1;

		for (int w = 0; w < 4; w++) {
			struct bpf_map_info info = {};
			__u32 il = sizeof(info);
			int fd = cmaps_inner_fd(outer[w], s);

			if (fd < 0)
				continue;
			if (!bpf_obj_get_info_by_fd(fd, &info, &il))
				bytes[v6] += (uint64_t)info.value_size * info.max_entries;
			close(fd);
		}
	}
	return 0;
}

/* ------------------------------------------------------------- hitmap */

struct hit_ent {
	uint8_t used, list, plen, v6;
	uint8_t addr[16];
	uint64_t hits, last_hit;
	bool given;		/* carried over into a new build already */
};

static uint64_t hit_hash(uint8_t list, int v6, uint8_t plen, const uint8_t *a)
{
	return mxs_hash(a, 16, MXS_HASH_SEED ^ ((uint64_t)list << 16 | v6 << 8 | plen));
}

static struct hit_ent *hit_find(const struct hitmap *h, uint8_t list, int v6, uint8_t plen,
				const uint8_t *a, bool *found)
{
	size_t i;

	for (i = hit_hash(list, v6, plen, a) & h->mask; h->e[i].used; i = (i + 1) & h->mask) {
		struct hit_ent *e = &h->e[i];

		if (e->list == list && e->v6 == v6 && e->plen == plen && !memcmp(e->addr, a, 16)) {
			*found = true;
			return e;
		}
	}
	*found = false;
	return &h->e[i];
}

/* Hits the CPUs have counted but not yet added to the records of the live
 * build (struct mxs_hitbatch), whose records are r[v6][0..n[v6]): into the
 * map. */
static void hitmap_pending(const struct mxs_maps_view *mv, struct hitmap *h,
			   struct mxs_crec *const r[2], const size_t n[2])
{
	int ncpu = libbpf_num_possible_cpus();
	struct mxs_hitbatch *b;
	uint32_t build;

	if (mv->hit_batch <= 0 || ncpu <= 0 || !h->e || live_build(mv, &build))
		return;
	b = calloc(ncpu, sizeof(*b));
	for (__u32 k = 0; b && k < MXS_HIT_SLOTS; k++) {
		if (bpf_map_lookup_elem(mv->hit_batch, &k, b))
			break;
		for (int cpu = 0; cpu < ncpu; cpu++) {
			int v6 = b[cpu].slot & 1;
			const struct mxs_crec *x;
			struct hit_ent *e;
			bool f;

			if (!b[cpu].pending || b[cpu].build != build ||
			    b[cpu].slot != MXS_CSLOT(build & 1, v6) || !r[v6] ||
			    b[cpu].val >= n[v6])
				continue;
			x = &r[v6][b[cpu].val];
			e = hit_find(h, x->list, v6, x->prefixlen, x->addr, &f);
			if (f)
				e->hits += b[cpu].pending;
		}
	}
	free(b);
}

int hitmap_load(const struct mxs_maps_view *mv, struct hitmap *h)
{
	struct mxs_crec *recs[2];
	size_t nrec[2] = {}, lens[2] = {};
	int rc = 0;

	memset(h, 0, sizeof(*h));
	for (int v6 = 0; v6 < 2; v6++)
		recs[v6] = map_live(mv, v6, 3, PROT_READ, &nrec[v6], &lens[v6]);
	for (int v6 = 0; v6 < 2 && !rc; v6++) {
		struct mxs_crec *r = recs[v6];
		size_t n = nrec[v6], want;

		if (!r)
			continue;
		want = (h->n + n) * 2;
		if (want > h->mask) {
			size_t mask = 1023;
			struct hitmap nh;

			while (mask < want)
				mask = mask * 2 + 1;
			nh.e = calloc(mask + 1, sizeof(*nh.e));
			nh.mask = mask;
			nh.n = h->n;
			if (!nh.e) {
				rc = -ENOMEM;
				break;
			}
			for (size_t i = 0; h->e && i <= h->mask; i++) {
				bool f;

				if (h->e[i].used)
					*hit_find(&nh, h->e[i].list, h->e[i].v6, h->e[i].plen,
						  h->e[i].addr, &f) = h->e[i];
			}
			free(h->e);
			*h = nh;
		}
		for (size_t i = 1; i < n; i++) {
			bool f;
			struct hit_ent *e;

			if (!r[i].hits)
				continue;
			e = hit_find(h, r[i].list, v6, r[i].prefixlen, r[i].addr, &f);
			if (!f) {
				memset(e, 0, sizeof(*e));
				e->used = 1;
				e->list = r[i].list;
				e->v6 = v6;
				e->plen = r[i].prefixlen;
				memcpy(e->addr, r[i].addr, 16);
				h->n++;
			}
			e->hits += r[i].hits;
			if (r[i].last_hit > e->last_hit)
				e->last_hit = r[i].last_hit;
		}
	}
	if (!rc)
		hitmap_pending(mv, h, recs, nrec);
	for (int v6 = 0; v6 < 2; v6++)
		if (recs[v6])
			munmap(recs[v6], lens[v6]);
	return rc;
}

int hitmap_get(const struct hitmap *h, uint8_t list, const struct mxs_prefix *p,
	       uint64_t *hits, uint64_t *last_hit)
{
	uint8_t a[16] = {};
	struct hit_ent *e;
	bool f;

	if (!h->e)
		return 0;
	memcpy(a, p->addr, p->v6 ? 16 : 4);
	e = hit_find(h, list, p->v6, p->plen, a, &f);
	if (!f)
		return 0;
	*hits = e->hits;
	*last_hit = e->last_hit;
	return 1;
}

int hitmap_each(const struct hitmap *h,
		int (*fn)(uint8_t list, const struct mxs_prefix *p, uint64_t hits,
			  uint64_t last_hit, void *arg),
		void *arg)
{
	for (size_t i = 0; h->e && i <= h->mask; i++) {
		const struct hit_ent *e = &h->e[i];
		struct mxs_prefix p = { .v6 = e->v6, .plen = e->plen };
		int rc;

		if (!e->used)
			continue;
		memcpy(p.addr, e->addr, 16);
		rc = fn(e->list, &p, e->hits, e->last_hit, arg);
		if (rc)
			return rc;
	}
	return 0;
}

void hitmap_free(struct hitmap *h)
{
	free(h->e);
	memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------ install */

/* Hit counters read from the maps of an upgrade's old layout, for the
 * first build into the new ones. */
static struct hitmap carried;

void cmaps_carry_hits(const struct mxs_maps_view *old)
{
	hitmap_free(&carried);
	if (hitmap_load(old, &carried))
		hitmap_free(&carried);
}

size_t cmaps_spare_min = MXS_CSPARE_MIN;

/* Elements for @n used ones plus the room for in-place patches. */
static size_t spare(size_t n)
{
	return n + n / MXS_CSPARE + cmaps_spare_min;
}

/* The build of generation @gen is no longer live: once every packet that
 * may still have read that generation is done (membarrier's global command
 * waits for an RCU grace period, which XDP programs run inside), its node,
 * leaf and record maps give way to one-element ones, and the kernel frees
 * them. Without that wait it keeps them until the next build replaces them,
 * as before. The first stage has one fixed size and stays. */
static void release_build(const int outer[4], uint32_t gen)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return;
	for (int w = 1; w < 4; w++) {
		__u32 keys[2] = { MXS_CSLOT(gen, 0), MXS_CSLOT(gen, 1) }, vals[2], cnt = 2;
		uint64_t ignore = 0;
		int fd = make_array(w, 1, NULL, 0, &ignore);

		if (fd < 0)
			return;
		vals[0] = vals[1] = fd;
		bpf_map_update_batch(outer[w], keys, vals, &cnt, NULL);
		close(fd);
	}
}

int cmaps_install(const struct mxs_maps_view *mv, const struct rule_vec fam[2],
		  struct cinfo *info, char *err, size_t errlen)
{
	return cmaps_install_hook(mv, fam, info, NULL, NULL, err, errlen);
}

int cmaps_install_hook(const struct mxs_maps_view *mv, const struct rule_vec fam[2],
		       struct cinfo *info, int (*before_switch)(void *arg), void *arg,
		       char *err, size_t errlen)
{
	struct cinfo dummy;
	struct hitmap hm;
	struct ctable t[2] = {};
	int outer[4], fds[2][4], rc = -1;
	uint32_t idle, build;
	__u32 zero = 0;
	double t0;

	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	memset(fds, -1, sizeof(fds));
	cmaps_outer(mv, outer);
	if (live_build(mv, &build))
		return mxs_fail(err, errlen, "reading c_gen: %s", strerror(errno));
	/* the next build number names the idle generation */
	if (cmaps_live(mv) == 1)
		build++;
	idle = build & 1;

	t0 = mono();
	for (int v6 = 0; v6 < 2; v6++) {
		if (mxs_compile(v6, &fam[v6], &t[v6], err, errlen))
			goto out;
		info->entries[v6] = fam[v6].n;
		info->ranges[v6] = t[v6].nranges;
		info->nodes[v6] = t[v6].nnode;
		info->leaves[v6] = t[v6].nleaf;
		info->recs[v6] = t[v6].nrec - 1;
	}
	/* hit counters follow their entries into the new build (from the old
	 * maps of an upgrade, when the new ones have none yet) */
	if (hitmap_load(mv, &hm) || !hm.n) {
		hitmap_free(&hm);
		hm = carried;
		memset(&carried, 0, sizeof(carried));
	}
	for (int v6 = 0; v6 < 2; v6++) {
		for (size_t i = 1; i < t[v6].nrec; i++) {
			struct mxs_crec *r = &t[v6].rec[i];
			struct hit_ent *e;
			bool f;

			if (!hm.e)
				break;
			e = hit_find(&hm, r->list, v6, r->prefixlen, r->addr, &f);
			if (f && !e->given) {
				r->hits = e->hits;
				r->last_hit = e->last_hit;
				e->given = true;
			}
		}
	}
	hitmap_free(&hm);
	info->compile_s = mono() - t0;

	t0 = mono();
	for (int v6 = 0; v6 < 2; v6++) {
		struct ctable *c = &t[v6];
		uint64_t *b = &info->bytes[v6];

		fds[v6][0] = make_array(0, MXS_DIR_LINES, c->dir, c->ndir * sizeof(*c->dir), b);
		/* rec[0] is never a verdict: it carries the fill counts */
		struct mxs_cfill *fill = (struct mxs_cfill *)&c->rec[0];

		fill->nodes = c->nnode;
		fill->leaves = c->nleaf;
		fill->recs = c->nrec;
		fill->layout = MXS_LAYOUT;
		fds[v6][1] = make_array(1, spare(c->nnode), c->node, c->nnode * sizeof(*c->node), b);
		fds[v6][2] = make_array(2, (spare(c->nleaf) + MXS_CLINE - 1) / MXS_CLINE, c->leaf,
					c->nleaf * sizeof(*c->leaf), b);
		fds[v6][3] = make_array(3, spare(c->nrec), c->rec, c->nrec * sizeof(*c->rec), b);
		for (int w = 0; w < 4; w++) {
			if (fds[v6][w] < 0) {
				mxs_fail(err, errlen, "creating the compiled %s maps (%.1f MiB): %s",
					 v6 ? "IPv6" : "IPv4", *b / 1048576.0,
					 strerror(-fds[v6][w]));
				goto out;
			}
		}
	}
	/* both families of each array in one batch: the kernel waits for a
	 * grace period once per update call of an outer map */
	for (int w = 0; w < 4; w++) {
		__u32 slots[2] = { MXS_CSLOT(idle, 0), MXS_CSLOT(idle, 1) };
		__u32 vals[2] = { fds[0][w], fds[1][w] }, cnt = 2;

		if (bpf_map_update_batch(outer[w], slots, vals, &cnt, NULL)) {
			mxs_fail(err, errlen, "installing the compiled maps: %s", strerror(errno));
			goto out;
		}
	}
	/* the new build is in place but not live: what must precede it
	 * (writing the state it was compiled from) goes now */
	if (before_switch && before_switch(arg)) {
		mxs_fail(err, errlen, "%s", "");	/* reported by the hook */
		rc = -2;
		goto out;
	}
	/* the switch: one write */
	if (bpf_map_update_elem(mv->c_gen, &zero, &build, BPF_ANY)) {
		mxs_fail(err, errlen, "switching to the new build: %s", strerror(errno));
		goto out;
	}
	release_build(outer, idle ^ 1);
	info->load_s = mono() - t0;
	rc = 0;
out:
	for (int v6 = 0; v6 < 2; v6++) {
		ctable_free(&t[v6]);
		for (int w = 0; w < 4; w++)
			if (fds[v6][w] >= 0)
				close(fds[v6][w]);
	}
	return rc;
}

/* ------------------------------------------------------------- patches */

struct live_arr {
	void *m;
	size_t len, n;		/* mapping length, elements */
};

int cmaps_patch(const struct mxs_maps_view *mv, int v6, const struct rule_vec *in,
		size_t first, size_t n, struct cinfo *info, char *err, size_t errlen)
{
	struct live_arr a[4] = {};
	struct ctable t = {};
	struct mxs_cfill *fill;
	struct mxs_cnode *node;
	struct mxs_crec *rec;
	uint32_t *dir, *leaf, noff, loff, roff;
	double t0 = mono();
	int rc = 1, live = cmaps_live(mv);

	if (live < 0)
		return mxs_fail(err, errlen, "reading the live build: %s", strerror(-live));
	if (live != 1)
		return 1;
	if (mxs_compile_span(v6, in, first, n, &t, err, errlen))
		return -1;
	if (info) {
		memset(info, 0, sizeof(*info));
		info->entries[v6] = in->n;
		info->ranges[v6] = t.nranges;
		info->nodes[v6] = t.nnode;
		info->leaves[v6] = t.nleaf;
		info->recs[v6] = t.nrec - 1;
		info->compile_s = mono() - t0;
	}
	t0 = mono();
	for (int w = 0; w < 4; w++) {
		a[w].m = map_live(mv, v6, w, PROT_READ | PROT_WRITE, &a[w].n, &a[w].len);
		if (!a[w].m) {
			rc = mxs_fail(err, errlen, "mapping the live build: %s", strerror(errno));
			goto out;
		}
	}
	dir = a[0].m;
	node = a[1].m;
	leaf = a[2].m;
	rec = a[3].m;
	fill = (struct mxs_cfill *)&rec[0];
	if (!fill->recs || first + n > a[0].n * MXS_CLINE ||
	    fill->nodes + t.nnode > a[1].n || fill->leaves + t.nleaf > a[2].n * MXS_CLINE ||
	    fill->recs + t.nrec - 1 > a[3].n)
		goto out;	/* a build without fill counts, or full: rc 1 */
	noff = fill->nodes;
	loff = fill->leaves;
	roff = fill->recs - 1;	/* local rec i (>= 1) lands at fill->recs + i - 1 */
	ctable_shift(&t, noff, loff, roff);
	memcpy(&rec[fill->recs], &t.rec[1], (t.nrec - 1) * sizeof(*rec));
	memcpy(&leaf[loff], t.leaf, t.nleaf * sizeof(*leaf));
	memcpy(&node[noff], t.node, t.nnode * sizeof(*node));
	/* everything new is in place before any slot points at it */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	fill->nodes += t.nnode;
	fill->leaves += t.nleaf;
	fill->recs += t.nrec - 1;
	fill->patches++;
	for (size_t s = 0; s < n; s++)
		__atomic_store_n(&dir[first + s], t.dir[s], __ATOMIC_RELEASE);
	if (info)
		info->load_s = mono() - t0;
	rc = 0;
out:
	for (int w = 0; w < 4 && !pmap.on; w++)
		if (a[w].m)
			munmap(a[w].m, a[w].len);
	ctable_free(&t);
	return rc;
}

/* ------------------------------------------------------------- stamps */

/* rec[0] of the live build's IPv4 records: a map fd and its value. */
static int stamp_rec(const struct mxs_maps_view *mv, struct mxs_crec *r0)
{
	__u32 zero = 0, gen;
	int fd;

	if (live_gen(mv, &gen))
		return -errno;
	fd = cmaps_inner_fd(mv->c_rec, MXS_CSLOT(gen, 0));
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, r0)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int cmaps_stamp_get(const struct mxs_maps_view *mv, struct mxs_cfill *fill)
{
	struct mxs_crec r0;
	int fd;

	memset(fill, 0, sizeof(*fill));
	if (cmaps_live(mv) != 1)
		return 0;
	fd = stamp_rec(mv, &r0);
	if (fd < 0)
		return fd;
	close(fd);
	memcpy(fill, &r0, sizeof(*fill));
	return 0;
}

int cmaps_stamp_set(const struct mxs_maps_view *mv, const uint64_t seq[MXS_STATE_LISTS], uint32_t other)
{
	struct mxs_crec r0;
	struct mxs_cfill *f = (struct mxs_cfill *)&r0;
	__u32 zero = 0;
	int fd, rc = 0;

	if (cmaps_live(mv) != 1)
		return 0;
	fd = stamp_rec(mv, &r0);
	if (fd < 0)
		return fd;
	/* patches change the fill counts through the mapping, never at the
	 * same time as this (one controller at a time: the state lock) */
	memcpy(f->state_seq, seq, sizeof(f->state_seq));
	f->state_other = other;
	f->stamped = 1;
	if (bpf_map_update_elem(fd, &zero, &r0, BPF_ANY))
		rc = -errno;
	close(fd);
	return rc;
}
