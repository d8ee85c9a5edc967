// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mta/sync.c: the fleet's shared lists through etcd (sync.h, docs/fleet.md).
 *
 * The loop: watch P kv/ from the applied revision and apply what comes
 * (single changes patched in place, a new manifest as one full build); poll
 * the shared lists' sequence numbers and write what changed locally to
 * etcd; every second a health read, the status file and this edge's key.
 */
#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "../core/ctl.h"
#include "../core/etcd.h"
#include "../core/log.h"
#include "../core/parse.h"
#include "../filter/build.h"
#include "../filter/loader.h"
#include "../filter/source.h"
#include "../filter/srcset.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "sync.h"

/* A single change is one key; more than this many at once (a replace, an
 * import) go as a new snapshot. etcd's default --max-txn-ops is 128. */
#define SYNC_DELTA_MAX 100
/* A snapshot chunk's size: well inside etcd's default request limit
 * (1.5 MiB), base64 and JSON included. */
#define SYNC_CHUNK (1 << 20)
/* The edge key's lease, and how often it is refreshed. */
#define SYNC_LEASE_TTL 10
#define SYNC_EDGE_EVERY 2.0
/* One request to etcd at most (ms; each endpoint in turn). */
#define SYNC_TIMEOUT_MS 2000
/* A status file older than this (s) is of a sync that is stuck or gone. */
#define SYNC_STALE 3.5
/* Local changes are looked for this often (ms). */
#define SYNC_POLL_MS 20

/* A shared state file (partners, countries, envelope) is one key: at most
 * this many bytes, inside etcd's default request limit with base64. */
#define SYNC_FILE_MAX (1 << 20)

#define DEFAULT_SHARE "block,trust,gateway,block.auto,block.dnsbl,partners,countries,envelope"
#define SHARE_NAMES "block, trust, gateway, block.auto, block.dnsbl, partners, countries, " \
	"envelope"

/* The state files shared whole: one key each, P kv/file/NAME. */
static const struct {
	const char *name, *file;
} file_units[] = {
	{ "partners", ST_PARTNERS },
	{ "countries", ST_COUNTRIES },
	{ "envelope", ST_ENVELOPE },
};

struct unit {
	char name[48];			/* "block", "block.auto" */
	const struct listdef *d;
	char src[SRC_NAMELEN];		/* "" for the manual entries */
	char store[96];			/* the local ipstore */
	char view[96];			/* the fleet's view: sync/view/NAME */
	uint64_t seen;			/* local seq last compared (0: compare) */
	bool seen_ok;
	int64_t m_rev;			/* mod_revision of its manifest (0: none) */
	char gen[40];
	double retry_at;		/* a failed publish waits until then */
	const char *file;		/* a state file shared whole (NULL: a list) */
};

struct syncd {
	struct ctl *c;
	const struct sync_conf *cf;
	struct etcd *e;
	struct etcd_watch *w;
	bool watch_live;		/* created, messages flowing */
	struct unit u[12];
	int nu;
	char kvp[256], blobp[256], edgep[256];
	int64_t rev;			/* applied */
	uint64_t cluster;
	bool joined;
	bool need_full;
	double caught_up;		/* last moment known current */
	double next_health, next_edge, next_connect;
	int64_t lease;
	uint64_t digest;
	uint64_t digest_seqs[12];
	bool digest_ok;
	struct sync_status st;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sync_error(struct syncd *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sync_error(struct syncd *sd, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, sd->st.error))
		log_print(LOG_WARNING, "sync: %s", msg);
	snprintf(sd->st.error, sizeof(sd->st.error), "%s", msg);
	sd->st.errors++;
}

/* ------------------------------------------------------------ the units */

static int units_init(struct syncd *sd, const char *share)
{
	char *list = strdup(share ? share : DEFAULT_SHARE), *tok, *sp;
	int rc = 0;

	if (!list)
		return ctl_err("out of memory");
	for (tok = strtok_r(list, ",", &sp); tok; tok = strtok_r(NULL, ",", &sp)) {
		struct unit *u;
		char lname[32], *dot;
		char err[256];

		if (sd->nu == (int)(sizeof(sd->u) / sizeof(sd->u[0]))) {
			rc = ctl_err("sync: too many shared lists");
			break;
		}
		u = &sd->u[sd->nu];
		memset(u, 0, sizeof(*u));
		snprintf(u->name, sizeof(u->name), "%s", tok);
		snprintf(u->view, sizeof(u->view), "sync/view/%s", tok);
		for (size_t k = 0; k < sizeof(file_units) / sizeof(file_units[0]); k++)
			if (!strcmp(tok, file_units[k].name))
				u->file = file_units[k].file;
		if (u->file) {
			snprintf(u->gen, sizeof(u->gen), "file");
			sd->nu++;
			continue;
		}
		snprintf(lname, sizeof(lname), "%s", tok);
		dot = strchr(lname, '.');
		if (dot) {
			*dot = 0;
			snprintf(u->src, sizeof(u->src), "%s", dot + 1);
			if (src_valid(u->src, err, sizeof(err)) || !strncmp(u->src, "feed:", 5)) {
				rc = ctl_err("sync: '%s': not a list or a source that can be shared "
					     "(" SHARE_NAMES ")", tok);
				break;
			}
		}
		u->d = listdef_by_name(lname);
		if (!u->d) {
			rc = ctl_err("sync: '%s': no such list (" SHARE_NAMES ")",
				     tok);
			break;
		}
		src_store_name(lname, u->src[0] ? dot + 1 : NULL, u->store, sizeof(u->store));
		sd->nu++;
	}
	free(list);
	return rc;
}

/* --------------------------------------------------- entries as text */

/* "PREFIX ACTION EXPIRES ADDED COMMENT\n" (ACTION "-" in lists without
 * one), or "PREFIX del\n". */
static int fmt_line(const struct st_ent *e, const char *comment, char *buf, size_t len)
{
	struct mxs_prefix p;
	char ps[MXS_PFX_STRLEN];

	st_prefix(e, &p);
	prefix_str(&p, ps);
	if (e->del)
		return snprintf(buf, len, "%s del\n", ps);
	return snprintf(buf, len, "%s %s %lld %lld %s\n", ps,
			e->action ? action_name(e->action) : "-", (long long)e->expires,
			(long long)e->added, comment ? comment : "");
}

/* One line (without its newline) into @e and @comment (a copy into @cbuf). */
static int parse_line(const char *s, size_t n, struct st_ent *e, char *cbuf, size_t clen)
{
	char line[1024], *f[4], *sp = NULL, *rest;
	struct mxs_prefix p;
	char err[256];
	int i;

	if (n >= sizeof(line))
		return -1;
	memcpy(line, s, n);
	line[n] = 0;
	memset(e, 0, sizeof(*e));
	cbuf[0] = 0;
	f[0] = strtok_r(line, " ", &sp);
	if (!f[0] || parse_prefix(f[0], &p, err, sizeof(err)))
		return -1;
	st_set_prefix(e, &p);
	f[1] = strtok_r(NULL, " ", &sp);
	if (!f[1])
		return -1;
	if (!strcmp(f[1], "del")) {
		e->del = 1;
		return 0;
	}
	if (strcmp(f[1], "-") && parse_action(f[1], &e->action, err, sizeof(err)))
		return -1;
	for (i = 2; i < 4; i++)
		if (!(f[i] = strtok_r(NULL, " ", &sp)))
			return -1;
	e->expires = strtoll(f[2], NULL, 10);
	e->added = strtoll(f[3], NULL, 10);
	rest = sp ? sp : "";
	snprintf(cbuf, clen, "%s", rest);
	return 0;
}

/* ------------------------------------------------------ diffs of lists */

struct chg {
	struct st_ent e;
	char *comment;
};

struct chgs {
	struct chg *v;
	size_t n, cap;
};

static int chgs_push(struct chgs *c, const struct st_ent *e, const char *comment)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct chg *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].e = *e;
	c->v[c->n].comment = strdup(comment ? comment : "");
	if (!c->v[c->n].comment)
		return -1;
	c->n++;
	return 0;
}

static void chgs_free(struct chgs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].comment);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static bool live(const struct st_ent *e, int64_t now)
{
	return e && !e->del && (!e->expires || e->expires > now);
}

static bool same(const struct st_ent *a, const char *ac, const struct st_ent *b,
		 const char *bc)
{
	return a->action == b->action && a->expires == b->expires && !strcmp(ac, bc);
}

/* What turns @from into @to (live entries only): adds, updates, deletes. */
static int diff(const struct st_vec *to, const struct st_vec *from, int64_t now,
		struct chgs *out)
{
	size_t i = 0, j = 0;

	for (;;) {
		const struct st_ent *a, *b;
		int r;

		while (i < to->n && !live(&to->e[i], now))
			i++;
		while (j < from->n && !live(&from->e[j], now))
			j++;
		a = i < to->n ? &to->e[i] : NULL;
		b = j < from->n ? &from->e[j] : NULL;
		if (!a && !b)
			return 0;
		r = !a ? 1 : !b ? -1 : st_cmp(a, b);
		if (r < 0) {
			if (chgs_push(out, a, st_vec_comment(to, a)))
				return -1;
			i++;
		} else if (r > 0) {
			struct st_ent d = *b;

			d.del = 1;
			if (chgs_push(out, &d, NULL))
				return -1;
			j++;
		} else {
			if (!same(a, st_vec_comment(to, a), b, st_vec_comment(from, b)) &&
			    chgs_push(out, a, st_vec_comment(to, a)))
				return -1;
			i++;
			j++;
		}
	}
}

static int store_diff(const struct store *to, const struct store *from, int64_t now,
		      struct chgs *out)
{
	struct st_vec tv, tc, fv, fc;
	int rc;

	if (store_view(to, &tv, &tc))
		return -1;
	if (store_view(from, &fv, &fc)) {
		st_vec_free(&tc);
		return -1;
	}
	rc = diff(&tv, &fv, now, out);
	st_vec_free(&tc);
	st_vec_free(&fc);
	return rc;
}

/* ------------------------------------------------- the state directory */

/* A shared lock to read (ctl_lock_ro marks the context read-only: undone
 * when let go, as this context writes between reads). */
static int ro_lock(struct syncd *sd)
{
	return ctl_lock_ro(sd->c);
}

static void ro_unlock(struct syncd *sd)
{
	ctl_unlock(sd->c);
	sd->c->readonly = false;
}

static int lock_state(struct syncd *sd)
{
	sd->c->readonly = false;
	if (ctl_lock(sd->c))
		return 1;
	if (ctl_open_if_loaded(sd->c)) {
		ctl_unlock(sd->c);
		return 1;
	}
	return 0;
}

static void unlock_state(struct syncd *sd)
{
	if (sd->c->loaded)
		ctl_close_pinned(sd->c);
	ctl_unlock(sd->c);
}

/* "m_block_auto": the state file's key of a unit's generation */
static void unit_key(const struct unit *u, char *k, size_t len)
{
	snprintf(k, len, "m_%s", u->name);
	for (char *p = k; *p; p++)
		if (*p == '.')
			*p = '_';
}

static int state_save(struct syncd *sd)
{
	struct recfile f = {};
	struct rec *r = recfile_add(&f);
	bool had_lock = sd->c->lock_fd >= 0;
	char buf[64];
	int rc;

	if (!r)
		return ctl_err("out of memory");
	sd->c->readonly = false;
	if (!had_lock && ctl_lock(sd->c)) {
		recfile_free(&f);
		return 1;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)sd->rev);
	rec_set(r, "revision", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)sd->cluster);
	rec_set(r, "cluster", buf);
	rec_set(r, "prefix", sd->cf->prefix);
	/* each list's generation: the next change is checked against it */
	for (int i = 0; i < sd->nu; i++) {
		char k[64], v[96];

		if (!sd->u[i].m_rev)
			continue;
		unit_key(&sd->u[i], k, sizeof(k));
		snprintf(v, sizeof(v), "%lld/%s", (long long)sd->u[i].m_rev, sd->u[i].gen);
		rec_set(r, k, v);
	}
	rc = ctl_write(sd->c, ST_SYNC_STATE, &f);
	recfile_free(&f);
	if (!had_lock)
		ctl_unlock(sd->c);
	return rc;
}

static int state_load(struct syncd *sd)
{
	struct recfile f = {};
	const char *v;

	if (ctl_read(sd->c, ST_SYNC_STATE, &f))
		return 1;
	if (f.n) {
		v = rec_get(&f.r[0], "prefix");
		/* the revision is of this prefix's keys only */
		if (v && !strcmp(v, sd->cf->prefix)) {
			v = rec_get(&f.r[0], "revision");
			sd->rev = v ? strtoll(v, NULL, 10) : 0;
			v = rec_get(&f.r[0], "cluster");
			sd->cluster = v ? strtoull(v, NULL, 10) : 0;
			sd->joined = sd->rev > 0;
			for (int i = 0; i < sd->nu; i++) {
				char k[64];
				long long mr;
				char gen[40];

				unit_key(&sd->u[i], k, sizeof(k));
				v = rec_get(&f.r[0], k);
				if (v && sscanf(v, "%lld/%39s", &mr, gen) == 2) {
					sd->u[i].m_rev = mr;
					snprintf(sd->u[i].gen, sizeof(sd->u[i].gen), "%s", gen);
				}
			}
		}
	}
	recfile_free(&f);
	return 0;
}

/* Make the local list @u hold @L's pending changes and the changes @ch
 * (which the fleet's view takes in any case). Under the lock. */
static int commit_prefixes(struct syncd *sd, struct unit *u, struct store *L,
			   struct mxs_prefix *p, size_t np)
{
	struct build_in in = {};

	if (store_sync(sd->c, u->store, L))
		return 1;
	if (sd->c->loaded && np && ctl_patch_src(sd->c, &in, p, np))
		return 1;
	return ctl_stamp(sd->c);
}

static int cmp_pfx(const void *a, const void *b)
{
	const struct mxs_prefix *x = a, *y = b;
	struct st_ent ex = {}, ey = {};

	st_set_prefix(&ex, x);
	st_set_prefix(&ey, y);
	return st_cmp(&ex, &ey);
}

/* After applying the fleet's changes: the list's new seq is "seen" only
 * when nothing local was waiting before (@clean: the seq at open was the
 * one last compared). Else a local change made just before would pass
 * for compared and never be sent. */
static void seen_after(struct syncd *sd, struct unit *u, bool clean)
{
	uint64_t seq;

	if (clean && store_seq(sd->c, u->store, &seq) == 0)
		u->seen = seq;
	else
		u->seen_ok = false;
}

/* Single changes from the fleet: into the view, and into the local list
 * where the edge has no change of its own pending for the prefix. */
static int apply_changes(struct syncd *sd, struct unit *u, const struct chgs *ch)
{
	bool clean = false;
	struct store V, L;
	struct mxs_prefix *p;
	size_t np = 0;
	int64_t now = time(NULL);
	int rc = 1;

	p = calloc(ch->n ? ch->n : 1, sizeof(*p));
	if (!p)
		return ctl_err("out of memory");
	if (lock_state(sd)) {
		free(p);
		return 1;
	}
	if (u->src[0] && src_mkdir(sd->c, u->d->name))
		goto out_unlock;
	if (store_open(sd->c, u->view, &V))
		goto out_unlock;
	if (store_open(sd->c, u->store, &L)) {
		store_close(&V);
		goto out_unlock;
	}
	clean = u->seen_ok && L.seq == u->seen;
	for (size_t i = 0; i < ch->n; i++) {
		const struct st_ent *e = &ch->v[i].e;
		struct mxs_prefix q;
		const struct st_ent *vo, *lo;
		bool vl, ll, pending;

		st_prefix(e, &q);
		vo = store_find(&V, &q);
		lo = store_find(&L, &q);
		vl = live(vo, now);
		ll = live(lo, now);
		pending = vl != ll || (vl && !same(vo, store_comment(&V, vo), lo,
						     store_comment(&L, lo)));
		if (store_apply(&V, e, ch->v[i].comment)) {
			ctl_err("out of memory");
			goto out;
		}
		if (pending)
			continue;	/* this edge's own change wins: it is on its way */
		if (e->del && !lo)
			continue;
		if (!e->del && lo && same(e, ch->v[i].comment, lo, store_comment(&L, lo)))
			continue;
		if (store_apply(&L, e, ch->v[i].comment)) {
			ctl_err("out of memory");
			goto out;
		}
		p[np++] = q;
	}
	if (store_sync(sd->c, u->view, &V))
		goto out;
	if (np) {
		qsort(p, np, sizeof(*p), cmp_pfx);
		if (commit_prefixes(sd, u, &L, p, np))
			goto out;
		sd->st.changes_in += np;
	}
	seen_after(sd, u, clean);
	rc = 0;
out:
	store_close(&V);
	store_close(&L);
out_unlock:
	unlock_state(sd);
	free(p);
	return rc;
}

static int cmp_ent(const void *a, const void *b)
{
	return st_cmp(a, b);
}

/* The fleet's whole list @W (finished) arrives: the view becomes @W, the
 * local list @W plus its own pending changes (none with @adopt: an edge
 * joining takes the fleet's lists as they are). Under the lock. */
static int apply_whole(struct syncd *sd, struct unit *u, struct st_vec *W, bool adopt)
{
	bool clean = false;
	struct store V, L;
	struct st_vec NL = {}, Vc = {}, lv, lc;
	struct chgs D = {}, X = {};
	struct st_ent *dels = NULL;
	size_t ndel = 0;
	int64_t now = time(NULL);
	int rc = 1;

	if (lock_state(sd))
		return 1;
	if (u->src[0] && src_mkdir(sd->c, u->d->name))
		goto out_unlock;
	if (store_open(sd->c, u->view, &V))
		goto out_unlock;
	if (store_open(sd->c, u->store, &L)) {
		store_close(&V);
		goto out_unlock;
	}
	clean = u->seen_ok && L.seq == u->seen;
	if (!adopt && store_diff(&L, &V, now, &D))
		goto oom;
	/* NL = W, then the pending changes over it */
	for (size_t i = 0; i < W->n; i++)
		if (st_vec_push(&NL, &W->e[i], st_vec_comment(W, &W->e[i])) ||
		    st_vec_push(&Vc, &W->e[i], st_vec_comment(W, &W->e[i])))
			goto oom;
	dels = malloc((D.n ? D.n : 1) * sizeof(*dels));
	if (!dels)
		goto oom;
	for (size_t i = 0; i < D.n; i++)
		if (D.v[i].e.del)
			dels[ndel++] = D.v[i].e;
		else if (st_vec_push(&NL, &D.v[i].e, D.v[i].comment))
			goto oom;
	if (st_vec_finish(&NL) < 0 || st_vec_finish(&Vc) < 0)
		goto oom;
	if (ndel) {
		size_t k = 0;

		qsort(dels, ndel, sizeof(*dels), cmp_ent);
		for (size_t i = 0; i < NL.n; i++)
			if (!bsearch(&NL.e[i], dels, ndel, sizeof(*dels), cmp_ent))
				NL.e[k++] = NL.e[i];
		NL.n = k;
	}
	store_adopt(&V, &Vc);
	if (store_sync(sd->c, u->view, &V))
		goto out;
	/* the local list: one switch, and only when it changes */
	if (store_view(&L, &lv, &lc))
		goto oom;
	rc = diff(&NL, &lv, now, &X);
	st_vec_free(&lc);
	if (rc < 0)
		goto oom;
	rc = 1;
	if (X.n) {
		if (u->src[0]) {
			if (source_replace(sd->c, u->d, u->src, &NL))
				goto out;
			memset(&NL, 0, sizeof(NL));	/* taken */
		} else {
			store_adopt(&L, &NL);
			if (sd->c->loaded ? ctl_commit_whole(sd->c, u->d, &L)
					  : store_sync(sd->c, u->store, &L))
				goto out;
		}
		sd->st.changes_in += X.n;
	}
	seen_after(sd, u, clean);
	rc = 0;
	goto out;
oom:
	ctl_err("out of memory");
out:
	st_vec_free(&NL);
	st_vec_free(&Vc);
	chgs_free(&D);
	chgs_free(&X);
	free(dels);
	store_close(&V);
	store_close(&L);
out_unlock:
	unlock_state(sd);
	return rc;
}

/* ------------------------------------- state files shared whole */

/*
 * Partners, country policies and envelope lists are small record files, not
 * ipstores: each is one key, P kv/file/NAME, holding the file's records
 * (the body of the state file, without its header). The fleet's view of it
 * is a copy under sync/view/; the file differing from the view is this
 * edge's change, written to etcd with a transaction that checks the key's
 * mod_revision this edge last applied. The whole file is the unit: when two
 * edges change the same file at once, the last write to etcd wins it.
 */

static void file_key(const struct syncd *sd, const struct unit *u, char *k, size_t len)
{
	snprintf(k, len, "%sfile/%s", sd->kvp, u->name);
}

/* Has the file changed? Its inode, size and mtime (a rename, as every
 * write is, gives a new inode); 1 for a missing file. */
static int file_sig(const struct ctl *c, const char *name, uint64_t *sig)
{
	char p[4096];
	struct stat st;
	uint64_t h = MXS_HASH_SEED;

	state_path(c, name, p, sizeof(p));
	if (stat(p, &st)) {
		*sig = 1;
		return errno == ENOENT ? 0 : -1;
	}
	h = mxs_hash(&st.st_ino, sizeof(st.st_ino), h);
	h = mxs_hash(&st.st_size, sizeof(st.st_size), h);
	h = mxs_hash(&st.st_mtim, sizeof(st.st_mtim), h);
	*sig = h | 2;
	return 0;
}

/* The records of state file @name as text ("" when missing). 0, or 1. */
static int file_text(const struct ctl *c, const char *name, char **text, size_t *len)
{
	struct recfile f;

	*text = NULL;
	if (ctl_read(c, name, &f))
		return 1;
	*text = recfile_text(&f, len);
	recfile_free(&f);
	return *text ? 0 : ctl_err("out of memory");
}

static bool same_text(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && !memcmp(a, b, an);
}

/* After a file from the fleet was written: rebuild what depends on it.
 * Partners and countries are compiled into the classifier (a full build);
 * a country's action is in the country_policy map, set after the build so
 * a new country's networks all start at once. The envelope lists need
 * nothing: the policy service and the milter read the file again when it
 * changes. Under the lock. */
static int file_rebuild(struct syncd *sd, const struct unit *u)
{
	if (!strcmp(u->file, ST_ENVELOPE) || !sd->c->loaded)
		return 0;
	if (ctl_compile(sd->c, -1, NULL, NULL, NULL))
		return 1;
	if (!strcmp(u->file, ST_COUNTRIES) && ctl_apply_policies(sd->c))
		return 1;
	return ctl_stamp(sd->c);
}

/* The fleet's file @u is @text (at @mod_rev): into the view, and into the
 * state file unless this edge has a change of its own waiting (none with
 * @adopt: a joining edge takes the fleet's files as they are). */
static int apply_file(struct syncd *sd, struct unit *u, const char *text, size_t len,
		      int64_t mod_rev, bool adopt)
{
	struct recfile R, old = {};
	char *lt = NULL, *vt = NULL, what[600], err[1024];
	size_t ll = 0, vl = 0;
	uint64_t sig = 0;
	bool clean, pending;
	int rc = 1;

	file_key(sd, u, what, sizeof(what));
	if (recfile_parse(text, len, what, &R, err, sizeof(err))) {
		/* not ours to repair: noted, and the next change replaces it */
		sync_error(sd, "%s: skipped", err);
		u->m_rev = mod_rev;
		return 0;
	}
	if (lock_state(sd)) {
		recfile_free(&R);
		return 1;
	}
	if (file_sig(sd->c, u->file, &sig) || file_text(sd->c, u->file, &lt, &ll) ||
	    file_text(sd->c, u->view, &vt, &vl))
		goto out;
	clean = u->seen_ok && sig == u->seen;
	pending = !adopt && !same_text(lt, ll, vt, vl);
	if (!pending && !same_text(lt, ll, text, len)) {
		if (ctl_read(sd->c, u->file, &old) || ctl_write(sd->c, u->file, &R))
			goto out;
		if (file_rebuild(sd, u)) {
			/* the edge keeps its file, and a filter built from it */
			sync_error(sd, "%s from the fleet does not build here: this edge keeps "
				   "its own", u->name);
			if (!ctl_write(sd->c, u->file, &old))
				file_rebuild(sd, u);
			u->m_rev = mod_rev;
			rc = 0;
			goto out;
		}
		sd->st.changes_in++;
		log_print(LOG_INFO, "sync: %s: the fleet's file applied (%d record%s)", u->name,
			  R.n, R.n == 1 ? "" : "s");
	}
	if (ctl_write(sd->c, u->view, &R))
		goto out;
	u->m_rev = mod_rev;
	if (clean && !file_sig(sd->c, u->file, &sig))
		u->seen = sig;
	else
		u->seen_ok = false;
	rc = 0;
out:
	unlock_state(sd);
	recfile_free(&R);
	recfile_free(&old);
	free(lt);
	free(vt);
	return rc;
}

/* This edge's change of file @u, if any, to etcd. */
static int publish_file(struct syncd *sd, struct unit *u, double now)
{
	char *lt = NULL, *vt = NULL, key[600];
	size_t ll = 0, vl = 0;
	uint64_t sig;
	struct etcd_cmp cmp;
	struct etcd_op op;
	bool ok = false;
	int rc = 1;

	if (now < u->retry_at)
		return 0;
	if (file_sig(sd->c, u->file, &sig) || ro_lock(sd))
		return 1;
	if (file_text(sd->c, u->file, &lt, &ll) || file_text(sd->c, u->view, &vt, &vl)) {
		ro_unlock(sd);
		goto out;
	}
	ro_unlock(sd);
	rc = 0;
	if (same_text(lt, ll, vt, vl))
		goto seen;
	file_key(sd, u, key, sizeof(key));
	if (ll > SYNC_FILE_MAX) {
		/* one key, one request: beyond the limit it is not shared */
		sync_error(sd, "%s: %zu bytes, more than the %d a shared file may have in etcd: "
			   "not shared (kept on this edge only)", u->name, ll, SYNC_FILE_MAX);
		rc = 1;
		goto seen;
	}
	cmp = (struct etcd_cmp){ key, u->m_rev == 0, u->m_rev };
	op = (struct etcd_op){ ETCD_PUT, key, NULL, lt, ll, 0 };
	if (etcd_txn(sd->e, &cmp, 1, &op, 1, &ok, NULL)) {
		sync_error(sd, "%s", etcd_error(sd->e));
		u->retry_at = now + 1.0;
		rc = 1;
		goto out;
	}
	if (!ok) {
		struct etcd_kvs k;

		/* changed meanwhile: the watch brings the fleet's file and
		 * this edge's goes after it; a note of the revision older
		 * than the applied one is stale: take the key's */
		log_print(LOG_INFO, "sync: %s: changed in etcd since revision %lld: sent again "
			  "after it", u->name, (long long)u->m_rev);
		if (!etcd_range(sd->e, key, NULL, 0, 0, true, &k)) {
			if (k.n == 1 && k.kv[0].mod_rev <= sd->rev)
				u->m_rev = k.kv[0].mod_rev;
			etcd_kvs_free(&k);
		}
		u->retry_at = now + 0.05;
		goto out;
	}
	sd->st.changes_out++;
	log_print(LOG_INFO, "sync: %s: sent this edge's file (%zu bytes)", u->name, ll);
	u->retry_at = now + 0.2;
seen:
	u->seen = sig;
	u->seen_ok = true;
out:
	free(lt);
	free(vt);
	return rc;
}

/* The file units of a full read: each from @kvs (the range of P kv/). */
static int full_read_file(struct syncd *sd, struct unit *u, const struct etcd_kvs *kvs,
			  bool first)
{
	char key[600];

	file_key(sd, u, key, sizeof(key));
	for (size_t i = 0; i < kvs->n; i++)
		if (!strcmp(kvs->kv[i].key, key))
			return apply_file(sd, u, kvs->kv[i].val, kvs->kv[i].vlen,
					  kvs->kv[i].mod_rev, first);
	if (first) {
		log_print(LOG_INFO, "sync: %s: not in etcd yet, this edge's file seeds it",
			  u->name);
		u->m_rev = 0;
		u->seen_ok = false;
		return 0;
	}
	/* gone from etcd (never done by an edge): the fleet's file is empty */
	return apply_file(sd, u, "", 0, 0, false);
}

/* A watch message's last write of file @u, if any. */
static int watch_file(struct syncd *sd, struct unit *u, const struct etcd_watch_msg *m)
{
	const struct etcd_event *last = NULL;
	char key[600];

	file_key(sd, u, key, sizeof(key));
	for (size_t k = 0; k < m->nev; k++)
		if (!strcmp(m->ev[k].kv.key, key))
			last = &m->ev[k];
	if (!last)
		return 0;
	if (last->del)
		return apply_file(sd, u, "", 0, 0, false);
	return apply_file(sd, u, last->kv.val, last->kv.vlen, last->kv.mod_rev, false);
}

/* ----------------------------------------------------- reading etcd */

struct manifest {
	char gen[40];
	long chunks;
	long entries;
};

static int parse_manifest(const char *v, struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	return sscanf(v, "gen=%39s chunks=%ld entries=%ld", m->gen, &m->chunks, &m->entries) ==
	       3 ? 0 : -1;
}

/* Lines of @buf into @W; deletions into @dels when given (else refused). */
static int parse_lines(const char *buf, size_t n, struct st_vec *W, struct st_vec *dels,
		       const char *what)
{
	size_t off = 0;
	char cbuf[1024];

	while (off < n) {
		const char *nl = memchr(buf + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - buf - off) : n - off;
		struct st_ent e;

		if (len) {
			if (parse_line(buf + off, len, &e, cbuf, sizeof(cbuf)))
				return ctl_err("sync: %s: a line that does not parse: %.*s", what,
					       (int)(len > 80 ? 80 : len), buf + off);
			if (e.del) {
				if (!dels || st_vec_push(dels, &e, NULL))
					return ctl_err("sync: %s: a deletion out of place", what);
			} else if (st_vec_push(W, &e, cbuf)) {
				return ctl_err("out of memory");
			}
		}
		off += len + 1;
	}
	return 0;
}

/* The fleet's list @u at revision @rev: its snapshot's chunks, then the
 * single changes (given in @kvs, the range of P kv/UNIT/ at @rev). */
static int read_unit(struct syncd *sd, struct unit *u, const struct etcd_kvs *kvs, int64_t rev,
		     struct st_vec *W, bool *any)
{
	char mkey[512], epre[512], key[600];
	struct manifest m = { .gen = "" };
	struct st_vec dels = {};
	int rc = 1;

	*any = false;
	snprintf(mkey, sizeof(mkey), "%s%s/m", sd->kvp, u->name);
	snprintf(epre, sizeof(epre), "%s%s/e/", sd->kvp, u->name);
	u->m_rev = 0;
	u->gen[0] = 0;
	for (size_t i = 0; i < kvs->n; i++)
		if (!strcmp(kvs->kv[i].key, mkey)) {
			if (parse_manifest(kvs->kv[i].val, &m))
				return ctl_err("sync: %s: a manifest that does not parse", mkey);
			u->m_rev = kvs->kv[i].mod_rev;
			snprintf(u->gen, sizeof(u->gen), "%s", m.gen);
			*any = true;
		}
	for (long i = 0; i < m.chunks; i++) {
		struct etcd_kvs ck;

		snprintf(key, sizeof(key), "%s%s/%s/%06ld", sd->blobp, u->name, m.gen, i);
		if (etcd_range(sd->e, key, NULL, rev, 0, false, &ck)) {
			sync_error(sd, "%s", etcd_error(sd->e));
			return 1;
		}
		if (ck.n != 1) {
			etcd_kvs_free(&ck);
			return ctl_err("sync: %s: missing (the snapshot is incomplete)", key);
		}
		if (parse_lines(ck.kv[0].val, ck.kv[0].vlen, W, NULL, key)) {
			etcd_kvs_free(&ck);
			return 1;
		}
		etcd_kvs_free(&ck);
	}
	for (size_t i = 0; i < kvs->n; i++)
		if (!strncmp(kvs->kv[i].key, epre, strlen(epre))) {
			*any = true;
			if (parse_lines(kvs->kv[i].val, kvs->kv[i].vlen, W, &dels, kvs->kv[i].key))
				goto out;
		}
	if (st_vec_finish(W) < 0)
		goto oom;
	if (dels.n) {
		size_t k = 0;

		if (st_vec_finish(&dels) < 0)
			goto oom;
		for (size_t i = 0; i < W->n; i++)
			if (!bsearch(&W->e[i], dels.e, dels.n, sizeof(*dels.e), cmp_ent))
				W->e[k++] = W->e[i];
		W->n = k;
	}
	rc = 0;
	goto out;
oom:
	ctl_err("out of memory");
out:
	st_vec_free(&dels);
	return rc;
}

/* Everything again: at start without a revision, or once etcd compacted
 * past ours. */
static int full_read(struct syncd *sd)
{
	struct etcd_kvs kvs;
	bool first = !sd->joined;

	if (etcd_range_prefix(sd->e, sd->kvp, 0, &kvs)) {
		sync_error(sd, "%s", etcd_error(sd->e));
		return 1;
	}
	if (sd->joined && sd->cluster && kvs.cluster_id != sd->cluster) {
		log_print(LOG_WARNING, "sync: etcd is another cluster than before (%llx, was "
			  "%llx): joining it anew", (unsigned long long)kvs.cluster_id,
			  (unsigned long long)sd->cluster);
		first = true;
	}
	for (int i = 0; i < sd->nu; i++) {
		struct unit *u = &sd->u[i];
		struct st_vec W = {};
		bool any;

		if (u->file) {
			if (full_read_file(sd, u, &kvs, first)) {
				etcd_kvs_free(&kvs);
				return 1;
			}
			continue;
		}
		if (read_unit(sd, u, &kvs, kvs.rev, &W, &any)) {
			st_vec_free(&W);
			etcd_kvs_free(&kvs);
			return 1;
		}
		if (first && !any) {
			/* the fleet has no such list yet: this edge's seeds it
			 * (the view stays empty, so all of it is published) */
			log_print(LOG_INFO, "sync: %s: not in etcd yet, this edge's list seeds it",
				  u->name);
			u->seen_ok = false;
		} else if (apply_whole(sd, u, &W, first)) {
			st_vec_free(&W);
			etcd_kvs_free(&kvs);
			return 1;
		}
		st_vec_free(&W);
	}
	sd->rev = kvs.rev;
	sd->cluster = kvs.cluster_id;
	sd->joined = true;
	sd->st.full_reads++;
	etcd_kvs_free(&kvs);
	log_print(LOG_INFO, "sync: read every shared list at revision %lld", (long long)sd->rev);
	return state_save(sd);
}

/* ------------------------------------------------------ the watch */

struct wctx {
	struct syncd *sd;
	int rc;
};

static int on_msg(const struct etcd_watch_msg *m, void *arg)
{
	struct wctx *x = arg;
	struct syncd *sd = x->sd;
	int64_t top = 0;
	size_t kl = strlen(sd->kvp);

	if (m->canceled) {
		if (m->compact_rev) {
			log_print(LOG_NOTICE, "sync: etcd compacted past revision %lld (oldest "
				  "left %lld): reading everything again", (long long)sd->rev + 1,
				  (long long)m->compact_rev);
			sd->need_full = true;
		} else {
			sync_error(sd, "watch canceled: %s",
				   m->cancel_reason ? m->cancel_reason : "no reason given");
		}
		return 1;
	}
	if (m->created) {
		sd->watch_live = true;
		return 0;
	}
	for (size_t k = 0; k < m->nev; k++)
		if (m->ev[k].kv.mod_rev > top)
			top = m->ev[k].kv.mod_rev;
	/* units whose manifest changed: read whole at the last revision */
	for (int i = 0; i < sd->nu; i++) {
		struct unit *u = &sd->u[i];
		char mkey[512];
		bool whole = false;
		struct chgs ch = {};

		if (u->file) {
			if (watch_file(sd, u, m)) {
				x->rc = 1;
				return 1;
			}
			continue;
		}
		snprintf(mkey, sizeof(mkey), "%s%s/m", sd->kvp, u->name);
		for (size_t k = 0; k < m->nev; k++)
			if (!strcmp(m->ev[k].kv.key, mkey))
				whole = true;
		if (whole) {
			struct etcd_kvs kvs;
			struct st_vec W = {};
			char pre[512];
			bool any;

			snprintf(pre, sizeof(pre), "%s%s/", sd->kvp, u->name);
			if (etcd_range_prefix(sd->e, pre, top, &kvs)) {
				sync_error(sd, "%s", etcd_error(sd->e));
				x->rc = 1;
				return 1;
			}
			if (read_unit(sd, u, &kvs, top, &W, &any) || apply_whole(sd, u, &W, false)) {
				st_vec_free(&W);
				etcd_kvs_free(&kvs);
				x->rc = 1;
				return 1;
			}
			st_vec_free(&W);
			etcd_kvs_free(&kvs);
			continue;
		}
		for (size_t k = 0; k < m->nev; k++) {
			const struct etcd_event *ev = &m->ev[k];
			const char *rest;
			size_t ul = strlen(u->name);
			struct st_vec one = {}, del = {};

			if (ev->del || strncmp(ev->kv.key, sd->kvp, kl))
				continue;	/* a snapshot's cleanup: already in it */
			rest = ev->kv.key + kl;
			if (strncmp(rest, u->name, ul) || strncmp(rest + ul, "/e/", 3))
				continue;
			if (parse_lines(ev->kv.val, ev->kv.vlen, &one, &del, ev->kv.key)) {
				sync_error(sd, "%s: a change that does not parse: skipped", ev->kv.key);
			} else {
				for (size_t j = 0; j < one.n; j++)
					chgs_push(&ch, &one.e[j], st_vec_comment(&one, &one.e[j]));
				for (size_t j = 0; j < del.n; j++) {
					struct st_ent d = del.e[j];

					d.del = 1;	/* st_vec keeps no deletions */
					chgs_push(&ch, &d, NULL);
				}
			}
			st_vec_free(&one);
			st_vec_free(&del);
		}
		if (ch.n && apply_changes(sd, u, &ch)) {
			chgs_free(&ch);
			x->rc = 1;
			return 1;
		}
		chgs_free(&ch);
	}
	if (!m->nev && m->header_rev > top)
		top = m->header_rev;	/* a progress notice: nothing of ours before it */
	if (top > sd->rev) {
		sd->rev = top;
		if (state_save(sd)) {
			x->rc = 1;
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------ publishing */

static void gen_id(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%llx%04x", (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec,
		 (unsigned)(getpid() & 0xffff));
}

/* The whole local list as a new snapshot, switched in by one txn. */
static int publish_snapshot(struct syncd *sd, struct unit *u, const struct store *L, bool *ok)
{
	struct st_vec v, copy;
	char gen[40], key[600], mkey[512], epre[512], eend[512], opre[600], oend[600], mval[128];
	char *buf;
	size_t n = 0, entries = 0;
	long chunks = 0;
	int64_t now = time(NULL);
	struct etcd_op ops[3];
	struct etcd_cmp cmp;
	int nops = 0, rc = 1;

	*ok = false;
	if (store_view(L, &v, &copy))
		return ctl_err("out of memory");
	buf = malloc(SYNC_CHUNK + 2048);
	if (!buf) {
		st_vec_free(&copy);
		return ctl_err("out of memory");
	}
	gen_id(gen, sizeof(gen));
	for (size_t i = 0; i <= v.n; i++) {
		if (i < v.n && !live(&v.e[i], now))
			continue;
		if (i < v.n)
			n += fmt_line(&v.e[i], st_vec_comment(&v, &v.e[i]), buf + n, 2048);
		if (n && (i == v.n || n >= SYNC_CHUNK)) {
			snprintf(key, sizeof(key), "%s%s/%s/%06ld", sd->blobp, u->name, gen, chunks);
			if (etcd_put(sd->e, key, buf, n, 0)) {
				sync_error(sd, "%s", etcd_error(sd->e));
				goto out;
			}
			chunks++;
			n = 0;
		}
		if (i < v.n)
			entries++;
	}
	snprintf(mkey, sizeof(mkey), "%s%s/m", sd->kvp, u->name);
	snprintf(epre, sizeof(epre), "%s%s/e/", sd->kvp, u->name);
	etcd_prefix_end(epre, eend, sizeof(eend));
	snprintf(mval, sizeof(mval), "gen=%s chunks=%ld entries=%zu", gen, chunks, entries);
	cmp = (struct etcd_cmp){ mkey, u->m_rev == 0, u->m_rev };
	ops[nops++] = (struct etcd_op){ ETCD_PUT, mkey, NULL, mval, strlen(mval), 0 };
	ops[nops++] = (struct etcd_op){ ETCD_DEL, epre, eend, NULL, 0, 0 };
	if (u->gen[0]) {
		snprintf(opre, sizeof(opre), "%s%s/%s/", sd->blobp, u->name, u->gen);
		etcd_prefix_end(opre, oend, sizeof(oend));
		ops[nops++] = (struct etcd_op){ ETCD_DEL, opre, oend, NULL, 0, 0 };
	}
	if (etcd_txn(sd->e, &cmp, 1, ops, nops, ok, NULL)) {
		sync_error(sd, "%s", etcd_error(sd->e));
		goto out;
	}
	if (!*ok) {
		/* another edge switched the list first: our chunks go, and the
		 * change is tried again once the watch has brought theirs */
		snprintf(opre, sizeof(opre), "%s%s/%s/", sd->blobp, u->name, gen);
		etcd_prefix_end(opre, oend, sizeof(oend));
		ops[0] = (struct etcd_op){ ETCD_DEL, opre, oend, NULL, 0, 0 };
		etcd_txn(sd->e, NULL, 0, ops, 1, ok, NULL);
		*ok = false;
	} else {
		log_print(LOG_INFO, "sync: %s: published whole, %zu entries in %ld chunks", u->name,
			  entries, chunks);
	}
	rc = 0;
out:
	free(buf);
	st_vec_free(&copy);
	return rc;
}

static int publish_delta(struct syncd *sd, struct unit *u, const struct chgs *D, bool *ok)
{
	struct etcd_op ops[SYNC_DELTA_MAX];
	char keys[SYNC_DELTA_MAX][600], vals[SYNC_DELTA_MAX][1200], mkey[512];
	struct etcd_cmp cmp;

	snprintf(mkey, sizeof(mkey), "%s%s/m", sd->kvp, u->name);
	for (size_t i = 0; i < D->n; i++) {
		struct mxs_prefix p;
		char ps[MXS_PFX_STRLEN];
		int n;

		st_prefix(&D->v[i].e, &p);
		prefix_str(&p, ps);
		snprintf(keys[i], sizeof(keys[i]), "%s%s/e/%s", sd->kvp, u->name, ps);
		n = fmt_line(&D->v[i].e, D->v[i].comment, vals[i], sizeof(vals[i]));
		ops[i] = (struct etcd_op){ ETCD_PUT, keys[i], NULL, vals[i], (size_t)n, 0 };
	}
	/* the changes are against the generation this edge has */
	cmp = (struct etcd_cmp){ mkey, u->m_rev == 0, u->m_rev };
	if (etcd_txn(sd->e, &cmp, 1, ops, (int)D->n, ok, NULL)) {
		sync_error(sd, "%s", etcd_error(sd->e));
		return 1;
	}
	return 0;
}

/* A change was refused: the list's manifest is not the one this edge
 * knows. Newer than the applied revision: the watch brings it, and the
 * change goes again after it. Not newer: this edge's note of it is stale
 * (a state file from before it was kept): take it. */
static void recheck_generation(struct syncd *sd, struct unit *u)
{
	struct etcd_kvs k;
	char mkey[512];
	struct manifest m;

	snprintf(mkey, sizeof(mkey), "%s%s/m", sd->kvp, u->name);
	if (etcd_range(sd->e, mkey, NULL, 0, 0, false, &k))
		return;
	if (k.n == 1 && k.kv[0].mod_rev <= sd->rev && !parse_manifest(k.kv[0].val, &m)) {
		log_print(LOG_NOTICE, "sync: %s: generation %lld, not %lld as noted",
			  u->name, (long long)k.kv[0].mod_rev, (long long)u->m_rev);
		u->m_rev = k.kv[0].mod_rev;
		snprintf(u->gen, sizeof(u->gen), "%s", m.gen);
	}
	etcd_kvs_free(&k);
}

/* Local changes of @u not in the fleet's view yet: write them to etcd. */
static int publish_once(struct syncd *sd, struct unit *u, double now)
{
	struct store V, L;
	struct chgs D = {};
	uint64_t seq;
	bool ok = false;
	int rc = 1;

	if (now < u->retry_at)
		return 0;
	if (ro_lock(sd))
		return 1;
	if (store_open(sd->c, u->view, &V)) {
		ro_unlock(sd);
		return 1;
	}
	if (store_open(sd->c, u->store, &L)) {
		store_close(&V);
		ro_unlock(sd);
		return 1;
	}
	ro_unlock(sd);
	seq = L.seq;
	if (store_diff(&L, &V, time(NULL), &D)) {
		ctl_err("out of memory");
		goto out;
	}
	if (!D.n) {
		u->seen = seq;
		u->seen_ok = true;
		rc = 0;
		goto out;
	}
	if (D.n > SYNC_DELTA_MAX || !u->m_rev)
		rc = publish_snapshot(sd, u, &L, &ok);
	else
		rc = publish_delta(sd, u, &D, &ok);
	if (!rc && !ok) {
		log_print(LOG_INFO, "sync: %s: the list's generation moved (this edge has %lld): "
			  "sent again after it", u->name, (long long)u->m_rev);
		recheck_generation(sd, u);
	}
	if (rc || !ok) {
		/* kept: the difference is still there at the next try */
		u->retry_at = now + (rc ? 1.0 : 0.05);
		goto out;
	}
	sd->st.changes_out += D.n;
	log_print(LOG_INFO, "sync: %s: sent %zu change%s of this edge", u->name, D.n,
		  D.n == 1 ? "" : "s");
	/* the watch brings it back; until then the view differs, so the next
	 * look compares again only once something else changed */
	u->seen = seq;
	u->seen_ok = true;
	u->retry_at = now + 0.2;
out:
	chgs_free(&D);
	store_close(&V);
	store_close(&L);
	return rc;
}

static int publish(struct syncd *sd, struct unit *u, double now)
{
	int rc = publish_once(sd, u, now);

	if (rc)		/* a damaged file, no memory: not again at once */
		u->retry_at = now + 1.0;
	return rc;
}

/* Has a shared list changed on this edge since it was last compared? */
static void look_for_changes(struct syncd *sd, double now)
{
	for (int i = 0; i < sd->nu; i++) {
		struct unit *u = &sd->u[i];
		uint64_t seq;

		if (u->file ? file_sig(sd->c, u->file, &seq) : store_seq(sd->c, u->store, &seq))
			continue;
		if (u->seen_ok && seq == u->seen)
			continue;
		if (u->file)
			publish_file(sd, u, now);
		else
			publish(sd, u, now);
	}
}

/* --------------------------------------------------------- status */

static int digest_cb(const struct st_ent *e, const char *comment, void *arg)
{
	uint64_t *h = arg;
	struct mxs_prefix p;

	if (!live(e, time(NULL)))
		return 0;
	st_prefix(e, &p);
	*h = mxs_hash(&p, sizeof(p), *h);
	*h = mxs_hash(&e->action, 1, *h);
	*h = mxs_hash(&e->expires, sizeof(e->expires), *h);
	*h = mxs_hash(comment, strlen(comment), *h);
	return 0;
}

int sync_digest(struct ctl *c, const char *share, uint64_t *digest)
{
	struct syncd sd = { .c = c };
	uint64_t h = MXS_HASH_SEED;

	if (units_init(&sd, share))
		return 1;
	for (int i = 0; i < sd.nu; i++) {
		struct store s;

		h = mxs_hash(sd.u[i].name, strlen(sd.u[i].name), h);
		if (sd.u[i].file) {
			char *t;
			size_t n = 0;

			if (file_text(c, sd.u[i].file, &t, &n))
				return 1;
			h = mxs_hash(t, n, h);
			free(t);
			continue;
		}
		if (store_open(c, sd.u[i].store, &s))
			return 1;
		store_all(&s, digest_cb, &h);
		store_close(&s);
	}
	*digest = h;
	return 0;
}

static void update_digest(struct syncd *sd)
{
	bool same_seqs = sd->digest_ok;
	uint64_t seqs[12] = {};

	for (int i = 0; i < sd->nu; i++) {
		if (sd->u[i].file)
			file_sig(sd->c, sd->u[i].file, &seqs[i]);
		else
			store_seq(sd->c, sd->u[i].store, &seqs[i]);
		if (seqs[i] != sd->digest_seqs[i])
			same_seqs = false;
	}
	if (same_seqs)
		return;
	if (ro_lock(sd))
		return;
	if (!sync_digest(sd->c, sd->cf->share, &sd->digest)) {
		memcpy(sd->digest_seqs, seqs, sizeof(seqs));
		sd->digest_ok = true;
	}
	ro_unlock(sd);
}

static char *status_json(const struct sync_status *st)
{
	json_object *o = json_object_new_object();
	char d[32];
	char *s;

	snprintf(d, sizeof(d), "%016llx", (unsigned long long)st->digest);
	json_object_object_add(o, "name", json_object_new_string(st->name));
	json_object_object_add(o, "revision", json_object_new_int64(st->rev));
	json_object_object_add(o, "digest", json_object_new_string(d));
	json_object_object_add(o, "time", json_object_new_double(st->time));
	json_object_object_add(o, "lag", json_object_new_double(st->lag));
	json_object_object_add(o, "caught_up", json_object_new_double(st->caught_up));
	json_object_object_add(o, "connected", json_object_new_boolean(st->connected));
	json_object_object_add(o, "endpoint", json_object_new_string(st->endpoint));
	json_object_object_add(o, "error", json_object_new_string(st->error));
	json_object_object_add(o, "changes_in", json_object_new_int64(st->changes_in));
	json_object_object_add(o, "changes_out", json_object_new_int64(st->changes_out));
	json_object_object_add(o, "full_reads", json_object_new_int64(st->full_reads));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static int status_parse(const char *s, size_t n, struct sync_status *st)
{
	json_object *o = json_tokener_parse(s), *v;

	(void)n;
	memset(st, 0, sizeof(*st));
	if (!o)
		return -1;
#define G(k) json_object_object_get_ex(o, k, &v)
	if (G("name"))
		snprintf(st->name, sizeof(st->name), "%s", json_object_get_string(v));
	if (G("revision"))
		st->rev = json_object_get_int64(v);
	if (G("digest"))
		st->digest = strtoull(json_object_get_string(v), NULL, 16);
	if (G("time"))
		st->time = json_object_get_double(v);
	if (G("lag"))
		st->lag = json_object_get_double(v);
	if (G("caught_up"))
		st->caught_up = json_object_get_double(v);
	if (G("connected"))
		st->connected = json_object_get_boolean(v);
	if (G("endpoint"))
		snprintf(st->endpoint, sizeof(st->endpoint), "%s", json_object_get_string(v));
	if (G("error"))
		snprintf(st->error, sizeof(st->error), "%s", json_object_get_string(v));
	if (G("changes_in"))
		st->changes_in = json_object_get_int64(v);
	if (G("changes_out"))
		st->changes_out = json_object_get_int64(v);
	if (G("full_reads"))
		st->full_reads = json_object_get_int64(v);
#undef G
	json_object_put(o);
	return 0;
}

static void status_write(struct syncd *sd, double now)
{
	char path[4096], tmp[4200], *s;
	FILE *f;

	sd->st.rev = sd->rev;
	sd->st.time = now;
	sd->st.caught_up = sd->caught_up;
	sd->st.lag = sd->st.connected ? 0 : now - sd->caught_up;
	if (sd->st.lag < 0)
		sd->st.lag = 0;
	sd->st.digest = sd->digest;
	snprintf(sd->st.endpoint, sizeof(sd->st.endpoint), "%s", etcd_endpoint(sd->e));
	s = status_json(&sd->st);
	if (!s)
		return;
	state_path(sd->c, ST_SYNC_STATUS, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* figures for status and the metrics, rewritten every second: not
	 * part of the crash-safe state (no fsync) */
	f = fopen(tmp, "w");
	if (f) {
		fprintf(f, "%s\n", s);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	free(s);
}

int sync_status_read(const struct ctl *c, struct sync_status *st)
{
	char path[4096], buf[4096];
	FILE *f;
	size_t n;
	double now;

	state_path(c, ST_SYNC_STATUS, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 1 : -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (status_parse(buf, n, st))
		return -1;
	/* written every second: an older file means the loop is stuck in a
	 * request, or the sync is not running: not connected, and the lag
	 * runs from the last moment it was current */
	now = now_s();
	if (now - st->time > SYNC_STALE)
		st->connected = false;
	st->lag = st->connected ? 0 : now - st->caught_up;
	if (st->lag < 0)
		st->lag = 0;
	return 0;
}

static void edge_publish(struct syncd *sd)
{
	char key[512], *s;
	long ttl;

	if (sd->lease && etcd_lease_keepalive(sd->e, sd->lease, &ttl))
		sd->lease = 0;
	if (!sd->lease && etcd_lease_grant(sd->e, SYNC_LEASE_TTL, &sd->lease)) {
		sd->lease = 0;
		return;
	}
	s = status_json(&sd->st);
	if (!s)
		return;
	snprintf(key, sizeof(key), "%s%s", sd->edgep, sd->cf->name);
	if (etcd_put(sd->e, key, s, strlen(s), sd->lease))
		sync_error(sd, "%s", etcd_error(sd->e));
	free(s);
}

/* ------------------------------------------------------------ config */

int sync_conf_save(const struct ctl *c, const struct sync_conf *cf)
{
	struct recfile f = {};
	struct rec *r = recfile_add(&f);
	int rc;

	if (!r)
		return ctl_err("out of memory");
	rec_set(r, "endpoints", cf->endpoints);
	rec_set(r, "prefix", cf->prefix);
	rec_set(r, "name", cf->name);
	if (cf->cert)
		rec_set(r, "cert", cf->cert);
	if (cf->key)
		rec_set(r, "key", cf->key);
	if (cf->cacert)
		rec_set(r, "cacert", cf->cacert);
	if (cf->share)
		rec_set(r, "share", cf->share);
	rc = ctl_write(c, ST_SYNC_CONF, &f);
	recfile_free(&f);
	return rc;
}

int sync_conf_load(const struct ctl *c, struct recfile *f, struct sync_conf *cf)
{
	memset(cf, 0, sizeof(*cf));
	if (ctl_read(c, ST_SYNC_CONF, f))
		return -1;
	if (!f->n)
		return 1;
	cf->endpoints = rec_get(&f->r[0], "endpoints");
	cf->prefix = rec_get(&f->r[0], "prefix");
	cf->name = rec_get(&f->r[0], "name");
	cf->cert = rec_get(&f->r[0], "cert");
	cf->key = rec_get(&f->r[0], "key");
	cf->cacert = rec_get(&f->r[0], "cacert");
	cf->share = rec_get(&f->r[0], "share");
	return cf->endpoints && cf->prefix ? 0 : 1;
}

int fleet_read(const struct sync_conf *cf, struct fleet_edge **edges, int *n, int64_t *rev,
	       char *err, size_t errlen)
{
	struct etcd *e = etcd_new(cf->endpoints, cf->cert, cf->key, cf->cacert, err, errlen);
	struct etcd_kvs kvs;
	char pre[512];

	*edges = NULL;
	*n = 0;
	if (!e)
		return -1;
	snprintf(pre, sizeof(pre), "%sedge/", cf->prefix);
	if (etcd_range_prefix(e, pre, 0, &kvs)) {
		snprintf(err, errlen, "%s", etcd_error(e));
		etcd_free(e);
		return -1;
	}
	*rev = kvs.rev;
	*edges = calloc(kvs.n ? kvs.n : 1, sizeof(**edges));
	for (size_t i = 0; *edges && i < kvs.n; i++) {
		if (status_parse(kvs.kv[i].val, kvs.kv[i].vlen, &(*edges)[*n].st))
			continue;
		(*edges)[*n].mod_rev = kvs.kv[i].mod_rev;
		(*n)++;
	}
	etcd_kvs_free(&kvs);
	etcd_free(e);
	return *edges ? 0 : -1;
}

/* ------------------------------------------------------------ the loop */

static void connect_watch(struct syncd *sd, double now)
{
	if (now < sd->next_connect)
		return;
	sd->next_connect = now + 1.0;
	if (sd->need_full || !sd->joined) {
		if (full_read(sd))
			return;
		sd->need_full = false;
	}
	sd->watch_live = false;
	sd->w = etcd_watch_start(sd->e, sd->kvp, sd->rev + 1);
	if (!sd->w)
		sync_error(sd, "%s", etcd_error(sd->e));
}

static void drop_watch(struct syncd *sd, double now)
{
	if (sd->w)
		etcd_watch_stop(sd->w);
	sd->w = NULL;
	sd->watch_live = false;
	if (sd->st.connected)
		log_print(LOG_WARNING, "sync: lost etcd (%s): filtering goes on with the lists "
			  "as they are, local changes wait", sd->st.error);
	sd->st.connected = false;
}

/* Is the store still there? A watch over a cut network looks healthy: a
 * small read every second says whether it is. */
static void health(struct syncd *sd, double now)
{
	struct etcd_kvs k;
	char key[512];

	snprintf(key, sizeof(key), "%shealth", sd->kvp);
	etcd_set_timeout(sd->e, 1000);
	if (etcd_range(sd->e, key, NULL, 0, 1, true, &k)) {
		sync_error(sd, "%s", etcd_error(sd->e));
		drop_watch(sd, now);
	} else {
		etcd_kvs_free(&k);
		if (sd->watch_live) {
			if (!sd->st.connected)
				log_print(LOG_NOTICE, "sync: connected to %s at revision %lld",
					  etcd_endpoint(sd->e), (long long)sd->rev);
			sd->st.connected = true;
			sd->caught_up = now;
		}
	}
	etcd_set_timeout(sd->e, SYNC_TIMEOUT_MS);
}

int sync_run(struct ctl *c, const struct sync_conf *cf, volatile int *stop)
{
	struct syncd *sd = calloc(1, sizeof(*sd));
	char err[512], dir[4096];
	int rc = 1;

	if (!sd)
		return ctl_err("out of memory");
	sd->c = c;
	sd->cf = cf;
	snprintf(sd->st.name, sizeof(sd->st.name), "%s", cf->name);
	if (cf->prefix[0] != '/' || cf->prefix[strlen(cf->prefix) - 1] != '/') {
		ctl_err("--prefix '%s': must start and end with '/'", cf->prefix);
		goto out;
	}
	snprintf(sd->kvp, sizeof(sd->kvp), "%skv/", cf->prefix);
	snprintf(sd->blobp, sizeof(sd->blobp), "%sblob/", cf->prefix);
	snprintf(sd->edgep, sizeof(sd->edgep), "%sedge/", cf->prefix);
	if (units_init(sd, cf->share))
		goto out;
	sd->e = etcd_new(cf->endpoints, cf->cert, cf->key, cf->cacert, err, sizeof(err));
	if (!sd->e) {
		ctl_err("%s", err);
		goto out;
	}
	etcd_set_timeout(sd->e, SYNC_TIMEOUT_MS);
	state_path(c, "sync/view", dir, sizeof(dir));
	if (ctl_mkdir_p(dir, 0700)) {
		ctl_err("%s: %s", dir, strerror(errno));
		goto out;
	}
	if (ctl_lock(c))
		goto out;
	if (state_load(sd) || sync_conf_save(c, cf)) {
		ctl_unlock(c);
		goto out;
	}
	ctl_unlock(c);
	sd->caught_up = now_s();
	log_print(LOG_INFO, "sync: edge %s, etcd %s, prefix %s, from revision %lld", cf->name,
		  cf->endpoints, cf->prefix, (long long)sd->rev);
	rc = 0;
	while (!*stop) {
		double now = now_s();

		if (!sd->w)
			connect_watch(sd, now);
		if (sd->w) {
			struct wctx x = { sd, 0 };
			int r = etcd_watch_poll(sd->w, SYNC_POLL_MS, on_msg, &x);

			if (r == 1 && !x.rc && !sd->need_full)
				sync_error(sd, "%s", etcd_error(sd->e));
			if (r)
				drop_watch(sd, now);
		} else {
			usleep(SYNC_POLL_MS * 1000);
		}
		now = now_s();
		/* local changes go out only while the fleet's view is current:
		 * a publish against an old view could undo a newer change */
		if (sd->w && sd->watch_live)
			look_for_changes(sd, now);
		if (now >= sd->next_health) {
			sd->next_health = now + 1.0;
			health(sd, now);
			update_digest(sd);
			status_write(sd, now);
		}
		if (sd->st.connected && now >= sd->next_edge) {
			sd->next_edge = now + SYNC_EDGE_EVERY;
			edge_publish(sd);
		}
	}
	log_print(LOG_INFO, "sync: stopped at revision %lld", (long long)sd->rev);
out:
	if (sd->w)
		etcd_watch_stop(sd->w);
	etcd_free(sd->e);
	free(sd);
	return rc;
}
