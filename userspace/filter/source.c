// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Changing the sources of an IP list (see source.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "build.h"
#include "loader.h"
#include "source.h"
#include "srcset.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check_src(const char *src)
{
	char err[128];

	return src_valid(src, err, sizeof(err)) ? ctl_err("%s", err) : 0;
}

int source_open(const struct ctl *c, const struct listdef *d, const char *src,
		struct store *s)
{
	char sname[128];

	if (check_src(src))
		return 1;
	src_store_name(d->name, src, sname, sizeof(sname));
	return store_open(c, sname, s);
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

int source_replace(struct ctl *c, const struct listdef *d, const char *src, struct st_vec *v)
{
	char sname[128];
	struct store s;
	struct sync_arg a = { c, sname, &s };
	struct src_over ov = { .list = d->name, .src = src, .s = &s };
	struct build_in in = { .ov = &ov };
	int rc;

	if (check_src(src) || src_mkdir(c, d->name)) {
		st_vec_free(v);
		return 1;
	}
	src_store_name(d->name, src, sname, sizeof(sname));
	if (store_open(c, sname, &s)) {
		st_vec_free(v);
		return 1;
	}
	store_adopt(&s, v);
	rc = c->loaded ? ctl_compile_src(c, &in, sync_hook, &a) : store_sync(c, sname, &s);
	store_close(&s);
	return rc ? rc : ctl_stamp(c);
}

int source_remove(struct ctl *c, const struct listdef *d, const char *src)
{
	static const char *const ext[] = { ".journal", ".list" };
	char sname[128], path[PATH_MAX], f[160];

	if (check_src(src))
		return 1;
	src_store_name(d->name, src, sname, sizeof(sname));
	/* the journal first: a crash between leaves the snapshot alone, a
	 * consistent (older) copy, and the stamp then differs */
	for (int i = 0; i < 2; i++) {
		snprintf(f, sizeof(f), "%s%s", sname, ext[i]);
		state_path(c, f, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			return ctl_err("%s: %s", path, strerror(errno));
	}
	if (c->loaded && ctl_compile(c, -1, NULL, NULL, NULL))
		return 1;
	return ctl_stamp(c);
}

/* ----------------------------------------------------------- coalescer */

struct srcq_item {
	uint8_t list;		/* enum mxs_ip_list */
	uint8_t src;		/* index into q->srcs */
	struct st_ent e;
	char *comment;
	double t;		/* pushed (monotonic) */
};

struct srcq {
	struct srcq_item *it;
	size_t n, cap;
	char srcs[256][SRC_NAMELEN];	/* source names seen */
	int nsrcs;
	/* each list's sources, kept open between batches */
	struct srcset set[MXS_NIP_LISTS];
	bool open[MXS_NIP_LISTS];
	struct srcq_stats st;
};

struct srcq *srcq_new(void)
{
	return calloc(1, sizeof(struct srcq));
}

static void drop_items(struct srcq *q, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(q->it[i].comment);
	memmove(q->it, q->it + n, (q->n - n) * sizeof(*q->it));
	q->n -= n;
}

void srcq_free(struct srcq *q)
{
	if (!q)
		return;
	drop_items(q, q->n);
	for (int l = 0; l < MXS_NIP_LISTS; l++)
		if (q->open[l])
			srcset_close(&q->set[l]);
	free(q->it);
	free(q);
}

int srcq_push(struct srcq *q, const struct listdef *d, const char *src, const struct st_ent *e,
	      const char *comment)
{
	char err[128];
	struct srcq_item *it;
	int s;

	if (src_valid(src, err, sizeof(err)))
		return -1;
	if (q->n >= SRCQ_MAX) {
		q->st.refused++;
		return -1;
	}
	for (s = 0; s < q->nsrcs && strcmp(q->srcs[s], src); s++)
		;
	if (s == q->nsrcs) {
		if (s == 256)
			return -1;
		snprintf(q->srcs[q->nsrcs++], SRC_NAMELEN, "%s", src);
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		void *p = realloc(q->it, cap * sizeof(*q->it));

		if (!p)
			return -1;
		q->it = p;
		q->cap = cap;
	}
	it = &q->it[q->n];
	*it = (struct srcq_item){ .list = d - ip_lists, .src = s, .e = *e, .t = mono() };
	if (comment && *comment && !(it->comment = strdup(comment)))
		return -1;
	q->n++;
	q->st.pushed++;
	return 0;
}

size_t srcq_pending(const struct srcq *q)
{
	return q->n;
}

double srcq_oldest(const struct srcq *q)
{
	return q->n ? q->it[0].t : 0;
}

void srcq_stats(const struct srcq *q, struct srcq_stats *st)
{
	*st = q->st;
}

/* Is the open set of list @l still what is on disk? */
static bool set_fresh(struct ctl *c, struct srcq *q, int l)
{
	struct srcset *set = &q->set[l];
	char names[SRC_MAX][SRC_NAMELEN], sname[128];
	int n = src_names(c, ip_lists[l].name, names, SRC_MAX);

	if (n != set->n - 1)
		return false;
	for (int i = 0; i < set->n; i++) {
		uint64_t seq;

		if (i && strcmp(names[i - 1], set->name[i]))
			return false;
		src_store_name(ip_lists[l].name, set->name[i], sname, sizeof(sname));
		if (store_seq(c, sname, &seq) || seq != set->st[i]->seq)
			return false;
	}
	return true;
}

static int set_ready(struct ctl *c, struct srcq *q, int l)
{
	if (q->open[l] && set_fresh(c, q, l))
		return 0;
	if (q->open[l]) {
		srcset_close(&q->set[l]);
		q->open[l] = false;
		q->st.reopens++;
	}
	if (srcset_open(c, ip_lists[l].name, NULL, &q->set[l]))
		return 1;
	q->open[l] = true;
	return 0;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct mxs_prefix *x = a, *y = b;

	if (x->v6 != y->v6)
		return x->v6 - y->v6;
	return memcmp(x->addr, y->addr, 16);
}

/* Write the batch's changes of list @l, source by source. */
static int write_list(struct ctl *c, struct srcq *q, int l, size_t n)
{
	for (int s = 0; s < q->nsrcs; s++) {
		struct srcset *set = &q->set[l];
		char sname[128];
		bool any = false;
		int i;

		for (size_t k = 0; k < n && !any; k++)
			any = q->it[k].list == l && q->it[k].src == s;
		if (!any)
			continue;
		i = srcset_index(set, q->srcs[s]);
		if (i < 0) {	/* a new source: its files, then read the set again */
			struct store st;
			if (src_mkdir(c, ip_lists[l].name))
				return 1;
			src_store_name(ip_lists[l].name, q->srcs[s], sname, sizeof(sname));
			struct st_vec empty = {};

			if (store_open(c, sname, &st))
				return 1;
			store_adopt(&st, &empty);	/* an empty snapshot */
			if (store_sync(c, sname, &st)) {
				store_close(&st);
				return 1;
			}
			store_close(&st);
			srcset_close(set);
			q->open[l] = false;
			if (set_ready(c, q, l))
				return 1;
			i = srcset_index(set, q->srcs[s]);
			if (i < 0)
				return ctl_err("%s: source %s did not appear", ip_lists[l].name,
					       q->srcs[s]);
		}
		for (size_t k = 0; k < n; k++)
			if (q->it[k].list == l && q->it[k].src == s &&
			    store_apply(&set->own[i], &q->it[k].e, q->it[k].comment))
				return ctl_err("out of memory");
		src_store_name(ip_lists[l].name, q->srcs[s], sname, sizeof(sname));
		if (store_sync(c, sname, &set->own[i])) {
			/* what is in memory is not on disk: read it again */
			srcset_close(set);
			q->open[l] = false;
			return 1;
		}
	}
	return 0;
}

int srcq_flush(struct ctl *c, struct srcq *q)
{
	struct srcset *sets[MXS_NIP_LISTS] = {};
	struct build_in in = { .sets = sets };
	struct mxs_prefix *p = NULL;
	size_t n = q->n, np = 0;
	double t0 = mono();
	bool had_lock, had_maps;
	int rc = 0;

	if (!n)
		return 0;
	had_lock = c->lock_fd >= 0;
	had_maps = c->loaded;
	c->lock_nowait = true;
	c->lock_busy = false;
	if (ctl_lock(c)) {
		c->lock_nowait = false;
		if (c->lock_busy) {
			q->st.busy++;
			return 1;
		}
		q->st.failed++;
		return -1;
	}
	c->lock_nowait = false;
	if (!had_maps && ctl_open_if_loaded(c))
		goto fail;
	for (int l = 0; l < MXS_NIP_LISTS; l++) {
		bool any = false;

		for (size_t k = 0; k < n && !any; k++)
			any = q->it[k].list == l;
		/* every list's set, not only the changed ones: each patch
		 * collects all lists under its span, and a list without an
		 * open set is read from disk again for every patch (all its
		 * sources' files opened, mapped and checked: a third of a
		 * batch's time, with nothing in those lists) */
		if (set_ready(c, q, l) || (any && write_list(c, q, l, n)))
			goto fail;
		sets[l] = &q->set[l];
	}
	/* the state is written: now the live build, one patch per span */
	p = malloc(n * sizeof(*p));
	if (!p) {
		ctl_err("out of memory");
		goto fail;
	}
	for (size_t k = 0; k < n; k++)
		st_prefix(&q->it[k].e, &p[np++]);
	qsort(p, np, sizeof(*p), cmp_prefix);
	if (c->loaded && ctl_patch_src(c, &in, p, np))
		goto fail_live;
	if (ctl_stamp(c))
		goto fail_live;
	q->st.applied += n;
	q->st.flushes++;
	q->st.last_batch = n;
	q->st.last_flush_s = mono() - t0;
	drop_items(q, n);
	goto out;
fail_live:
	/* the state has the batch: the stamp differs from the live build, and
	 * the next open rebuilds it from the state */
	drop_items(q, n);
	rc = -1;
	q->st.failed++;
	goto out;
fail:
	rc = -1;
	q->st.failed++;
out:
	free(p);
	if (!had_maps && c->loaded)
		ctl_close_pinned(c);
	if (!had_lock)
		ctl_unlock(c);
	return rc;
}
