// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The IP lists on disk: a sorted snapshot plus a journal (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <stdarg.h>
#include <zlib.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "../core/radix.h"
#include "ipstore.h"
#include "recfile.h"

int st_cmp(const struct st_ent *a, const struct st_ent *b)
{
	int d;

	if (a->v6 != b->v6)
		return a->v6 < b->v6 ? -1 : 1;
	d = memcmp(a->addr, b->addr, 16);
	if (d)
		return d;
	return (int)a->plen - (int)b->plen;
}

void st_set_prefix(struct st_ent *e, const struct mxs_prefix *p)
{
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, p->addr, p->v6 ? 16 : 4);
	e->plen = p->plen;
	e->v6 = p->v6;
}

void st_prefix(const struct st_ent *e, struct mxs_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->v6 = e->v6;
	p->plen = e->plen;
	memcpy(p->addr, e->addr, 16);
}

static void key_of(const struct mxs_prefix *p, struct st_ent *k)
{
	memset(k, 0, sizeof(*k));
	st_set_prefix(k, p);
}

/* The earliest expiry of @e[0..n) and @cur (0: none expires). */
static int64_t earliest_expiry(const struct st_ent *e, size_t n, int64_t cur)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].expires && (!cur || e[i].expires < cur))
			cur = e[i].expires;
	return cur;
}

/* First index in a[0..n) not below @k. */
static size_t lower(const struct st_ent *a, size_t n, const struct st_ent *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st_cmp(&a[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *np;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	np = realloc(*p, c * size);
	if (!np)
		return -1;
	*p = np;
	*cap = c;
	return 0;
}

/* Append a comment to a pool: its offset + 1, 0 for none, -1 on ENOMEM. */
static long pool_add(char **pool, size_t *n, size_t *cap, const char *s)
{
	size_t len;
	long off;

	if (!s || !*s)
		return 0;
	len = strlen(s) + 1;
	if (grow((void **)pool, cap, *n + len, 1))
		return -1;
	memcpy(*pool + *n, s, len);
	off = *n + 1;
	*n += len;
	return off;
}

/* --------------------------------------------------------------- st_vec */

int st_vec_push(struct st_vec *v, const struct st_ent *e, const char *comment)
{
	long off;

	if (grow((void **)&v->e, &v->cap, v->n + 1, sizeof(*v->e)))
		return -1;
	off = pool_add(&v->pool, &v->npool, &v->cappool, comment);
	if (off < 0)
		return -1;
	v->e[v->n] = *e;
	v->e[v->n].del = 0;
	v->e[v->n++].comment = off;
	return 0;
}

const char *st_vec_comment(const struct st_vec *v, const struct st_ent *e)
{
	return e->comment ? v->pool + e->comment - 1 : "";
}

/* Sort key of an entry; IPv4 keys (family 0) sort with a radix sort. */
static uint64_t key4(const struct st_ent *e)
{
	return (uint64_t)e->addr[0] << 32 | (uint64_t)e->addr[1] << 24 |
	       (uint64_t)e->addr[2] << 16 | (uint64_t)e->addr[3] << 8 | e->plen;
}

static const struct st_ent *cmp_base;

static int cmp_idx(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int d = st_cmp(&cmp_base[x], &cmp_base[y]);

	return d ? d : (x < y ? -1 : x > y);
}

long st_vec_finish(struct st_vec *v)
{
	size_t n = v->n, n4 = 0, k = 0;
	uint64_t *key = malloc((n + 1) * sizeof(*key));
	uint32_t *ix = malloc((n + 1) * sizeof(*ix));
	struct st_ent *out = malloc((n + 1) * sizeof(*out));
	long dups = -1;

	if (!key || !ix || !out)
		goto out;
	/* IPv4 first, by a stable radix sort of (address, plen) */
	for (size_t i = 0; i < n; i++)
		if (!v->e[i].v6) {
			key[n4] = key4(&v->e[i]);
			ix[n4++] = i;
		}
	if (mxs_radix48(key, ix, n4))
		goto out;
	/* then IPv6, by comparison, stable by push order */
	{
		size_t n6 = 0;

		for (size_t i = 0; i < n; i++)
			if (v->e[i].v6)
				ix[n4 + n6++] = i;
		cmp_base = v->e;
		qsort(ix + n4, n6, sizeof(*ix), cmp_idx);
	}
	/* of equal prefixes, keep the last pushed */
	dups = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && !st_cmp(&v->e[ix[i]], &v->e[ix[i + 1]])) {
			dups++;
			continue;
		}
		out[k++] = v->e[ix[i]];
	}
	free(v->e);
	v->e = out;
	v->n = k;
	v->cap = n + 1;
	out = NULL;
out:
	free(key);
	free(ix);
	free(out);
	return dups;
}

void st_vec_free(struct st_vec *v)
{
	free(v->e);
	free(v->pool);
	memset(v, 0, sizeof(*v));
}

/* ---------------------------------------------------------------- store */

const char *store_comment(const struct store *s, const struct st_ent *e)
{
	if (!e->comment)
		return "";
	/* journal entries live in the overlay, whose comments are in opool */
	if (s->nov && e >= s->ov && e < s->ov + s->nov)
		return s->opool + e->comment - 1;
	if (s->npend && e >= s->pend && e < s->pend + s->npend)
		return s->opool + e->comment - 1;
	return e->comment - 1 < s->nbpool ? s->bpool + e->comment - 1 : "";
}

static const struct st_ent *base_find(const struct store *s, const struct st_ent *k)
{
	size_t i = lower(s->base, s->nbase, k);

	return i < s->nbase && !st_cmp(&s->base[i], k) ? &s->base[i] : NULL;
}

const struct st_ent *store_find(const struct store *s, const struct mxs_prefix *p)
{
	struct st_ent k;
	size_t i;

	key_of(p, &k);
	i = lower(s->ov, s->nov, &k);
	if (i < s->nov && !st_cmp(&s->ov[i], &k))
		return s->ov[i].del ? NULL : &s->ov[i];
	return base_find(s, &k);
}

int store_apply(struct store *s, const struct st_ent *e, const char *comment)
{
	struct st_ent x = *e;
	size_t i = lower(s->ov, s->nov, e);
	bool was, in_ov = i < s->nov && !st_cmp(&s->ov[i], e);
	long off = pool_add(&s->opool, &s->nopool, &s->capopool, comment);

	if (off < 0)
		return -1;
	x.comment = off;
	was = in_ov ? !s->ov[i].del : base_find(s, e) != NULL;
	if (!in_ov) {
		if (grow((void **)&s->ov, &s->capov, s->nov + 1, sizeof(*s->ov)))
			return -1;
		memmove(&s->ov[i + 1], &s->ov[i], (s->nov - i) * sizeof(*s->ov));
		s->nov++;
	}
	s->ov[i] = x;
	if (!x.del)
		s->next_expiry = earliest_expiry(&x, 1, s->next_expiry);
	if (grow((void **)&s->pend, &s->cappend, s->npend + 1, sizeof(*s->pend)))
		return -1;
	s->pend[s->npend++] = x;
	s->n += (x.del ? 0 : 1) - (was ? 1 : 0);
	return 0;
}

/* Merge snapshot and overlay from the first entries not below @k (NULL:
 * from the start); stop when cb returns non-zero or the entries pass @end
 * (NULL: no end). */
static int merge(const struct store *s, const struct st_ent *k, const struct st_ent *end,
		 int (*cb)(const struct st_ent *e, const char *comment, void *arg), void *arg)
{
	size_t i = k ? lower(s->base, s->nbase, k) : 0, j = k ? lower(s->ov, s->nov, k) : 0;

	while (i < s->nbase || j < s->nov) {
		const struct st_ent *e;
		int d;

		if (i == s->nbase)
			d = 1;
		else if (j == s->nov)
			d = -1;
		else
			d = st_cmp(&s->base[i], &s->ov[j]);
		e = d < 0 ? &s->base[i] : &s->ov[j];
		if (end && st_cmp(e, end) > 0)
			break;
		if (d <= 0)
			i++;
		if (d >= 0)
			j++;
		if (e->del)
			continue;
		if (cb(e, store_comment(s, e), arg))
			return 1;
	}
	return 0;
}

int store_all(const struct store *s,
	      int (*cb)(const struct st_ent *e, const char *comment, void *arg), void *arg)
{
	return merge(s, NULL, NULL, cb, arg);
}

int store_each(const struct store *s, int v6, const uint8_t lo[16], const uint8_t hi[16],
	       int (*cb)(const struct st_ent *e, const char *comment, void *arg), void *arg)
{
	struct st_ent a = { .v6 = v6 }, b = { .v6 = v6, .plen = 255 };

	memcpy(a.addr, lo, 16);
	memcpy(b.addr, hi, 16);
	return merge(s, &a, &b, cb, arg);
}

void store_adopt(struct store *s, struct st_vec *v)
{
	if (s->owned) {
		free((void *)s->base);
		free((void *)s->bpool);
	}
	if (s->map)
		munmap(s->map, s->maplen);
	s->map = NULL;
	s->base = v->e;
	s->nbase = v->n;
	s->bpool = v->pool;
	s->nbpool = v->npool;
	s->owned = true;
	s->nov = s->npend = 0;
	s->n = v->n;
	s->full = true;
	s->next_expiry = earliest_expiry(v->e, v->n, 0);
	memset(v, 0, sizeof(*v));
}

void store_close(struct store *s)
{
	if (s->owned) {
		free((void *)s->base);
		free((void *)s->bpool);
	}
	if (s->map)
		munmap(s->map, s->maplen);
	free(s->ov);
	free(s->opool);
	free(s->pend);
	st_vec_free(&s->keep);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ the files */

/*
 * LIST.list, version 2 (version 1 had no checksums: it is still read, its
 * fields validated, and rewritten as version 2 at the next change):
 *
 *   struct st_head                      64 bytes, head_crc over itself
 *   uint32_t crc[nchunk], padded to 8   crc32 of each chunk of ST_CHUNK
 *                                       entries (table_crc over it)
 *   struct st_ent ent[n]                sorted, unique
 *   char pool[npool]                    NUL-terminated comments (pool_crc)
 *
 * The table sits before the entries so that a file cut short still shows
 * which of its leading chunks are whole (state repair keeps those).
 */
#define ST_MAGIC "MXSLIST\n"
#define ST_V1 1
#define ST_V2 2
#define ST_CHUNK 64

struct st_head {
	char magic[8];
	uint32_t version;
	uint32_t entsize;	/* sizeof(struct st_ent) */
	uint64_t n;		/* entries */
	uint64_t npool;		/* bytes of comments after the entries */
	uint64_t seq;		/* last change folded in */
	int64_t next_expiry;	/* earliest expiry of an entry, 0 = none */
	uint32_t chunk;		/* entries per checksummed chunk */
	uint32_t pool_crc;
	uint32_t table_crc;
	uint32_t head_crc;	/* crc32 of the header with this field 0 */
};
_Static_assert(sizeof(struct st_head) == 64, "st_head is 64 bytes on disk");

/* LIST.journal, version 2: a first line SJ_HEAD, then one line a change,
 * "CRC SEQ + PREFIX ACTION EXPIRES ADDED COMMENT" or "CRC SEQ - PREFIX",
 * CRC the crc32 (8 hex digits) of the rest of the line. A journal without
 * the header line is of version 1: its lines have no CRC. */
#define SJ_HEAD "# mxshield journal v2\n"

static uint32_t crc(const void *p, size_t n)
{
	return crc32_z(crc32_z(0, NULL, 0), p, n);
}

static size_t table_len(uint64_t n, uint32_t chunk)
{
	uint64_t nchunk = chunk ? (n + chunk - 1) / chunk : 0;

	return ((nchunk + 1) & ~1ULL) * sizeof(uint32_t);
}

static void paths(const struct ctl *c, const char *name, char snap[PATH_MAX],
		  char jour[PATH_MAX], char legacy[PATH_MAX])
{
	char n[128];

	snprintf(n, sizeof(n), "%s.list", name);
	state_path(c, n, snap, PATH_MAX);
	snprintf(n, sizeof(n), "%s.journal", name);
	state_path(c, n, jour, PATH_MAX);
	state_path(c, name, legacy, PATH_MAX);
}

/* Is @e a sound entry of list @s? NULL, or why not. */
static const char *ent_problem(const struct store *s, const struct st_ent *e, size_t npool,
			       const char *pool)
{
	struct mxs_prefix p, m;

	if (e->v6 > 1)
		return "family byte is neither 0 (IPv4) nor 1 (IPv6)";
	if (e->plen > (e->v6 ? 128 : 32))
		return "prefix length out of range";
	if (!e->v6)
		for (int i = 4; i < 16; i++)
			if (e->addr[i])
				return "IPv4 address with bytes beyond its 4";
	st_prefix(e, &p);
	m = p;
	prefix_mask(&m);
	if (memcmp(m.addr, p.addr, 16))
		return "host bits set";
	if (s->block ? e->action < MXS_ACT_DROP || e->action >= MXS_ACT_MAX : e->action)
		return "action out of range";
	if (e->del)
		return "deletion mark in a snapshot";
	if (e->added < 0 || e->expires < 0)
		return "negative time";
	if (e->comment && (e->comment - 1 >= npool || (e->comment > 1 && pool[e->comment - 2])))
		return "comment offset outside the comment pool";
	return NULL;
}

/* Report damage: an error (normal load), or one more loss (salvage). */
static int damaged(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int damaged(struct store *s, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!s->why[0])
		snprintf(s->why, sizeof(s->why), "%s", msg);
	if (s->salvage) {
		if (s->verbose)
			fprintf(stderr, "mxshield: %s\n", msg);
		return 0;
	}
	return ctl_err("%s", msg);
}

/* Validate the entries of a mapped snapshot; in salvage mode keep the
 * good ones in s->keep. */
static int check_entries(struct store *s, const char *path, const struct st_head *h,
			 const uint32_t *table, const struct st_ent *ent, size_t avail,
			 const char *pool, size_t npool, bool pool_ok)
{
	const struct st_ent *prev = NULL;
	int64_t next = 0;

	for (size_t i = 0; i < h->n; i++) {
		const struct st_ent *e = &ent[i];
		size_t off = (const char *)e - (const char *)h;
		const char *why;

		if (table && i % h->chunk == 0) {
			size_t k = i / h->chunk, len = h->n - i < h->chunk ? h->n - i : h->chunk;

			if (i + len > avail || crc(e, len * sizeof(*e)) != table[k]) {
				if (damaged(s, "%s: byte %zu: entries %zu-%zu fail their checksum",
					    path, off, i, i + len - 1))
					return 1;
				s->lost += len;
				i += len - 1;
				continue;
			}
		}
		if (!table && i >= avail) {
			s->lost += h->n - i;
			return damaged(s, "%s: byte %zu: cut short", path, off);
		}
		why = ent_problem(s, e, npool, pool);
		if (!why && prev && st_cmp(prev, e) >= 0)
			why = "entries out of order";
		if (why) {
			if (damaged(s, "%s: byte %zu: entry %zu: %s", path, off, i, why))
				return 1;
			s->lost++;
			continue;
		}
		prev = e;
		if (e->expires && (!next || e->expires < next))
			next = e->expires;
		if (s->salvage && st_vec_push(&s->keep, e, pool_ok && e->comment ?
					      pool + e->comment - 1 : NULL))
			return ctl_err("out of memory");
	}
	if (!s->salvage && next != h->next_expiry)
		return ctl_err("%s: header: earliest expiry does not match the entries", path);
	return 0;
}

static int load_snapshot(struct store *s, const char *path)
{
	const struct st_head *h;
	const uint32_t *table = NULL;
	const struct st_ent *ent;
	const char *pool;
	struct stat st;
	size_t size, tlen = 0, avail, npool;
	bool pool_ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? 1 : ctl_err("%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return ctl_err("%s: %s", path, strerror(errno));
	}
	size = st.st_size;
	if (size < sizeof(*h)) {
		close(fd);
		s->lost_all = true;
		return damaged(s, "%s: %zu bytes: cut short before the end of its header", path,
			       size);
	}
	s->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		return ctl_err("%s: %s", path, strerror(errno));
	}
	s->maplen = size;
	h = s->map;
	if (memcmp(h->magic, ST_MAGIC, 8) || h->entsize != sizeof(struct st_ent) ||
	    (h->version != ST_V1 && h->version != ST_V2)) {
		s->lost_all = true;
		return damaged(s, "%s: byte 0: not an mxshield list snapshot of a version this "
			       "controller reads", path);
	}
	if (h->version == ST_V2) {
		struct st_head c = *h;

		c.head_crc = 0;
		if (crc(&c, sizeof(c)) != h->head_crc || !h->chunk) {
			s->lost_all = true;
			return damaged(s, "%s: byte 0: header fails its checksum", path);
		}
		tlen = table_len(h->n, h->chunk);
		table = (const uint32_t *)(h + 1);
		if (h->n > size || sizeof(*h) + tlen > size) {
			s->lost_all = true;
			return damaged(s, "%s: byte %zu: cut short inside the checksum table",
				       path, sizeof(*h));
		}
		if (!s->salvage && crc(table, tlen) != h->table_crc)
			return ctl_err("%s: byte %zu: checksum table fails its checksum", path,
				       sizeof(*h));
	}
	ent = (const struct st_ent *)((const char *)h + sizeof(*h) + tlen);
	avail = (size - sizeof(*h) - tlen) / sizeof(*ent);
	npool = 0;
	pool = (const char *)(ent + (h->n < avail ? h->n : avail));
	if (h->n <= avail && h->npool <= size &&
	    sizeof(*h) + tlen + h->n * sizeof(*ent) + h->npool == size)
		npool = h->npool;
	else if (!s->salvage)
		return ctl_err("%s: %zu bytes where its header says %llu: cut short or "
			       "overwritten", path, size,
			       (unsigned long long)(sizeof(*h) + tlen + h->n * sizeof(*ent) +
						    h->npool));
	pool_ok = npool == h->npool && (!npool || !pool[npool - 1]) &&
		  (h->version == ST_V1 || crc(pool, npool) == h->pool_crc);
	if (!pool_ok) {
		if (damaged(s, "%s: byte %zu: comment pool damaged", path,
			    (size_t)(pool - (const char *)h)))
			return 1;
		s->lost_comments = true;
		npool = 0;
	}
	if (check_entries(s, path, h, table, ent, avail, pool, npool, pool_ok))
		return 1;
	s->seq = h->seq;
	if (s->salvage)
		return 0;
	s->base = ent;
	s->nbase = h->n;
	s->bpool = pool;
	s->nbpool = h->npool;
	s->n = h->n;
	s->next_expiry = h->next_expiry;
	s->version = h->version;
	return 0;
}

/* A state directory from before the snapshot format: one text file. */
static int load_legacy(struct store *s, const char *path, const char *name)
{
	struct recfile f;
	struct st_vec v = {};
	char err[PATH_MAX + 256];
	int rc = 0;

	if (state_read(path, &f, err, sizeof(err)))
		return ctl_err("%s", err);
	for (int i = 0; i < f.n && !rc; i++) {
		const struct rec *r = &f.r[i];
		const char *act = rec_get(r, "action"), *x;
		struct mxs_prefix p;
		struct st_ent e = {};

		if (parse_prefix(rec_get(r, "prefix"), &p, err, sizeof(err)) ||
		    (act && parse_action(act, &e.action, err, sizeof(err)))) {
			rc = ctl_err("%s:%d: %s", path, r->line, err);
			break;
		}
		key_of(&p, &e);
		if (strcmp(name, "block"))
			e.action = 0;
		else if (!act)
			e.action = MXS_ACT_DROP;
		x = rec_get(r, "added");
		e.added = x ? strtoll(x, NULL, 10) : 0;
		x = rec_get(r, "expires");
		e.expires = x ? strtoll(x, NULL, 10) : 0;
		if (st_vec_push(&v, &e, rec_get(r, "comment")))
			rc = ctl_err("out of memory");
	}
	recfile_free(&f);
	if (!rc && st_vec_finish(&v) < 0)
		rc = ctl_err("out of memory");
	if (rc) {
		st_vec_free(&v);
		return rc;
	}
	store_adopt(s, &v);	/* and written as a snapshot at the next change */
	s->full = false;
	s->legacy = true;
	return 0;
}

/* A decimal number that fills the whole field. */
static int num(const char *f, bool sign, int64_t *out)
{
	char *end;

	if (!*f || (!sign && *f == '-') || (*f != '-' && (*f < '0' || *f > '9')))
		return -1;
	errno = 0;
	*out = strtoll(f, &end, 10);
	return *end || errno ? -1 : 0;
}

/* One journal line (after its CRC): "SEQ + PREFIX ACTION EXPIRES ADDED
 * COMMENT" or "SEQ - PREFIX". */
static int parse_jline(const struct store *s, char *line, uint64_t *seq, struct st_ent *e,
		       char **comment, char *err, size_t errlen)
{
	char *f[6], *p = line;
	const char *why;
	struct mxs_prefix pfx;
	int64_t v;
	int n = 0;

	while (n < 6) {
		f[n++] = p;
		if (n == 6)
			break;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = '\0';
	}
	memset(e, 0, sizeof(*e));
	*comment = "";
	if (n < 3 || num(f[0], false, &v) || (strcmp(f[1], "+") && strcmp(f[1], "-")))
		return mxs_fail(err, errlen, "not a journal line");
	*seq = v;
	if (parse_prefix(f[2], &pfx, err, errlen))
		return -1;
	key_of(&pfx, e);
	if (f[1][0] == '-') {
		e->del = 1;
		return n == 3 ? 0 : mxs_fail(err, errlen, "a deletion with more fields");
	}
	if (n < 5)
		return mxs_fail(err, errlen, "journal line with too few fields");
	if (num(f[3], false, &v) || v > 255)
		return mxs_fail(err, errlen, "action '%s' is not a number", f[3]);
	e->action = v;
	if (n > 5) {	/* "ADDED COMMENT": the comment is the rest */
		char *sp = strchr(f[5], ' ');

		if (sp) {
			*sp = '\0';
			*comment = sp + 1;
			for (const char *c = *comment; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					return mxs_fail(err, errlen, "control byte in the comment");
		}
	}
	if (num(f[4], false, &e->expires) || (n > 5 && num(f[5], false, &e->added)))
		return mxs_fail(err, errlen, "times must be whole seconds");
	why = ent_problem(s, e, 0, "");
	return why ? mxs_fail(err, errlen, "%s", why) : 0;
}

/* A version 2 journal line without its newline: the text after its CRC
 * when the CRC checks out, else NULL. */
static char *jline_body(char *line)
{
	unsigned long want;
	char *end;

	errno = 0;
	want = strtoul(line, &end, 16);
	if (end != line + 8 || *end != ' ' || errno || crc(end + 1, strlen(end + 1)) != want)
		return NULL;
	return end + 1;
}

static int load_journal(struct store *s, const char *path)
{
	FILE *fp = fopen(path, s->readonly ? "re" : "r+e");
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	off_t good = 0;
	uint64_t last = 0;
	bool v2 = false;
	int rc = 0;

	if (!fp)
		return errno == ENOENT ? 0 : ctl_err("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct st_ent e;
		uint64_t seq = 0;
		char *comment, *body = line;

		lineno++;
		if (line[len - 1] != '\n') {
			/* torn: the change never completed; cut it off, so
			 * that the next line appended starts a line */
			if (!s->salvage && !s->readonly && ftruncate(fileno(fp), good))
				rc = ctl_err("%s: %s", path, strerror(errno));
			break;
		}
		good += len;
		if (lineno == 1 && (size_t)len == strlen(SJ_HEAD) && !memcmp(line, SJ_HEAD, len)) {
			v2 = true;
			continue;
		}
		line[len - 1] = '\0';
		if (memchr(line, '\0', len - 1)) {
			rc = damaged(s, "%s:%ld: NUL byte in a journal line", path, lineno);
			goto lost;
		}
		if (v2 && !(body = jline_body(line))) {
			rc = damaged(s, "%s:%ld: journal line fails its checksum", path, lineno);
			goto lost;
		}
		if (parse_jline(s, body, &seq, &e, &comment, err, sizeof(err))) {
			rc = damaged(s, "%s:%ld: %s", path, lineno, err);
			goto lost;
		}
		if (last && seq <= last) {
			rc = damaged(s, "%s:%ld: change %llu after change %llu", path, lineno,
				     (unsigned long long)seq, (unsigned long long)last);
			goto lost;
		}
		last = seq;
		s->njournal++;
		if (seq <= s->seq)
			continue;	/* already in the snapshot */
		if (seq != s->seq + 1) {
			rc = damaged(s, "%s:%ld: change %llu where %llu was next: changes missing",
				     path, lineno, (unsigned long long)seq,
				     (unsigned long long)s->seq + 1);
			if (rc)
				break;
			s->gaps++;	/* salvage: the lines before are lost, not this */
		}
		if (store_apply(s, &e, comment)) {
			rc = ctl_err("out of memory");
			break;
		}
		s->seq = seq;
		continue;
lost:
		if (rc)
			break;
		if (s->nlostl < sizeof(s->lostl) / sizeof(s->lostl[0]))
			s->lostl[s->nlostl] = lineno;
		s->nlostl++;
	}
	s->jv2 = v2;
	s->npend = 0;		/* on disk already */
	free(line);
	fclose(fp);
	return rc;
}

/* Open the files of list @name into @s (salvage: keep what verifies, in
 * s->keep and the overlay, counting what does not). */
static int store_load(const struct ctl *c, const char *name, struct store *s)
{
	char snap[PATH_MAX], jour[PATH_MAX], legacy[PATH_MAX];
	int rc;

	/* the block list, its sources, and the fleet's view of them (mta/sync.c) */
	s->block = !strcmp(name, "block") || !strncmp(name, "sources/block/", 14) ||
		   !strncmp(name, "sync/view/block", 15);
	paths(c, name, snap, jour, legacy);
	rc = load_snapshot(s, snap);
	if (rc == 1 && !s->map && !s->salvage) {
		struct stat st;

		rc = stat(legacy, &st) ? 0 : load_legacy(s, legacy, name);
	} else if (rc == 1) {
		return 1;
	}
	if (!rc && s->salvage) {
		uint64_t seq = s->seq;

		if (st_vec_finish(&s->keep) < 0)
			return ctl_err("out of memory");
		store_adopt(s, &s->keep);
		s->seq = seq;
	}
	if (!rc)
		rc = load_journal(s, jour);
	return rc;
}

int store_open(const struct ctl *c, const char *name, struct store *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->readonly = c->readonly;	/* a read leaves a torn line to the next change */
	rc = store_load(c, name, s);
	if (rc) {
		store_close(s);
		fprintf(stderr, "mxshield: list '%s' is damaged: nothing was changed, and a loaded "
			"filter keeps what it has; 'mxshield state check' shows every file's "
			"health, 'mxshield state repair %s' rebuilds it from what verifies\n",
			name, name);
	}
	return rc;
}

int store_check(const struct ctl *c, const char *name, struct store *s)
{
	memset(s, 0, sizeof(*s));
	s->readonly = true;
	return store_load(c, name, s);
}

int store_salvage(const struct ctl *c, const char *name, struct store *s, bool verbose)
{
	memset(s, 0, sizeof(*s));
	s->salvage = true;
	s->readonly = true;
	s->verbose = verbose;
	return store_load(c, name, s);
}

static int collect_live(const struct st_ent *e, const char *comment, void *arg)
{
	return st_vec_push(arg, e, comment) ? -1 : 0;
}

int store_view(const struct store *s, struct st_vec *view, struct st_vec *copy)
{
	memset(copy, 0, sizeof(*copy));
	if (!s->nov) {	/* the snapshot alone: as it is */
		*view = (struct st_vec){ .e = (struct st_ent *)s->base, .n = s->nbase,
					 .pool = (char *)s->bpool, .npool = s->nbpool };
		return 0;
	}
	if (store_all(s, collect_live, copy)) {
		st_vec_free(copy);
		return -1;
	}
	*view = *copy;
	return 0;
}

static int write_snapshot(const struct store *s, const char *path)
{
	struct st_vec view, copy;
	struct st_head h = { .version = ST_V2, .entsize = sizeof(struct st_ent),
			     .seq = s->seq, .chunk = ST_CHUNK };
	struct iovec iov[4];
	char err[PATH_MAX + 256];
	uint32_t *table;
	size_t tlen;
	int rc = 0;

	if (store_view(s, &view, &copy))
		return ctl_err("out of memory");
	memcpy(h.magic, ST_MAGIC, 8);
	h.next_expiry = earliest_expiry(view.e, view.n, 0);
	h.n = view.n;
	h.npool = view.npool;
	tlen = table_len(view.n, ST_CHUNK);
	table = calloc(1, tlen + 1);
	if (!table) {
		st_vec_free(&copy);
		return ctl_err("out of memory");
	}
	for (size_t i = 0; i < view.n; i += ST_CHUNK)
		table[i / ST_CHUNK] = crc(&view.e[i], (view.n - i < ST_CHUNK ? view.n - i : ST_CHUNK) *
					  sizeof(*view.e));
	h.table_crc = crc(table, tlen);
	h.pool_crc = crc(view.pool, view.npool);
	h.head_crc = crc(&h, sizeof(h));
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ table, tlen };
	iov[2] = (struct iovec){ view.e, view.n * sizeof(*view.e) };
	iov[3] = (struct iovec){ view.pool, view.npool };
	if (atomic_writev(path, iov, 4, err, sizeof(err)))
		rc = ctl_err("writing state: %s", err);
	free(table);
	st_vec_free(&copy);
	return rc;
}

/* One journal line, with its CRC, into @mem. */
static void put_jline(FILE *mem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_jline(FILE *mem, const char *fmt, ...)
{
	char body[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	fprintf(mem, "%08x %s\n", crc(body, strlen(body)), body);
}

static int append_journal(struct store *s, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct stat st = {};
	int fd, rc = 0;
	bool fresh;

	if (!mem)
		return ctl_err("out of memory");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &st)) {
		fclose(mem);
		free(buf);
		rc = ctl_err("writing state: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* a new journal is of version 2; lines appended to one of version 1
	 * stay without a CRC until the next snapshot folds it in */
	fresh = st.st_size == 0;
	if (fresh) {
		state_share_with_dir_group(fd, path);
		fputs(SJ_HEAD, mem);
	}
	for (size_t i = 0; i < s->npend; i++) {
		const struct st_ent *e = &s->pend[i];
		unsigned long long seq = s->seq + i + 1;
		struct mxs_prefix p;
		char ps[MXS_PFX_STRLEN], sep[2] = "";

		st_prefix(e, &p);
		prefix_str(&p, ps);
		if (!fresh && !s->jv2) {
			if (e->del)
				fprintf(mem, "%llu - %s\n", seq, ps);
			else
				fprintf(mem, "%llu + %s %u %lld %lld %s\n", seq, ps, e->action,
					(long long)e->expires, (long long)e->added,
					e->comment ? s->opool + e->comment - 1 : "");
			continue;
		}
		if (e->del) {
			put_jline(mem, "%llu - %s", seq, ps);
			continue;
		}
		if (e->comment)
			sep[0] = ' ';
		put_jline(mem, "%llu + %s %u %lld %lld%s%s", seq, ps, e->action,
			  (long long)e->expires, (long long)e->added, sep,
			  e->comment ? s->opool + e->comment - 1 : "");
	}
	fclose(mem);
	if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) || (fresh && fsync_parent(path))) {
		rc = ctl_err("writing state: %s: %s", path, strerror(errno ? errno : EIO));
		/* a torn line is ignored when read, but a change that failed
		 * must not come back whole: cut the file back */
		(void)!ftruncate(fd, st.st_size);
	} else if (fresh) {
		s->jv2 = true;
	}
	close(fd);
	free(buf);
	return rc;
}

int store_sync(const struct ctl *c, const char *name, struct store *s)
{
	char snap[PATH_MAX], jour[PATH_MAX], legacy[PATH_MAX];
	uint64_t bump;

	paths(c, name, snap, jour, legacy);
	if (!s->full && !s->legacy && s->version != ST_V1 &&
	    s->njournal + s->npend <= ST_JOURNAL_MAX) {
		if (!s->npend)
			return 0;
		if (append_journal(s, jour))
			return 1;
		s->seq += s->npend;
		s->njournal += s->npend;
		s->npend = 0;
		return 0;
	}
	/* a new snapshot holding everything; then the journal and any text
	 * file of an older version are stale (the journal's lines all carry
	 * a seq the snapshot covers). A whole new list counts as a change
	 * too: the live build names the seq it was compiled from. */
	bump = s->npend + (s->full ? 1 : 0);
	s->seq += bump;
	if (write_snapshot(s, snap)) {
		s->seq -= bump;
		return 1;
	}
	s->npend = 0;
	s->full = false;
	s->njournal = 0;
	s->version = ST_V2;
	unlink(jour);
	s->jv2 = false;
	if (s->legacy && !unlink(legacy))
		s->legacy = false;
	return 0;
}

int store_seq(const struct ctl *c, const char *name, uint64_t *seq)
{
	int64_t next;

	return store_peek(c, name, seq, &next);
}

int store_peek(const struct ctl *c, const char *name, uint64_t *seq, int64_t *next_expiry)
{
	char snap[PATH_MAX], jour[PATH_MAX], legacy[PATH_MAX], *line = NULL;
	struct st_head h;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	bool v2 = false;
	FILE *fp;
	int fd;

	*seq = 0;
	*next_expiry = 0;
	paths(c, name, snap, jour, legacy);
	fd = open(snap, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		struct st_head z;
		bool ok = read(fd, &h, sizeof(h)) == sizeof(h) && !memcmp(h.magic, ST_MAGIC, 8);

		z = h;
		z.head_crc = 0;
		close(fd);
		if (!ok || (h.version != ST_V1 && (h.version != ST_V2 ||
						   crc(&z, sizeof(z)) != h.head_crc)))
			return ctl_err("%s: header damaged ('mxshield state check')", snap);
		*seq = h.seq;
		*next_expiry = h.next_expiry;
	} else if (errno != ENOENT) {
		return ctl_err("%s: %s", snap, strerror(errno));
	}
	fp = fopen(jour, "re");
	if (!fp)
		return errno == ENOENT ? 0 : ctl_err("%s: %s", jour, strerror(errno));
	while ((len = getline(&line, &cap, fp)) > 0 && line[len - 1] == '\n') {
		char *body = line, *end;
		unsigned long long q;

		if (++lineno == 1 && !strcmp(line, SJ_HEAD)) {
			v2 = true;
			continue;
		}
		line[len - 1] = '\0';
		if (v2 && !(body = jline_body(line)))
			break;
		q = strtoull(body, &end, 10);
		if (*end != ' ')
			break;
		if (q > *seq)
			*seq = q;
		if (end[1] == '+') {	/* "+ PREFIX ACTION EXPIRES": an expiry */
			long long x = 0;

			if (sscanf(end + 2, "%*s %*u %lld", &x) == 1 && x > 0 &&
			    (!*next_expiry || x < *next_expiry))
				*next_expiry = x;
		}
	}
	free(line);
	fclose(fp);
	return 0;	/* a damaged line: store_open reports it */
}
