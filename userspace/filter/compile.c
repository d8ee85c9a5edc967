// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The compiler: every list of one family (trust, partner, gateway, block,
 * country) -> one multibit trie whose longest match is the verdict
 * (maps/contract.h, "the compiled classifier"; maps/walk.h).
 *
 *  1. Sort the entries by (start address, prefix length): prefixes nest, so
 *     one sweep with a stack of the entries covering the current address
 *     yields every elementary range and the entries that cover it.
 *  2. The value of a range: mxs_winner() of maps/decide.h -- the same
 *     precedence the reference classifier runs per packet -- over the
 *     stack; if the winner can expire, the value that follows it is the
 *     winner at its expiry time, and so on (a chain of records).
 *  3. Merge neighbouring ranges with equal values, then cut the address
 *     space into the direct first stage and nodes of 64 children, storing
 *     only the children that are nodes and the leaves that start a run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"
#include "../core/radix.h"

typedef unsigned __int128 u128;

struct cctx {
	const struct rule_vec *in;
	const uint32_t *stk;
	size_t depth;
	size_t last;		/* entry index of the last match */
};

static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out);
static __u8 mxs_country_action(void *ctx, __u32 cc);
#include "../../maps/decide.h"

static int mxs_match(void *vctx, __u32 list, __u8 plen, struct mxs_rule *out)
{
	struct cctx *c = vctx;

	for (size_t i = c->depth; i-- > 0;) {
		uint32_t e = c->stk[i];

		if (c->in->r[e].list == list && c->in->p[e].plen <= plen) {
			*out = c->in->r[e];
			out->prefixlen = c->in->p[e].plen;
			c->last = e;
			return 1;
		}
	}
	return 0;
}

static __u8 mxs_country_action(void *ctx, __u32 cc)
{
	return MXS_ACT_NONE;	/* policies apply at run time, not here */
}

/* ------------------------------------------------------------ rule_vec */

int rule_vec_push(struct rule_vec *v, const struct mxs_prefix *p, const struct mxs_rule *r)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		void *np = realloc(v->p, cap * sizeof(*v->p));

		if (!np)
			return -ENOMEM;
		v->p = np;
		np = realloc(v->r, cap * sizeof(*v->r));
		if (!np)
			return -ENOMEM;
		v->r = np;
		v->cap = cap;
	}
	v->p[v->n] = *p;
	v->r[v->n] = *r;
	v->r[v->n].prefixlen = p->plen;
	v->n++;
	return 0;
}

void rule_vec_free(struct rule_vec *v)
{
	free(v->p);
	free(v->r);
	memset(v, 0, sizeof(*v));
}

/* -------------------------------------------------------------- helpers */

static u128 addr_num(const struct mxs_prefix *p)
{
	u128 x = 0;
	int n = p->v6 ? 16 : 4;

	for (int i = 0; i < n; i++)
		x = x << 8 | p->addr[i];
	return x;
}

static u128 host_mask(int bits, int plen)
{
	if (bits - plen >= 128)
		return ~(u128)0;
	return ((u128)1 << (bits - plen)) - 1;
}

#define GROW(arr, n, cap, want)						\
	({								\
		int _ok = 1;						\
		if ((n) + (want) > (cap)) {				\
			size_t _c = (cap) ? (cap) : 1024;		\
			void *_p;					\
			while (_c < (n) + (want))			\
				_c *= 2;				\
			_p = realloc((arr), _c * sizeof(*(arr)));	\
			if (_p) {					\
				(arr) = _p;				\
				(cap) = _c;				\
			} else {					\
				_ok = 0;				\
			}						\
		}							\
		_ok;							\
	})

/* ----------------------------------------------------- interned records */

struct interner {
	uint32_t *slot;		/* rec index, 0 = empty */
	size_t mask;
};

static uint64_t rec_hash(const struct mxs_crec *r)
{
	return mxs_hash(r, sizeof(*r), MXS_HASH_SEED);
}

/* Append *r: its index, or 0 (ENOMEM, or over MXS_CV_INDEX records). */
static uint32_t append_rec(struct ctable *t, const struct mxs_crec *r)
{
	if (t->nrec > MXS_CV_INDEX - 1 || !GROW(t->rec, t->nrec, t->caprec, 1))
		return 0;
	t->rec[t->nrec] = *r;
	return t->nrec++;
}

/* Index of the record equal to *r, appended when new; 0 on ENOMEM. */
static uint32_t intern(struct ctable *t, struct interner *in, const struct mxs_crec *r)
{
	size_t i;

	if (t->nrec * 2 >= in->mask) {
		size_t nmask = in->mask ? in->mask * 2 + 1 : 4095;
		uint32_t *ns = calloc(nmask + 1, sizeof(*ns));

		if (!ns)
			return 0;
		for (size_t k = 1; k < t->nrec; k++) {
			for (i = rec_hash(&t->rec[k]) & nmask; ns[i]; i = (i + 1) & nmask)
				;
			ns[i] = k;
		}
		free(in->slot);
		in->slot = ns;
		in->mask = nmask;
	}
	for (i = rec_hash(r) & in->mask; in->slot[i]; i = (i + 1) & in->mask)
		if (!memcmp(&t->rec[in->slot[i]], r, sizeof(*r)))
			return in->slot[i];
	in->slot[i] = append_rec(t, r);
	return in->slot[i];
}

/* ------------------------------------------------------------ the sweep */

struct sweep {
	struct ctable *t;
	struct interner in;
	uint32_t *memo;		/* entry -> its record, for winners that never expire */
	struct cctx cc;
	int bits;
	bool oom;
	/* merged ranges: start[i] .. start[i+1]-1 has value val[i] */
	u128 *start;
	uint32_t *val;
	size_t n, cap, capv;
};

/* The value of the current stack at time @now, @step records deep. */
static uint32_t value_at(struct sweep *s, uint64_t now, int step)
{
	struct mxs_rule r;
	struct mxs_crec rec = {};
	size_t e;

	if (!mxs_winner(&s->cc, s->bits, now, &r))
		return 0;
	if (r.list == MXS_LIST_COUNTRY)
		return r.ref < MXS_COUNTRY_SLOTS ? MXS_CV_COUNTRY | r.ref : 0;
	e = s->cc.last;
	if (!r.expires && !step && s->memo[e])
		return s->memo[e];
	rec.expires = r.expires;
	rec.ref = r.ref;
	rec.action = r.action;
	rec.list = r.list;
	rec.prefixlen = r.prefixlen;
	memcpy(rec.addr, s->cc.in->p[e].addr, 16);
	if (r.expires && step + 1 < MXS_CHAIN_STEPS)
		rec.next = value_at(s, r.expires, step + 1);
	if (!r.expires && !step) {	/* one record per entry: none equal to look for */
		uint32_t idx = append_rec(s->t, &rec);

		s->memo[e] = idx;
		e = idx;
	} else {
		e = intern(s->t, &s->in, &rec);
	}
	if (!e)
		s->oom = true;
	return e;
}

static void emit(struct sweep *s, u128 lo)
{
	uint32_t v = value_at(s, 0, 0);

	if (s->n && s->val[s->n - 1] == v)
		return;
	if (!GROW(s->start, s->n, s->cap, 1) || !GROW(s->val, s->n, s->capv, 1)) {
		s->oom = true;
		return;
	}
	s->start[s->n] = lo;
	s->val[s->n++] = v;
}

struct ord {
	u128 start;
	uint32_t idx;
	uint8_t plen;
};

static int ord_cmp(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (int)x->plen - (int)y->plen;
}

/* IPv4: by (address << 8 | plen), a 40-bit key. */
static int sort_v4(struct ord *o, size_t n)
{
	uint64_t *k = malloc((n + 1) * sizeof(*k));
	uint32_t *ix = malloc((n + 1) * sizeof(*ix));
	int rc = -ENOMEM;

	if (k && ix) {
		for (size_t i = 0; i < n; i++) {
			k[i] = (uint64_t)o[i].start << 8 | o[i].plen;
			ix[i] = o[i].idx;
		}
		rc = mxs_radix48(k, ix, n);
		for (size_t i = 0; !rc && i < n; i++) {
			o[i].start = k[i] >> 8;
			o[i].plen = k[i] & 0xff;
			o[i].idx = ix[i];
		}
	}
	free(k);
	free(ix);
	return rc;
}

static int sweep_ranges(struct sweep *s, const struct rule_vec *in)
{
	int bits = s->bits;
	u128 kmax = host_mask(bits, 0), pos = 0;
	struct ord *o = malloc((in->n ? in->n : 1) * sizeof(*o));
	uint32_t *stk = malloc((in->n ? in->n : 1) * sizeof(*stk));
	u128 *o_last = malloc((in->n ? in->n : 1) * sizeof(*o_last));
	size_t depth = 0;
	bool done = false;
	int rc = -ENOMEM;

	if (!o || !stk || !o_last)
		goto out;
	for (size_t i = 0; i < in->n; i++) {
		o[i].start = addr_num(&in->p[i]) & ~host_mask(bits, in->p[i].plen);
		o[i].plen = in->p[i].plen;
		o[i].idx = i;
	}
	if (bits == 32) {
		if (sort_v4(o, in->n))
			goto out;
	} else {
		qsort(o, in->n, sizeof(*o), ord_cmp);
	}
	s->cc.in = in;
	s->cc.stk = stk;
#define TOP_LAST() (o_last[depth - 1])
	for (size_t i = 0; i < in->n && !s->oom; i++) {
		u128 st = o[i].start;

		while (depth && TOP_LAST() < st) {
			if (pos <= TOP_LAST()) {
				s->cc.depth = depth;
				emit(s, pos);
				pos = TOP_LAST() + 1;
			}
			depth--;
		}
		if (pos < st) {
			s->cc.depth = depth;
			emit(s, pos);
			pos = st;
		}
		stk[depth] = o[i].idx;
		o_last[depth] = st | host_mask(bits, o[i].plen);
		depth++;
	}
	while (depth && !done) {
		if (pos <= TOP_LAST()) {
			s->cc.depth = depth;
			emit(s, pos);
			if (TOP_LAST() == kmax)
				done = true;
			else
				pos = TOP_LAST() + 1;
		}
		depth--;
	}
#undef TOP_LAST
	if (!done) {
		s->cc.depth = 0;
		emit(s, pos);
	}
	rc = s->oom ? -ENOMEM : 0;
out:
	free(o_last);
	free(o);
	free(stk);
	return rc;
}

/* ------------------------------------------------------------ the trie */

struct builder {
	struct ctable *t;
	const u128 *start;
	const uint32_t *val;
	size_t n;
	int bits;
	bool oom;
};

/* A node to fill: its index, the first address it covers, the range
 * that address is in. */
struct pending {
	u128 lo;
	uint32_t nidx;
	uint32_t i;
};

struct level {
	struct pending *p;
	size_t n, cap;
};

/* Fill node @q (at @depth bits): its vectors and leaves now, its internal
 * children allocated next to each other and queued in @next. */
static int fill_node(struct builder *b, const struct pending *q, int depth, struct level *next)
{
	struct ctable *t = b->t;
	int shift = b->bits - depth - MXS_STRIDE;
	u128 cs = (u128)1 << shift;
	size_t base_leaf = t->nleaf, base_node = t->nnode, i = q->i;
	uint64_t vector = 0, leafvec = 0;
	uint32_t last = 0, inl[2] = {};
	bool have_last = false;
	int nint = 0, nleaf = 0;

	for (int j = 0; j < 64; j++) {
		u128 clo = q->lo + (u128)j * cs, chi = clo + cs - 1;

		while (i + 1 < b->n && b->start[i + 1] <= clo)
			i++;
		if (i + 1 == b->n || b->start[i + 1] > chi) {
			uint32_t v = b->val[i];

			if (!have_last || v != last) {
				/* the first two runs go into the node, the
				 * others into the leaf array */
				if (nleaf < 2) {
					inl[nleaf++] = v;
				} else {
					nleaf++;
					if (!GROW(t->leaf, t->nleaf, t->capleaf, 1))
						return -ENOMEM;
					t->leaf[t->nleaf++] = v;
				}
				leafvec |= 1ULL << j;
				last = v;
				have_last = true;
			}
		} else {
			if (!GROW(next->p, next->n, next->cap, 1))
				return -ENOMEM;
			next->p[next->n++] = (struct pending){ .lo = clo, .i = i,
							       .nidx = base_node + nint };
			vector |= 1ULL << j;
			nint++;
		}
	}
	if (base_node + nint >= MXS_CV_NODE || base_leaf >= MXS_CN_LASTFIRST ||
	    !GROW(t->node, t->nnode, t->capnode, nint))
		return -ENOMEM;
	/* islands in one network: the last run has the first's value */
	if (nleaf >= 3 && last == inl[0])
		base_leaf |= MXS_CN_LASTFIRST;
	t->nnode += nint;
	t->node[q->nidx] = (struct mxs_cnode){ .vector = vector, .leafvec = leafvec,
					       .base_node = base_node, .base_leaf = base_leaf,
					       .leaf = { inl[0], inl[1] } };
	return 0;
}

/* The first-stage slots [first, first + n) of the table (t->dir[0..n)),
 * then the nodes level by level: the nodes of one level sit together, so
 * the first level below the dir (one node per slot at most) stays in the
 * cache under floods from random sources. */
static int build_trie(struct builder *b, size_t first, size_t n)
{
	struct ctable *t = b->t;
	int dbits = t->v6 ? MXS_DIR_BITS_V6 : MXS_DIR_BITS_V4, depth = dbits, rc = 0;
	struct level cur = {}, next = {};
	size_t i = 0;

	t->ndir = n;
	t->dir = calloc(t->ndir, sizeof(*t->dir));
	if (!t->dir)
		return -ENOMEM;
	for (size_t s = first; s < first + n; s++) {
		u128 lo = (u128)s << (b->bits - dbits), hi = lo + host_mask(b->bits, dbits);

		while (i + 1 < b->n && b->start[i + 1] <= lo)
			i++;
		if (i + 1 == b->n || b->start[i + 1] > hi) {
			t->dir[s - first] = b->val[i];
			continue;
		}
		if (!GROW(t->node, t->nnode, t->capnode, 1) ||
		    !GROW(cur.p, cur.n, cur.cap, 1)) {
			rc = -ENOMEM;
			goto out;
		}
		cur.p[cur.n++] = (struct pending){ .lo = lo, .i = i, .nidx = t->nnode };
		t->dir[s - first] = MXS_CV_NODE | t->nnode++;
	}
	while (cur.n && !rc) {
		struct level swap;

		next.n = 0;
		for (size_t k = 0; k < cur.n && !rc; k++)
			rc = fill_node(b, &cur.p[k], depth, &next);
		depth += MXS_STRIDE;
		swap = cur;
		cur = next;
		next = swap;
	}
out:
	free(cur.p);
	free(next.p);
	return rc;
}

/* Records in order of prefix length, shortest first: under a flood from
 * random sources the short prefixes decide most packets, and their records
 * then share cache lines and pages instead of lying scattered among those
 * of host entries. @val[0..n) and the records' fallbacks follow. */
static int order_recs(struct ctable *t, uint32_t *val, size_t n)
{
	size_t pos[130] = {};
	uint32_t *to = malloc(t->nrec * sizeof(*to));
	struct mxs_crec *nr = malloc(t->caprec * sizeof(*nr));

	if (!to || !nr) {
		free(to);
		free(nr);
		return -ENOMEM;
	}
	for (size_t i = 1; i < t->nrec; i++)
		pos[t->rec[i].prefixlen + 1]++;
	pos[0] = 1;
	for (int p = 1; p < 130; p++)
		pos[p] += pos[p - 1];
	for (size_t i = 1; i < t->nrec; i++)
		to[i] = pos[t->rec[i].prefixlen]++;
#define REMAP(v) (MXS_CV_IS_REC(v) ? to[v] : (v))
	nr[0] = t->rec[0];
	for (size_t i = 1; i < t->nrec; i++) {
		nr[to[i]] = t->rec[i];
		nr[to[i]].next = REMAP(t->rec[i].next);
	}
	for (size_t i = 0; i < n; i++)
		val[i] = REMAP(val[i]);
#undef REMAP
	free(t->rec);
	t->rec = nr;
	free(to);
	return 0;
}

void ctable_shift(struct ctable *t, uint32_t noff, uint32_t loff, uint32_t roff)
{
#define SHIFT(v) ((v) & MXS_CV_NODE ? (v) + noff : MXS_CV_IS_REC(v) ? (v) + roff : (v))
	for (size_t i = 0; i < t->ndir; i++)
		t->dir[i] = SHIFT(t->dir[i]);
	for (size_t i = 0; i < t->nnode; i++) {
		struct mxs_cnode *c = &t->node[i];

		c->base_node += noff;
		c->base_leaf += loff;	/* below MXS_CN_LASTFIRST: the flag stays */
		c->leaf[0] = SHIFT(c->leaf[0]);
		c->leaf[1] = SHIFT(c->leaf[1]);
	}
	for (size_t i = 0; i < t->nleaf; i++)
		t->leaf[i] = SHIFT(t->leaf[i]);
	for (size_t i = 1; i < t->nrec; i++)
		t->rec[i].next = SHIFT(t->rec[i].next);
#undef SHIFT
}

/* Append the arrays of @b (its indices shifted past @a's) to @a. */
static int ctable_append(struct ctable *a, struct ctable *b)
{
	uint32_t *dir = realloc(a->dir, (a->ndir + b->ndir) * sizeof(*dir));

	if (dir)
		a->dir = dir;
	if (!dir || !GROW(a->node, a->nnode, a->capnode, b->nnode) ||
	    !GROW(a->leaf, a->nleaf, a->capleaf, b->nleaf) ||
	    !GROW(a->rec, a->nrec, a->caprec, b->nrec - 1) ||
	    a->nnode + b->nnode >= MXS_CV_NODE || a->nleaf + b->nleaf >= MXS_CN_LASTFIRST ||
	    a->nrec + b->nrec > MXS_CV_INDEX)
		return -ENOMEM;
	/* b's records from 1 land at a->nrec */
	ctable_shift(b, a->nnode, a->nleaf, a->nrec - 1);
	memcpy(a->dir + a->ndir, b->dir, b->ndir * sizeof(*dir));
	memcpy(a->node + a->nnode, b->node, b->nnode * sizeof(*b->node));
	memcpy(a->leaf + a->nleaf, b->leaf, b->nleaf * sizeof(*b->leaf));
	memcpy(a->rec + a->nrec, b->rec + 1, (b->nrec - 1) * sizeof(*b->rec));
	a->ndir += b->ndir;
	a->nnode += b->nnode;
	a->nleaf += b->nleaf;
	a->nrec += b->nrec - 1;
	a->nranges += b->nranges;
	return 0;
}

/* A full build compiles the two halves of the address space at once, one
 * thread each (the machines this runs on have a CPU or two to spare when
 * a list is replaced), then puts them one after the other. */
struct half {
	int v6;
	struct rule_vec in;	/* the entries that meet the half */
	size_t first, n;
	struct ctable t;
	int rc;
	char err[MXS_ERRLEN];
};

static void *compile_half(void *arg)
{
	struct half *h = arg;

	h->rc = mxs_compile_span(h->v6, &h->in, h->first, h->n, &h->t, h->err, sizeof(h->err));
	return NULL;
}

int mxs_compile(int v6, const struct rule_vec *in, struct ctable *t, char *err, size_t errlen)
{
	size_t slots = (size_t)1 << (v6 ? MXS_DIR_BITS_V6 : MXS_DIR_BITS_V4);
	struct half h[2] = { { .v6 = v6, .first = 0, .n = slots / 2 },
			     { .v6 = v6, .first = slots / 2, .n = slots / 2 } };
	struct mxs_prefix span[2] = { { .v6 = v6, .plen = 1 },
				      { .v6 = v6, .plen = 1, .addr = { 0x80 } } };
	pthread_t th;
	bool threaded;
	int rc = 0;

	for (size_t i = 0; i < in->n && !rc; i++)
		for (int k = 0; k < 2 && !rc; k++)
			if (prefix_meets(&in->p[i], &span[k]) &&
			    rule_vec_push(&h[k].in, &in->p[i], &in->r[i]))
				rc = -ENOMEM;
	if (rc) {
		mxs_fail(err, errlen, "compiling the %s lists: out of memory", v6 ? "IPv6" : "IPv4");
		goto out;
	}
	threaded = !pthread_create(&th, NULL, compile_half, &h[1]);
	compile_half(&h[0]);
	if (threaded)
		pthread_join(th, NULL);
	else
		compile_half(&h[1]);
	for (int k = 0; k < 2 && !rc; k++)
		if (h[k].rc)
			rc = mxs_fail(err, errlen, "%s", h[k].err);
	if (!rc && ctable_append(&h[0].t, &h[1].t))
		rc = mxs_fail(err, errlen, "compiling the %s lists: out of memory (or over 2^30 "
			      "verdicts)", v6 ? "IPv6" : "IPv4");
	if (!rc) {
		*t = h[0].t;
		memset(&h[0].t, 0, sizeof(h[0].t));
	}
out:
	for (int k = 0; k < 2; k++) {
		ctable_free(&h[k].t);
		rule_vec_free(&h[k].in);
	}
	return rc;
}

int mxs_compile_span(int v6, const struct rule_vec *in, size_t first, size_t n,
		     struct ctable *t, char *err, size_t errlen)
{
	struct sweep s = { .t = t, .bits = v6 ? 128 : 32 };
	struct builder b;
	int rc;

	memset(t, 0, sizeof(*t));
	t->v6 = v6;
	/* record 0 stands for "no entry" and is never referenced */
	if (!GROW(t->rec, t->nrec, t->caprec, 1))
		return mxs_fail(err, errlen, "out of memory");
	memset(&t->rec[0], 0, sizeof(t->rec[0]));
	t->nrec = 1;
	s.memo = calloc(in->n ? in->n : 1, sizeof(*s.memo));
	rc = s.memo ? sweep_ranges(&s, in) : -ENOMEM;
	free(s.memo);
	free(s.in.slot);
	if (!rc)
		rc = order_recs(t, s.val, s.n);
	if (!rc) {
		b = (struct builder){ .t = t, .start = s.start, .val = s.val, .n = s.n,
				      .bits = s.bits };
		rc = build_trie(&b, first, n);
	}
	free(s.start);
	free(s.val);
	if (rc) {
		ctable_free(t);
		return mxs_fail(err, errlen, "compiling the %s lists: %s", v6 ? "IPv6" : "IPv4",
				rc == -ENOMEM ? "out of memory (or over 2^30 verdicts)" :
						strerror(-rc));
	}
	t->nranges = s.n;
	return 0;
}

void ctable_free(struct ctable *t)
{
	free(t->dir);
	free(t->node);
	free(t->leaf);
	free(t->rec);
	memset(t, 0, sizeof(*t));
}

int mxs_patch_span(const struct mxs_prefix *p, struct mxs_prefix *span, size_t *first,
		   size_t *n)
{
	int dbits = p->v6 ? MXS_DIR_BITS_V6 : MXS_DIR_BITS_V4, bits = p->v6 ? 128 : 32;

	*span = *p;
	if (span->plen > dbits) {
		span->plen = dbits;
		prefix_mask(span);
	}
	*n = (size_t)1 << (dbits - span->plen);
	*first = addr_num(span) >> (bits - dbits);
	return *n <= MXS_PATCH_SLOTS ? 0 : -1;
}
