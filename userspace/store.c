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
#include "ctl.h"
#include "store.h"

#define ST_MAGIC "MXSLIST\n"
#define ST_VERSION 1

struct st_head {
	char magic[8];
	uint32_t version;
	uint32_t entsize;	/* sizeof(struct st_ent) */
	uint64_t n;		/* entries */
	uint64_t npool;		/* bytes of comments after the entries */
	uint64_t seq;		/* last journal change folded in */
	int64_t next_expiry;	/* earliest expiry of an entry, 0 = none */
	uint64_t reserved[2];
};

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
	if (e >= s->ov && e < s->ov + s->nov)
		return s->opool + e->comment - 1;
	if (e >= s->pend && e < s->pend + s->npend)
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
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ the files */

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

static int load_snapshot(struct store *s, const char *path)
{
	const struct st_head *h;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 1 : ctl_err("%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return ctl_err("%s: %s", path, strerror(errno));
	}
	if ((size_t)st.st_size < sizeof(*h)) {
		close(fd);
		return ctl_err("%s: truncated list snapshot", path);
	}
	s->map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		return ctl_err("%s: %s", path, strerror(errno));
	}
	s->maplen = st.st_size;
	h = s->map;
	if (memcmp(h->magic, ST_MAGIC, 8) || h->version != ST_VERSION ||
	    h->entsize != sizeof(struct st_ent) ||
	    h->n > (st.st_size - sizeof(*h)) / sizeof(struct st_ent) ||
	    sizeof(*h) + h->n * sizeof(struct st_ent) + h->npool != (uint64_t)st.st_size)
		return ctl_err("%s: not a list snapshot of this version, or damaged", path);
	s->base = (const struct st_ent *)(h + 1);
	s->nbase = h->n;
	s->bpool = (const char *)(s->base + h->n);
	s->nbpool = h->npool;
	s->seq = h->seq;
	s->n = h->n;
	s->next_expiry = h->next_expiry;
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
	s->legacy = true;
	return 0;
}

/* One journal line: "SEQ + PREFIX ACTION EXPIRES ADDED COMMENT" or
 * "SEQ - PREFIX". */
static int parse_jline(char *line, uint64_t *seq, struct st_ent *e, char **comment,
		       char *err, size_t errlen)
{
	char *f[6], *p = line, *end;
	struct mxs_prefix pfx;
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
	*seq = strtoull(f[0], &end, 10);
	if (*end || n < 3 || (strcmp(f[1], "+") && strcmp(f[1], "-")))
		return mxs_fail(err, errlen, "not a journal line");
	if (parse_prefix(f[2], &pfx, err, errlen))
		return -1;
	key_of(&pfx, e);
	if (f[1][0] == '-') {
		e->del = 1;
		return 0;
	}
	if (n < 5)
		return mxs_fail(err, errlen, "journal line with too few fields");
	e->action = strtoul(f[3], NULL, 10);
	e->expires = strtoll(f[4], NULL, 10);
	e->added = n > 5 ? strtoll(f[5], &end, 10) : 0;
	if (n > 5 && *end == ' ')
		*comment = end + 1;
	return 0;
}

static int load_journal(struct store *s, const char *path, bool readonly)
{
	FILE *fp = fopen(path, readonly ? "re" : "r+e");
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	off_t good = 0;
	int rc = 0;

	if (!fp)
		return errno == ENOENT ? 0 : ctl_err("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct st_ent e;
		uint64_t seq;
		char *comment;

		lineno++;
		if (line[len - 1] != '\n') {
			/* torn: the change never completed; cut it off, so
			 * that the next line appended starts a line (a
			 * read leaves that to the next change) */
			if (!readonly && ftruncate(fileno(fp), good))
				rc = ctl_err("%s: %s", path, strerror(errno));
			break;
		}
		good += len;
		line[len - 1] = '\0';
		if (parse_jline(line, &seq, &e, &comment, err, sizeof(err))) {
			rc = ctl_err("%s:%ld: %s", path, lineno, err);
			break;
		}
		s->njournal++;
		if (seq <= s->seq)
			continue;	/* already in the snapshot */
		if (store_apply(s, &e, comment)) {
			rc = ctl_err("out of memory");
			break;
		}
		s->seq = seq;
	}
	s->npend = 0;		/* on disk already */
	free(line);
	fclose(fp);
	return rc;
}

int store_open(const struct ctl *c, const char *name, struct store *s)
{
	char snap[PATH_MAX], jour[PATH_MAX], legacy[PATH_MAX];
	int rc;

	memset(s, 0, sizeof(*s));
	paths(c, name, snap, jour, legacy);
	rc = load_snapshot(s, snap);
	if (rc == 1) {
		struct stat st;

		rc = stat(legacy, &st) ? 0 : load_legacy(s, legacy, name);
	}
	if (!rc)
		rc = load_journal(s, jour, c->readonly);
	if (rc)
		store_close(s);
	return rc;
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
	struct st_head h = { .version = ST_VERSION, .entsize = sizeof(struct st_ent),
			     .seq = s->seq };
	struct iovec iov[3];
	char err[PATH_MAX + 256];
	int rc = 0;

	if (store_view(s, &view, &copy))
		return ctl_err("out of memory");
	memcpy(h.magic, ST_MAGIC, 8);
	h.next_expiry = earliest_expiry(view.e, view.n, 0);
	h.n = view.n;
	h.npool = view.npool;
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ view.e, view.n * sizeof(*view.e) };
	iov[2] = (struct iovec){ view.pool, view.npool };
	if (atomic_writev(path, iov, 3, err, sizeof(err)))
		rc = ctl_err("writing state: %s", err);
	st_vec_free(&copy);
	return rc;
}

static int append_journal(struct store *s, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct stat st = {};
	int fd, rc = 0;

	if (!mem)
		return ctl_err("out of memory");
	for (size_t i = 0; i < s->npend; i++) {
		const struct st_ent *e = &s->pend[i];
		struct mxs_prefix p;
		char ps[MXS_PFX_STRLEN];

		st_prefix(e, &p);
		prefix_str(&p, ps);
		if (e->del)
			fprintf(mem, "%llu - %s\n", (unsigned long long)s->seq + i + 1, ps);
		else
			fprintf(mem, "%llu + %s %u %lld %lld %s\n",
				(unsigned long long)s->seq + i + 1, ps, e->action,
				(long long)e->expires, (long long)e->added,
				e->comment ? s->opool + e->comment - 1 : "");
	}
	fclose(mem);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) || write(fd, buf, len) != (ssize_t)len || fdatasync(fd)) {
		rc = ctl_err("writing state: %s: %s", path, strerror(errno ? errno : EIO));
		/* a torn line is ignored when read, but a change that failed
		 * must not come back whole: cut the file back */
		if (fd >= 0)
			(void)!ftruncate(fd, st.st_size);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int store_sync(const struct ctl *c, const char *name, struct store *s)
{
	char snap[PATH_MAX], jour[PATH_MAX], legacy[PATH_MAX];

	paths(c, name, snap, jour, legacy);
	if (!s->full && !s->legacy && s->njournal + s->npend <= ST_JOURNAL_MAX) {
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
	 * a seq the snapshot covers) */
	s->seq += s->npend;
	if (write_snapshot(s, snap)) {
		s->seq -= s->npend;
		return 1;
	}
	s->npend = 0;
	s->full = false;
	s->njournal = 0;
	unlink(jour);
	if (s->legacy && !unlink(legacy))
		s->legacy = false;
	return 0;
}
