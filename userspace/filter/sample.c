// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Samples of the data plane's counters and the rates between two of them
 * (see sample.h). Every counter the kernel keeps only grows, so a rate is
 * the delta over the time between the reads; a counter that went down was
 * reset (stats reset, a reload, a tag evicted and made anew) and counts
 * from zero.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../core/ctl.h"
#include "counters.h"
#include "sample.h"

const char *const sample_xdp_names[SAMPLE_XDP_ACTIONS] = {
	"aborted", "drop", "pass", "tx", "redirect"
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int tag_cmp(const void *x, const void *y)
{
	const struct sample_tag *a = x, *b = y;

	if (a->src.v6 != b->src.v6)
		return a->src.v6 - b->src.v6;
	return memcmp(a->src.addr, b->src.addr, 16);
}

static int tag_push(struct sample *s, size_t *cap, const struct mxs_addr *k,
		    const struct mxs_tag *v)
{
	struct sample_tag *t;

	if (s->ntags == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		void *n = realloc(s->tags, nc * sizeof(*s->tags));

		if (!n)
			return -ENOMEM;
		s->tags = n;
		*cap = nc;
	}
	t = &s->tags[s->ntags++];
	memset(t, 0, sizeof(*t));
	if (!memcmp(k->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		memcpy(t->src.addr, k->addr + 12, 4);
		t->src.plen = 32;
	} else {
		memcpy(t->src.addr, k->addr, 16);
		t->src.v6 = 1;
		t->src.plen = 128;
	}
	t->packets = v->packets;
	t->action = v->action;
	t->list = v->list;
	t->reason = v->reason;
	return 0;
}

/* The tag map in batches: a full map (MXS_MAX_TAGS) is 16 system calls
 * instead of two per tag. 0, 1 when the kernel cannot (read one by one
 * then), or a negative errno. */
#define TAG_BATCH 4096
static int read_tags_batch(int fd, struct sample *s, size_t *cap)
{
	struct mxs_addr *k = malloc(TAG_BATCH * sizeof(*k));
	struct mxs_tag *v = malloc(TAG_BATCH * sizeof(*v));
	__u32 in = 0, out = 0, n;
	bool first = true;
	int err = 0;

	if (!k || !v) {
		err = -ENOMEM;
		goto out;
	}
	do {
		n = TAG_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, k, v, &n, NULL);
		if (err && err != -ENOENT) {
			/* an old kernel, or a bucket larger than the batch */
			s->ntags = 0;
			err = 1;
			goto out;
		}
		for (__u32 i = 0; i < n; i++)
			if (tag_push(s, cap, &k[i], &v[i])) {
				err = -ENOMEM;
				goto out;
			}
		in = out;
		first = false;
	} while (!err);
	err = 0;	/* -ENOENT: the end */
out:
	free(k);
	free(v);
	return err;
}

/* The tag map (an LRU hash keyed by the IPv4-mapped or IPv6 source),
 * sorted by address. */
static int read_tags(int fd, struct sample *s)
{
	struct mxs_addr k, next, *prev = NULL;
	size_t cap = 0;
	int err = read_tags_batch(fd, s, &cap);

	if (err < 0)
		return err;
	while (err == 1 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct mxs_tag v;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;	/* evicted between the two calls */
		if (tag_push(s, &cap, &k, &v))
			return -ENOMEM;
	}
	if (s->ntags)
		qsort(s->tags, s->ntags, sizeof(*s->tags), tag_cmp);
	return 0;
}

int sample_take(const struct ctl *c, struct sample *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	if (!c->loaded)
		return -ENOENT;
	s->at_ns = mono_ns();
	err = counters_sum(c->fd_stats, MXS_STAT_SLOTS, s->stat);
	if (!err)
		err = counters_sum(c->fd_cstats, MXS_COUNTRY_SLOTS, s->cstat);
	if (!err && c->fd_conns >= 0) {
		err = counters_sum_u64(c->fd_conns, MXS_CONN_SLOTS, s->conns);
		s->has_conns = !err;
	}
	if (!err)
		err = hitmap_load(&c->mv, &s->hits);
	if (!err)
		err = read_tags(c->fd_tags, s);
	if (err)
		sample_free(s);
	return err;
}

void sample_free(struct sample *s)
{
	hitmap_free(&s->hits);
	free(s->tags);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- rates */

static struct rate rate_of(uint64_t before, uint64_t now, double secs)
{
	struct rate r = { .total = now };
	uint64_t d = now >= before ? now - before : now;	/* reset: from zero */

	r.per_s = secs > 0 ? d / secs : 0;
	return r;
}

static int row_cmp(const void *x, const void *y)
{
	const struct top_row *a = x, *b = y;

	if (a->r.per_s != b->r.per_s)
		return a->r.per_s < b->r.per_s ? 1 : -1;
	if (a->r.total != b->r.total)
		return a->r.total < b->r.total ? 1 : -1;
	return 0;
}

/* Keep the @t->cap busiest rows: collect them all, sort, cut. The lists
 * are a few thousand rows at most (countries, entries with hits, tags). */
static int top_add(struct top_list *t, const struct top_row *row, size_t *alloc)
{
	if (t->n == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 64;
		void *n = realloc(t->row, na * sizeof(*t->row));

		if (!n)
			return -ENOMEM;
		t->row = n;
		*alloc = na;
	}
	t->row[t->n++] = *row;
	return 0;
}

static void top_cut(struct top_list *t)
{
	if (t->n)
		qsort(t->row, t->n, sizeof(*t->row), row_cmp);
	if (t->n > t->cap)
		t->n = t->cap;
}

struct entry_walk {
	const struct hitmap *before;
	double secs;
	struct top_list *t;
	size_t alloc;
};

static int entry_one(uint8_t list, const struct mxs_prefix *p, uint64_t hits,
		     uint64_t last_hit, void *arg)
{
	struct entry_walk *w = arg;
	uint64_t was = 0, last;
	struct top_row row = { .list = list, .p = *p };

	hitmap_get(w->before, list, p, &was, &last);
	row.r = rate_of(was, hits, w->secs);
	return top_add(w->t, &row, &w->alloc);
}

static int top_entries(const struct sample *a, const struct sample *b, double secs,
		       struct top_list *t)
{
	struct entry_walk w = { .before = &a->hits, .secs = secs, .t = t };
	int err = hitmap_each(&b->hits, entry_one, &w);

	top_cut(t);
	return err;
}

static int top_countries(const struct sample *a, const struct sample *b, double secs,
			 struct top_list *t)
{
	size_t alloc = 0;

	for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
		struct top_row row = { .country = cc };

		if (!b->cstat[cc].packets)
			continue;
		row.r = rate_of(a->cstat[cc].packets, b->cstat[cc].packets, secs);
		if (top_add(t, &row, &alloc))
			return -ENOMEM;
	}
	top_cut(t);
	return 0;
}

static int top_tagged(const struct sample *a, const struct sample *b, double secs,
		      struct top_list *t)
{
	size_t alloc = 0;

	for (size_t i = 0; i < b->ntags; i++) {
		const struct sample_tag *x = &b->tags[i], *was;
		struct top_row row = { .list = x->list, .action = x->action,
				       .reason = x->reason, .p = x->src };

		was = a->ntags ? bsearch(x, a->tags, a->ntags, sizeof(*x), tag_cmp) : NULL;
		row.r = rate_of(was ? was->packets : 0, x->packets, secs);
		if (top_add(t, &row, &alloc))
			return -ENOMEM;
	}
	top_cut(t);
	return 0;
}

int sample_top_dropped(const struct sample *a, const struct sample *b, struct top_list *t)
{
	/* Plug in here: the drop events between a->at_ns and b->at_ns,
	 * counted per source, into t (top_add, then top_cut). */
	(void)a;
	(void)b;
	t->n = 0;
	t->na = true;
	t->note = "needs the drop-event ring buffer, not in this data plane";
	return 0;
}

int sample_rates(const struct sample *a, const struct sample *b, size_t top,
		 struct rates *r)
{
	double secs = b->at_ns > a->at_ns ? (b->at_ns - a->at_ns) / 1e9 : 0;
	int err;

	memset(r, 0, sizeof(*r));
	r->secs = secs;
	r->has_conns = a->has_conns && b->has_conns;
	for (int re = 0; re < MXS_R_MAX; re++) {
		for (int ac = 0; ac < MXS_ACT_MAX; ac++) {
			int k = re * MXS_ACT_MAX + ac;

			r->verdict[re][ac] = rate_of(a->stat[k].packets, b->stat[k].packets, secs);
			r->verdict_bytes[re][ac] = rate_of(a->stat[k].bytes, b->stat[k].bytes, secs);
			r->conns[re][ac] = rate_of(a->conns[k], b->conns[k], secs);
		}
	}
	for (int x = 0; x < SAMPLE_XDP_ACTIONS; x++)
		r->xdp[x] = rate_of(a->stat[MXS_STAT_XDP + x].packets, b->stat[MXS_STAT_XDP + x].packets,
				   secs);
	r->countries.cap = r->entries.cap = r->tagged.cap = r->dropped.cap = top;
	err = top_countries(a, b, secs, &r->countries);
	if (!err)
		err = top_entries(a, b, secs, &r->entries);
	if (!err)
		err = top_tagged(a, b, secs, &r->tagged);
	if (!err)
		err = sample_top_dropped(a, b, &r->dropped);
	if (err)
		rates_free(r);
	return err;
}

void rates_free(struct rates *r)
{
	free(r->countries.row);
	free(r->entries.row);
	free(r->tagged.row);
	free(r->dropped.row);
	memset(r, 0, sizeof(*r));
}
