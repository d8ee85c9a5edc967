// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The build layer: from the state directory to the compiled classifier.
 * Every change is validated first (by the command), then written to the
 * state directory, then applied to the live classifier, which is then
 * stamped with the state it carries (see build.h, "Crash safety"); a
 * change the classifier cannot take is undone on disk, so nothing is ever
 * half-applied. Bulk changes (import, flush, sweep, partners, countries)
 * compile every list into a new build (compile.c) and install it with a
 * generation flip (install.c): a packet sees the old build or the new
 * one, never a half-filled one. A single add or del rebuilds only the
 * first-stage slots its prefix touches, in place (cmaps_patch):
 * milliseconds, whatever the size of the lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <bpf/bpf.h>
#include "../core/ctl.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "build.h"
#include "geo.h"
#include "install.h"

const struct listdef ip_lists[MXS_NIP_LISTS] = {
#define X(id, name, list, act, exp, help) [MXS_IPL_##id] = { name, list, act, exp, help },
	MXS_IP_LISTS(X)
#undef X
};

const struct listdef *listdef_by_id(uint32_t list)
{
	for (int i = 0; i < MXS_NIP_LISTS; i++)
		if (ip_lists[i].list == list)
			return &ip_lists[i];
	return NULL;
}

const struct listdef *listdef_by_name(const char *name)
{
	for (int i = 0; i < MXS_NIP_LISTS; i++)
		if (!strcmp(ip_lists[i].name, name))
			return &ip_lists[i];
	return NULL;
}

static int64_t rec_i64(const struct rec *r, const char *key)
{
	const char *v = rec_get(r, key);

	return v ? strtoll(v, NULL, 10) : 0;
}

static void ent_rule(const struct st_ent *e, uint32_t list, struct mxs_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->list = list;
	r->prefixlen = e->plen;
	r->expires = e->expires ? unix_to_tai_ns(e->expires) : 0;
	r->action = list == MXS_LIST_BLOCK ? e->action : MXS_ACT_NONE;
}

/* ------------------------------------------------------------ compiling */

struct push_ctx {
	uint32_t list;
	int64_t now;
	int min_plen;		/* entries inside a span: at least its length */
	struct rule_vec *fam;
};

static int push_ent(const struct st_ent *e, const char *comment, void *arg)
{
	struct push_ctx *pc = arg;
	struct mxs_prefix p;
	struct mxs_rule r;

	if (e->plen < pc->min_plen || (e->expires && e->expires <= pc->now))
		return 0;	/* expired: the sweep removes it */
	st_prefix(e, &p);
	ent_rule(e, pc->list, &r);
	return rule_vec_push(&pc->fam[p.v6], &p, &r) ? -1 : 0;
}

static int push_merged(const struct st_ent *e, const char *comment, uint64_t srcs, void *arg)
{
	(void)srcs;
	return push_ent(e, comment, arg);
}

/* The entries of an IP list (all, or those that meet @span), every source
 * merged (filter/srcset.h): from @in's open set when it has one. */
static int collect_ip(struct ctl *c, uint32_t list, const struct build_in *in,
		      const struct mxs_prefix *span, struct rule_vec fam[2])
{
	struct push_ctx pc = { .list = list, .now = time(NULL), .fam = fam };
	const struct listdef *d = listdef_by_id(list);
	struct srcset *set = in && in->sets ? in->sets[d - ip_lists] : NULL, own;
	int rc;

	if (!set) {
		if (srcset_open(c, d->name, in ? in->ov : NULL, &own))
			return 1;
		set = &own;
	}
	rc = srcset_merge(set, pc.now, span, push_merged, &pc);
	if (set == &own)
		srcset_close(&own);
	return rc ? ctl_err("out of memory") : 0;
}

/* Collect the entries of one list (all, or those that meet @span) from
 * state; @in may stand in for an IP list's stores. */
static int collect_list(struct ctl *c, uint32_t list, const char *geo_path,
			const struct build_in *in, const struct mxs_prefix *span,
			struct rule_vec fam[2])
{
	char err[MXS_ERRLEN];
	struct recfile f;
	int rc = 0;

	if (list == MXS_LIST_COUNTRY) {
		uint8_t want[MXS_COUNTRY_SLOTS] = {};
		char gp[PATH_MAX];
		struct pfx_vec pv = {};
		struct geo_meta meta;
		struct stat st;

		if (ctl_read(c, ST_COUNTRIES, &f))
			return 1;
		for (int i = 0; i < f.n; i++) {
			uint32_t cc;

			if (!parse_country(rec_get(&f.r[i], "cc"), &cc, NULL, err, sizeof(err)))
				want[cc] = 1;
		}
		recfile_free(&f);
		state_path(c, ST_GEO, gp, sizeof(gp));
		if (!geo_path) {
			if (stat(gp, &st))
				return 0;	/* no database yet: empty tries */
			geo_path = gp;
		}
		if (span ? geo_collect_under(geo_path, want, span, &pv, err, sizeof(err)) :
			   geo_collect(geo_path, want, &pv, NULL, &meta, err, sizeof(err)))
			return ctl_err("%s", err);
		for (size_t i = 0; i < pv.n && !rc; i++) {
			struct mxs_rule r = { .list = MXS_LIST_COUNTRY, .ref = pv.ref[i],
					      .prefixlen = pv.v[i].plen };

			rc = rule_vec_push(&fam[pv.v[i].v6], &pv.v[i], &r);
		}
		pfx_vec_free(&pv);
		return rc ? ctl_err("out of memory") : 0;
	}

	if (list == MXS_LIST_PARTNER) {
		if (ctl_read(c, ST_PARTNERS, &f))
			return 1;
		for (int i = 0; i < f.n && !rc; i++) {
			char *ips = strdup(rec_get(&f.r[i], "ip") ? : ""), *save, *tok;

			for (tok = strtok_r(ips, ",", &save); tok && !rc;
			     tok = strtok_r(NULL, ",", &save)) {
				struct mxs_prefix p;
				struct mxs_rule r = { .list = MXS_LIST_PARTNER,
						      .ref = rec_i64(&f.r[i], "id") };

				if (parse_prefix(tok, &p, err, sizeof(err))) {
					rc = ctl_err("partners:%d: %s", f.r[i].line, err);
					break;
				}
				if (span && !prefix_meets(span, &p))
					continue;
				r.prefixlen = p.plen;
				if (rule_vec_push(&fam[p.v6], &p, &r))
					rc = ctl_err("out of memory");
			}
			free(ips);
		}
		recfile_free(&f);
		return rc;
	}
	return collect_ip(c, list, in, span, fam);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write ST_LASTBUILD for the build just switched to: tmp and rename, so a
 * reader sees the old line or the new. Failures are ignored: the figures
 * are for monitoring, the build itself succeeded. */
static void record_build(const struct ctl *c, double mono0, const struct cinfo *info)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	__u32 zero = 0, build = 0;
	FILE *f;
	int fd;

	bpf_map_lookup_elem(c->mv.c_gen, &zero, &build);
	state_path(c, ST_LASTBUILD, p, sizeof(p));
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	state_share_with_dir_group(fd, tmp);	/* as every state file */
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return;
	}
	fprintf(f, "time=%.3f duration=%.6f compile=%.6f load=%.6f build=%u ipv4=%zu ipv6=%zu\n",
		clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC) - mono0, info->compile_s,
		info->load_s, build, info->entries[0], info->entries[1]);
	if (fclose(f) || rename(tmp, p))
		unlink(tmp);
}

int ctl_last_build(const struct ctl *c, struct last_build *lb)
{
	char p[PATH_MAX], line[256];
	FILE *f;
	int n;

	memset(lb, 0, sizeof(*lb));
	state_path(c, ST_LASTBUILD, p, sizeof(p));
	f = fopen(p, "re");
	if (!f)
		return -1;
	n = fgets(line, sizeof(line), f) ?
	    sscanf(line, "time=%lf duration=%lf compile=%lf load=%lf build=%u ipv4=%" SCNu64
		   " ipv6=%" SCNu64, &lb->time, &lb->duration, &lb->compile_s, &lb->load_s,
		   &lb->build, &lb->entries[0], &lb->entries[1]) : 0;
	fclose(f);
	return n == 7 ? 0 : -1;
}

static int compile_in(struct ctl *c, const struct build_in *in, const char *geo_path,
		      struct cinfo *info, int (*before_switch)(void *), void *arg)
{
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	struct cinfo local;
	double t0 = clock_s(CLOCK_MONOTONIC);
	int rc = 0, e;

	if (!info)
		info = &local;
	for (uint32_t l = 0; l < MXS_LIST_MAX && !rc; l++)
		rc = collect_list(c, l, l == MXS_LIST_COUNTRY ? geo_path : NULL, in, NULL, fam);
	if (!rc && (e = cmaps_install_hook(&c->mv, fam, info, before_switch, arg, err,
					   sizeof(err))))
		rc = e == -2 ? 1 : ctl_err("%s", err);
	if (!rc)
		record_build(c, t0, info);
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	return rc;
}

/* @over standing in for list @over_list's manual entries. */
static void manual_over(int over_list, const struct store *over, struct src_over *ov,
			struct build_in *in)
{
	const struct listdef *d = listdef_by_id(over_list);

	*ov = (struct src_over){ .list = d ? d->name : "", .s = d ? over : NULL };
	*in = (struct build_in){ .ov = ov };
}

int ctl_compile_hook(struct ctl *c, int over_list, const struct store *over,
		     const char *geo_path, struct cinfo *info, int (*before_switch)(void *),
		     void *arg)
{
	struct src_over ov;
	struct build_in in;

	manual_over(over_list, over, &ov, &in);
	return compile_in(c, &in, geo_path, info, before_switch, arg);
}

int ctl_compile(struct ctl *c, int over_list, const struct store *over,
		const char *geo_path, struct cinfo *info)
{
	return ctl_compile_hook(c, over_list, over, geo_path, info, NULL, NULL);
}

int ctl_compile_src(struct ctl *c, const struct build_in *in, int (*before_switch)(void *),
		    void *arg)
{
	return compile_in(c, in, NULL, NULL, before_switch, arg);
}

/* Rebuild only the part of the live build that a change of @p touches:
 * the first-stage slots under it, from the entries that meet them (list
 * @list from @s). A change over more than MXS_PATCH_SLOTS slots, or one
 * that finds no room left, installs a full build instead. 0, or 1 after an
 * error. */
static int patch_in(struct ctl *c, const struct build_in *in, const struct mxs_prefix *p)
{
	struct mxs_prefix span;
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	size_t first, n;
	int rc = 0;

	if (mxs_patch_span(p, &span, &first, &n))
		return compile_in(c, in, NULL, NULL, NULL, NULL);
	for (uint32_t l = 0; l < MXS_LIST_MAX && !rc; l++)
		rc = collect_list(c, l, NULL, in, &span, fam);
	if (!rc) {
		rc = cmaps_patch(&c->mv, p->v6, &fam[p->v6], first, n, NULL, err, sizeof(err));
		if (rc < 0)
			rc = ctl_err("%s", err);
		else if (rc > 0)	/* no room left: a full build */
			rc = compile_in(c, in, NULL, NULL, NULL, NULL);
	}
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	return rc;
}

static int patch_live(struct ctl *c, uint32_t list, const struct store *s,
		      const struct mxs_prefix *p)
{
	struct src_over ov;
	struct build_in in;

	manual_over(list, s, &ov, &in);
	return patch_in(c, &in, p);
}

int ctl_patch_src(struct ctl *c, const struct build_in *in, const struct mxs_prefix *p,
		  size_t n)
{
	struct mxs_prefix last = {};
	int rc = 0;

	/* one patch per first-stage span: @p is sorted, so equal spans are
	 * neighbours; the live arrays mapped once for all of them */
	cmaps_patch_batch(true);
	for (size_t i = 0; i < n && !rc; i++) {
		struct mxs_prefix span;
		size_t first, cnt;

		if (!mxs_patch_span(&p[i], &span, &first, &cnt)) {
			if (i && !memcmp(&span, &last, sizeof(span)))
				continue;
			last = span;
		}
		rc = patch_in(c, in, &p[i]);
	}
	cmaps_patch_batch(false);
	return rc;
}

int ctl_collect(struct ctl *c, uint32_t list, struct rule_vec fam[2])
{
	return collect_list(c, list, NULL, NULL, NULL, fam);
}

int ctl_collect_span(struct ctl *c, uint32_t list, const struct mxs_prefix *span,
		     struct rule_vec fam[2])
{
	return collect_list(c, list, NULL, NULL, span, fam);
}

int ctl_list_match(struct ctl *c, uint32_t list, const struct mxs_prefix *addr,
		   uint64_t now_tai, const struct hitmap *hm, struct mxs_rule *out)
{
	struct rule_vec fam[2] = {};
	struct mxs_prefix best = {};
	bool found = false;

	if (listdef_by_id(list)) {
		struct srcset set;
		struct st_ent e;
		const char *cm;
		uint64_t srcs;
		int64_t now = tai_ns_to_unix(now_tai);

		/* an IP list: look up each prefix length, longest first */
		if (srcset_open(c, listdef_by_id(list)->name, NULL, &set))
			return 0;
		for (int l = addr->v6 ? 128 : 32; l >= 0 && !found; l--) {
			struct mxs_prefix q = *addr;

			q.plen = l;
			prefix_mask(&q);
			if (!srcset_find(&set, now, &q, &e, &cm, &srcs))
				continue;
			ent_rule(&e, list, out);
			if (out->expires && out->expires <= now_tai)
				continue;
			best = q;
			found = true;
		}
		srcset_close(&set);
	} else {
		if (collect_list(c, list, NULL, NULL, NULL, fam))
			return 0;
		for (size_t i = 0; i < fam[addr->v6].n; i++) {
			const struct mxs_rule *r = &fam[addr->v6].r[i];

			if (r->expires && r->expires <= now_tai)
				continue;
			if (!prefix_contains(&fam[addr->v6].p[i], addr))
				continue;
			if (!found || fam[addr->v6].p[i].plen > best.plen) {
				best = fam[addr->v6].p[i];
				*out = *r;
				found = true;
			}
		}
		rule_vec_free(&fam[0]);
		rule_vec_free(&fam[1]);
	}
	if (found) {
		uint64_t h = 0, lh = 0;

		if (hm && hitmap_get(hm, list, &best, &h, &lh)) {
			out->hits = h;
			out->last_hit = lh;
		}
	}
	return found;
}

int ctl_state_stamp(const struct ctl *c, uint64_t seq[MXS_NIP_LISTS], uint32_t *other)
{
	static const char *const files[] = { ST_SETTINGS, ST_PARTNERS, ST_COUNTRIES };
	uint32_t h = crc32_z(0, NULL, 0);
	char p[PATH_MAX];
	struct stat st;

	for (int l = 0; l < MXS_NIP_LISTS; l++) {
		char names[SRC_MAX][SRC_NAMELEN], sname[128];
		int n;

		if (store_seq(c, ip_lists[l].name, &seq[l]))
			return 1;
		/* the sources of the list: their names and seqs */
		n = src_names(c, ip_lists[l].name, names, SRC_MAX);
		if (n < 0)
			return 1;
		for (int i = 0; i < n; i++) {
			uint64_t sq;

			src_store_name(ip_lists[l].name, names[i], sname, sizeof(sname));
			if (store_seq(c, sname, &sq))
				return 1;
			h = crc32_z(h, (const unsigned char *)sname, strlen(sname) + 1);
			h = crc32_z(h, (const unsigned char *)&sq, sizeof(sq));
		}
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char buf[65536];
		ssize_t n;
		int fd;

		state_path(c, files[i], p, sizeof(p));
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno != ENOENT)
			return ctl_err("%s: %s", p, strerror(errno));
		h = crc32_z(h, (const unsigned char *)files[i], strlen(files[i]) + 1);
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			h = crc32_z(h, (const unsigned char *)buf, n);
		if (fd >= 0)
			close(fd);
	}
	/* the database: a new copy is a new file (renamed into place) */
	state_path(c, ST_GEO, p, sizeof(p));
	if (!stat(p, &st)) {
		uint64_t id[4] = { st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec };

		h = crc32_z(h, (const unsigned char *)id, sizeof(id));
	}
	*other = h;
	return 0;
}

int ctl_stamp(struct ctl *c)
{
	uint64_t seq[MXS_NIP_LISTS];
	uint32_t other;
	int e;

	if (!c->loaded)
		return 0;
	if (ctl_state_stamp(c, seq, &other))
		return 1;
	e = cmaps_stamp_set(&c->mv, seq, other);
	return e ? ctl_err("stamping the live build: %s", strerror(-e)) : 0;
}

int ctl_build_current(struct ctl *c)
{
	struct mxs_cfill f;
	uint64_t seq[MXS_NIP_LISTS];
	uint32_t other;

	if (ctl_state_stamp(c, seq, &other))
		return -1;
	if (cmaps_stamp_get(&c->mv, &f))
		return -1;
	return f.stamped && !memcmp(f.state_seq, seq, sizeof(seq)) && f.state_other == other;
}

/* Undo a single change whose state is written but could not be applied:
 * the inverse change, written and applied. */
static void undo_change(struct ctl *c, const struct listdef *d, struct store *s,
			const struct mxs_prefix *p, const struct st_ent *old, const char *oldc)
{
	struct st_ent inv = { .del = 1 };

	if (old)
		inv = *old;
	else
		st_set_prefix(&inv, p);
	if (store_apply(s, &inv, oldc) || store_sync(c, d->name, s))
		return;		/* the stamp differs: the next command rebuilds */
	if (!patch_live(c, d->list, s, p))
		ctl_stamp(c);
}

int ctl_commit_change(struct ctl *c, const struct listdef *d, struct store *s,
			 const struct mxs_prefix *p, const struct st_ent *old, const char *oldc)
{
	if (store_sync(c, d->name, s))
		return 1;
	if (patch_live(c, d->list, s, p)) {
		undo_change(c, d, s, p, old, oldc);
		return 1;
	}
	return ctl_stamp(c);
}

struct sync_arg {
	struct ctl *c;
	const char *name;
	struct store *s;
};

static int sync_hook(void *arg)
{
	struct sync_arg *a = arg;

	return store_sync(a->c, a->name, a->s);
}

int ctl_commit_whole(struct ctl *c, const struct listdef *d, struct store *s)
{
	struct sync_arg a = { c, d->name, s };

	if (ctl_compile_hook(c, d->list, s, NULL, NULL, sync_hook, &a))
		return 1;
	return ctl_stamp(c);
}

/* ---------------------------------------------------------------- sweep */

struct keep_ctx {
	int64_t now;
	struct st_vec v;
	long expired;
	bool oom;
};

static int keep_live(const struct st_ent *e, const char *comment, void *arg)
{
	struct keep_ctx *k = arg;

	if (e->expires && e->expires <= k->now) {
		k->expired++;
		return 0;
	}
	if (st_vec_push(&k->v, e, comment)) {
		k->oom = true;
		return 1;
	}
	return 0;
}

/* Remove the expired entries of store @name: how many, or -1 after an
 * error. */
static long sweep_store(struct ctl *c, const char *name)
{
	struct keep_ctx k = { .now = time(NULL) };
	struct store s;
	uint64_t seq;
	int64_t next;

	/* the header and the journal tell whether anything expired: no need
	 * to read (and verify) the whole list otherwise */
	if (store_peek(c, name, &seq, &next))
		return -1;
	if (!next || next > k.now)
		return 0;
	if (store_open(c, name, &s))
		return -1;
	if (!s.next_expiry || s.next_expiry > k.now) {
		store_close(&s);
		return 0;	/* nothing has expired */
	}
	store_all(&s, keep_live, &k);
	if (k.oom) {
		st_vec_free(&k.v);
		store_close(&s);
		return ctl_err("out of memory"), -1;
	}
	if (k.expired) {
		/* expired entries no longer match in the data plane already:
		 * writing the state first is safe */
		store_adopt(&s, &k.v);
		if (store_sync(c, name, &s)) {
			store_close(&s);
			return -1;
		}
	}
	st_vec_free(&k.v);
	store_close(&s);
	return k.expired;
}

int ctl_sweep(struct ctl *c, int *removed)
{
	long changed = 0;

	*removed = 0;
	for (int l = 0; l < MXS_NIP_LISTS; l++) {
		const struct listdef *d = &ip_lists[l];
		char names[SRC_MAX][SRC_NAMELEN], sname[128];
		long r;
		int n;

		n = src_names(c, d->name, names, SRC_MAX);
		if (n < 0)
			return 1;
		/* the manual entries (when they can expire), then the sources */
		for (int i = d->has_expires ? -1 : 0; i < n; i++) {
			src_store_name(d->name, i < 0 ? NULL : names[i], sname, sizeof(sname));
			r = sweep_store(c, sname);
			if (r < 0)
				return 1;
			changed += r;
		}
	}
	*removed = changed;
	if (changed && c->loaded && ctl_compile(c, -1, NULL, NULL, NULL))
		return 1;
	return changed ? ctl_stamp(c) : 0;
}
