// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The lists: trust, gateway, block (userspace/store.h: a snapshot and a
 * journal each), partners and country policies. Every change is validated
 * first, then written to the state directory, then applied to the live
 * classifier, which is then stamped with the state it carries (see "Crash
 * safety" below); a change the classifier cannot take is undone on disk,
 * so nothing is ever half-applied. Bulk changes (import, flush,
 * sweep, partners, countries) compile every list into a new build
 * (userspace/compile.c) and install it with a generation flip: a packet
 * sees the old build or the new one, never a half-filled one. A single
 * add or del rebuilds only the first-stage slots its prefix touches, in
 * place (cmaps_patch): milliseconds, whatever the size of the lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "store.h"
#include "input.h"
#include "utf8.h"

const struct listdef ip_lists[3] = {
	{ "trust", MXS_LIST_TRUST, false, true },
	{ "gateway", MXS_LIST_GATEWAY, false, false },
	{ "block", MXS_LIST_BLOCK, true, true },
};

const struct listdef *listdef_by_id(uint32_t list)
{
	for (int i = 0; i < 3; i++)
		if (ip_lists[i].list == list)
			return &ip_lists[i];
	return NULL;
}

static const struct listdef *listdef_by_name(const char *name)
{
	for (int i = 0; i < 3; i++)
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

/* The entries of an IP list (all, or those that meet @span). */
static int collect_ip(struct ctl *c, uint32_t list, const struct store *over,
		      const struct mxs_prefix *span, struct rule_vec fam[2])
{
	struct push_ctx pc = { .list = list, .now = time(NULL), .fam = fam };
	const struct store *s = over;
	struct store own;
	int rc;

	if (!s) {
		if (store_open(c, listdef_by_id(list)->name, &own))
			return 1;
		s = &own;
	}
	if (!span) {
		rc = store_all(s, push_ent, &pc);
	} else {
		struct mxs_prefix last = *span;

		/* the entries that cover the span, then those inside it */
		rc = 0;
		for (int l = 0; l < span->plen && !rc; l++) {
			struct mxs_prefix q = *span;
			const struct st_ent *e;

			q.plen = l;
			prefix_mask(&q);
			e = store_find(s, &q);
			if (e)
				rc = push_ent(e, "", &pc);
		}
		prefix_last(&last);
		pc.min_plen = span->plen;
		if (!rc)
			rc = store_each(s, span->v6, span->addr, last.addr, push_ent, &pc);
	}
	if (!over)
		store_close(&own);
	return rc ? ctl_err("out of memory") : 0;
}

/* Collect the entries of one list (all, or those that meet @span) from
 * state; @over stands in for an IP list's state. */
static int collect_list(struct ctl *c, uint32_t list, const char *geo_path,
			const struct store *over, const struct mxs_prefix *span,
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
	return collect_ip(c, list, over, span, fam);
}

int ctl_compile_hook(struct ctl *c, int over_list, const struct store *over,
		     const char *geo_path, struct cinfo *info, int (*before_switch)(void *),
		     void *arg)
{
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	int rc = 0, e;

	for (uint32_t l = 0; l < MXS_LIST_MAX && !rc; l++)
		rc = collect_list(c, l, l == MXS_LIST_COUNTRY ? geo_path : NULL,
				  (int)l == over_list ? over : NULL, NULL, fam);
	if (!rc && (e = cmaps_install_hook(&c->mv, fam, info, before_switch, arg, err,
					   sizeof(err))))
		rc = e == -2 ? 1 : ctl_err("%s", err);
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	return rc;
}

int ctl_compile(struct ctl *c, int over_list, const struct store *over,
		const char *geo_path, struct cinfo *info)
{
	return ctl_compile_hook(c, over_list, over, geo_path, info, NULL, NULL);
}

/* Rebuild only the part of the live build that a change of @p touches:
 * the first-stage slots under it, from the entries that meet them (list
 * @list from @s). A change over more than MXS_PATCH_SLOTS slots, or one
 * that finds no room left, installs a full build instead. 0, or 1 after an
 * error. */
static int patch_live(struct ctl *c, uint32_t list, const struct store *s,
		      const struct mxs_prefix *p)
{
	struct mxs_prefix span;
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	size_t first, n;
	int rc = 0;

	if (mxs_patch_span(p, &span, &first, &n))
		return ctl_compile(c, list, s, NULL, NULL);
	for (uint32_t l = 0; l < MXS_LIST_MAX && !rc; l++)
		rc = collect_list(c, l, NULL, l == list ? s : NULL, &span, fam);
	if (!rc) {
		rc = cmaps_patch(&c->mv, p->v6, &fam[p->v6], first, n, NULL, err, sizeof(err));
		if (rc < 0)
			rc = ctl_err("%s", err);
		else if (rc > 0)	/* no room left: a full build */
			rc = ctl_compile(c, list, s, NULL, NULL);
	}
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
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
		struct store s;

		/* an IP list: look up each prefix length, longest first */
		if (store_open(c, listdef_by_id(list)->name, &s))
			return 0;
		for (int l = addr->v6 ? 128 : 32; l >= 0 && !found; l--) {
			struct mxs_prefix q = *addr;
			const struct st_ent *e;

			q.plen = l;
			prefix_mask(&q);
			e = store_find(&s, &q);
			if (!e)
				continue;
			ent_rule(e, list, out);
			if (out->expires && out->expires <= now_tai)
				continue;
			best = q;
			found = true;
		}
		store_close(&s);
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

/*
 * Crash safety. The state on disk is written first (fsync'd, directory
 * included), the data plane changed after, and last the live build is
 * stamped with the state it now carries (struct mxs_cfill). A command or
 * restore that finds the stamp different from the state on disk rebuilds
 * everything from the state (ctl_reconcile): whatever moment a kill -9 or
 * a power loss hits, the next command leaves a filter compiled from
 * exactly what is on disk.
 */
int ctl_state_stamp(const struct ctl *c, uint64_t seq[3], uint32_t *other)
{
	static const char *const files[] = { ST_SETTINGS, ST_PARTNERS, ST_COUNTRIES };
	uint32_t h = crc32_z(0, NULL, 0);
	char p[PATH_MAX];
	struct stat st;

	for (int l = 0; l < 3; l++)
		if (store_seq(c, ip_lists[l].name, &seq[l]))
			return 1;
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
	uint64_t seq[3];
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
	uint64_t seq[3];
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

/* Apply a single change of @p's entry (already in @s, in memory; @old is
 * the entry before it, NULL for none): its journal line first, then the
 * live build patched in place, then the stamp. If the build cannot take
 * it, the change is undone on disk too. 0, or 1 after an error. */
static int commit_change(struct ctl *c, const struct listdef *d, struct store *s,
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

/* Apply a changed list (store_adopt'ed): a full build made ready, the
 * state written, then the switch and the stamp. */
static int commit_whole(struct ctl *c, const struct listdef *d, struct store *s)
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

int ctl_sweep(struct ctl *c, int *removed)
{
	int changed = 0;

	*removed = 0;
	for (int l = 0; l < 3; l++) {
		const struct listdef *d = &ip_lists[l];
		struct keep_ctx k = { .now = time(NULL) };
		struct store s;

		uint64_t seq;
		int64_t next;

		if (!d->has_expires)
			continue;
		/* the header and the journal tell whether anything expired:
		 * no need to read (and verify) the whole list otherwise */
		if (store_peek(c, d->name, &seq, &next))
			return 1;
		if (!next || next > k.now)
			continue;
		if (store_open(c, d->name, &s))
			return 1;
		if (!s.next_expiry || s.next_expiry > k.now) {
			store_close(&s);
			continue;	/* nothing has expired */
		}
		store_all(&s, keep_live, &k);
		if (k.oom) {
			st_vec_free(&k.v);
			store_close(&s);
			return ctl_err("out of memory");
		}
		if (k.expired) {
			/* expired entries no longer match in the data plane
			 * already: writing the state first is safe */
			store_adopt(&s, &k.v);
			if (store_sync(c, d->name, &s)) {
				store_close(&s);
				return 1;
			}
		}
		st_vec_free(&k.v);
		store_close(&s);
		*removed += k.expired;
		changed += k.expired;
	}
	if (changed && c->loaded && ctl_compile(c, -1, NULL, NULL, NULL))
		return 1;
	return changed ? ctl_stamp(c) : 0;
}

int cmd_sweep(struct ctl *c, int argc, char **argv)
{
	int removed;

	if (argc != 1)
		return ctl_err("usage: mxshield sweep");
	if (ctl_lock(c) || ctl_ensure_loaded(c))
		return 1;
	/* ctl_ensure_loaded swept already; sweep again to report a count */
	if (ctl_sweep(c, &removed))
		return 1;
	if (c->json) {
		jw_obj();
		jw_ku64("removed", removed);
		jw_end_obj();
	} else {
		printf("swept %d expired entr%s\n", removed, removed == 1 ? "y" : "ies");
	}
	return 0;
}

/* ---------------------------------------------------------- IP list CLI */

/* Comments reach --json output: text only (utf8.h). */
static int valid_comment(const char *s)
{
	char err[MXS_ERRLEN];

	if (strlen(s) > 200)
		return ctl_err("comment longer than 200 characters");
	if (utf8_text_check("comment", s, err, sizeof(err)))
		return ctl_err("%s", err);
	return 0;
}

static void print_expiry(int64_t exp)
{
	char buf[64];

	printf("%s", exp ? fmt_remaining(exp, buf, sizeof(buf)) : "never");
}

static int iplist_add(struct ctl *c, const struct listdef *d, int argc, char **argv)
{
	static const char *const opts[] = { "action", "expires", "comment", NULL };
	struct cmd_args a;
	struct mxs_prefix p;
	struct store s;
	struct st_ent e = {}, was;
	const struct st_ent *old;
	char err[MXS_ERRLEN], ps[MXS_PFX_STRLEN], keep[256] = "", wasc[1024] = "";
	const char *act, *exps, *comment;
	int64_t secs;
	int rc = 1;

	if (get_args(argc, argv, opts, 1, &a) || a.npos != 1)
		return ctl_err("usage: mxshield %s add CIDR%s%s [--comment TEXT]", d->name,
			       d->has_action ? " [--action drop|reject|quarantine|spam]" : "",
			       d->has_expires ? " [--expires 7d|12h|30m|45s]" : "");
	act = arg(&a, opts, "action");
	exps = arg(&a, opts, "expires");
	comment = arg(&a, opts, "comment");
	if (act && !d->has_action)
		return ctl_err("%s entries have no action (they bypass the block list)", d->name);
	if (exps && !d->has_expires)
		return ctl_err("%s entries do not expire", d->name);
	if (parse_prefix(a.pos[0], &p, err, sizeof(err)))
		return ctl_err("%s", err);
	e.action = d->has_action ? MXS_ACT_DROP : 0;
	if (act && parse_action(act, &e.action, err, sizeof(err)))
		return ctl_err("%s", err);
	if (exps) {
		if (parse_duration(exps, &secs, err, sizeof(err)))
			return ctl_err("%s", err);
		e.expires = time(NULL) + secs;
	}
	if (comment && valid_comment(comment))
		return 1;
	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;

	st_set_prefix(&e, &p);
	old = store_find(&s, &p);
	e.added = old ? old->added : time(NULL);
	if (old) {
		was = *old;
		snprintf(wasc, sizeof(wasc), "%s", store_comment(&s, old));
	}
	if (old && !comment)
		snprintf(keep, sizeof(keep), "%s", store_comment(&s, old));
	if (store_apply(&s, &e, comment ? comment : keep)) {
		ctl_err("out of memory");
		goto out;
	}
	if (!commit_change(c, d, &s, &p, old ? &was : NULL, wasc)) {
		rc = 0;
		if (!c->json) {
			printf("%s %s %s", d->name, old ? "updated" : "added", prefix_str(&p, ps));
			if (d->has_action)
				printf(" action %s", action_name(e.action));
			if (d->has_expires) {
				printf(", expires ");
				print_expiry(e.expires);
			}
			printf("\n");
		}
	}
out:
	store_close(&s);
	return rc;
}

static int iplist_del(struct ctl *c, const struct listdef *d, int argc, char **argv)
{
	struct mxs_prefix p;
	struct store s;
	struct st_ent e = { .del = 1 }, was;
	const struct st_ent *old;
	char err[MXS_ERRLEN], ps[MXS_PFX_STRLEN], wasc[1024];
	int rc = 1;

	if (argc != 2)
		return ctl_err("usage: mxshield %s del CIDR", d->name);
	if (parse_prefix(argv[1], &p, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;
	prefix_str(&p, ps);
	old = store_find(&s, &p);
	if (!old) {
		ctl_err("%s is not in the %s list", ps, d->name);
		goto out;
	}
	was = *old;
	snprintf(wasc, sizeof(wasc), "%s", store_comment(&s, old));
	st_set_prefix(&e, &p);
	if (store_apply(&s, &e, NULL)) {
		ctl_err("out of memory");
		goto out;
	}
	if (!commit_change(c, d, &s, &p, &was, wasc)) {
		rc = 0;
		if (!c->json)
			printf("%s deleted %s\n", d->name, ps);
	}
out:
	store_close(&s);
	return rc;
}

static int iplist_flush(struct ctl *c, const struct listdef *d, int argc)
{
	struct st_vec empty = {};
	struct store s;
	size_t n;
	int rc;

	if (argc != 1)
		return ctl_err("usage: mxshield %s flush", d->name);
	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;
	n = s.n;
	store_adopt(&s, &empty);
	rc = commit_whole(c, d, &s);
	if (!rc && !c->json)
		printf("%s flushed (%zu entr%s)\n", d->name, n, n == 1 ? "y" : "ies");
	store_close(&s);
	return rc;
}

struct list_ctx {
	struct ctl *c;
	const struct listdef *d;
	struct hitmap hm;
};

static int list_one(const struct st_ent *e, const char *comment, void *arg)
{
	struct list_ctx *lc = arg;
	const struct listdef *d = lc->d;
	struct mxs_prefix p;
	uint64_t hits = 0, last = 0;
	char ps[MXS_PFX_STRLEN], exp[64];

	st_prefix(e, &p);
	hitmap_get(&lc->hm, d->list, &p, &hits, &last);
	prefix_str(&p, ps);
	if (lc->c->json) {
		jw_obj();
		jw_kstr("prefix", ps);
		if (d->has_action)
			jw_kstr("action", action_name(e->action));
		jw_ki64("expires", e->expires);
		jw_ku64("hits", hits);
		jw_ki64("last_hit", mono_ns_to_unix(last));
		jw_ki64("added", e->added);
		jw_kstr("comment", comment);
		jw_end_obj();
	} else {
		printf("%-43s %-10s %-16s %10llu  %s\n", ps,
		       d->has_action ? action_name(e->action) : "",
		       e->expires ? fmt_remaining(e->expires, exp, sizeof(exp)) : "never",
		       (unsigned long long)hits, comment);
	}
	return 0;
}

static int iplist_list(struct ctl *c, const struct listdef *d, int argc)
{
	struct list_ctx lc = { .c = c, .d = d };
	struct store s;

	if (argc != 1)
		return ctl_err("usage: mxshield %s list", d->name);
	if (ctl_open_ro(c) || store_open(c, d->name, &s))
		return 1;
	if (c->loaded)	/* hit counters live in the loaded build */
		hitmap_load(&c->mv, &lc.hm);
	if (c->json)
		jw_arr();
	else if (s.n)
		printf("%-43s %-10s %-16s %10s  %s\n", "PREFIX", d->has_action ? "ACTION" : "",
		       "EXPIRES", "HITS", "COMMENT");
	store_all(&s, list_one, &lc);
	if (c->json)
		jw_end_arr();
	hitmap_free(&lc.hm);
	store_close(&s);
	return 0;
}

/* ---------------------------------------------------------- bulk import */

static void progress(bool tty, const char *path, long lines, off_t done, off_t total)
{
	if (!tty)
		return;
	if (total > 0)
		fprintf(stderr, "\r%s: %ld lines, %3d%%", path, lines,
			(int)(100.0 * (done > total ? total : done) / total));
	else
		fprintf(stderr, "\r%s: %ld lines", path, lines);
}

/* st_ent.del in an import's vector: the line had no comment column */
#define NO_COMMENT 2

int ctl_import_line(const struct listdef *d, char *line, uint8_t defact, int64_t now,
		    struct st_ent *e, const char **comment, char *err, size_t errlen)
{
	char *cols[4] = { 0 }, *q;
	struct mxs_prefix pfx;
	int nc = 0;

	memset(e, 0, sizeof(*e));
	*comment = NULL;
	/* CSV: address[,action[,expiry[,comment]]]; the comment keeps commas */
	for (q = line; nc < 4; nc++) {
		cols[nc] = q;
		if (nc == 3) {
			nc++;
			break;
		}
		q = strchr(q, ',');
		if (!q) {
			nc++;
			break;
		}
		*q++ = '\0';
	}
	for (int k = 0; k < nc && k < 3; k++) {	/* trim columns */
		char *end = cols[k] + strlen(cols[k]);

		while (*cols[k] == ' ')
			cols[k]++;
		while (end > cols[k] && end[-1] == ' ')
			*--end = '\0';
	}
	e->action = defact;
	if (parse_prefix(cols[0], &pfx, err, errlen))
		return -1;
	if (nc > 1 && *cols[1]) {
		if (!d->has_action)
			return mxs_fail(err, errlen, "%s entries have no action", d->name);
		if (parse_action(cols[1], &e->action, err, errlen))
			return -1;
	}
	if (nc > 2 && *cols[2]) {
		int64_t secs;

		if (!d->has_expires)
			return mxs_fail(err, errlen, "%s entries do not expire", d->name);
		if (parse_duration(cols[2], &secs, err, errlen))
			return -1;
		e->expires = now + secs;
	}
	if (nc > 3 && (strlen(cols[3]) > 200 || strpbrk(cols[3], "\t\r\n")))
		return mxs_fail(err, errlen, "comment too long or with control characters");
	st_set_prefix(e, &pfx);
	e->added = now;
	*comment = nc > 3 ? cols[3] : NULL;
	return 0;
}

/* The list after an import: the file's entries @in over the current ones
 * @cur (both sorted), or only the file's with @replace. Entries keep their
 * "added" stamp, and their comment unless the file gives one. */
static int merge_import(const struct st_vec *cur, const struct st_vec *in, bool replace,
			struct st_vec *out, long *added, long *updated, long *removed)
{
	size_t i = 0, j = 0;

	while (i < cur->n || j < in->n) {
		int d = i == cur->n ? 1 : j == in->n ? -1 : st_cmp(&cur->e[i], &in->e[j]);
		struct st_ent e;
		const char *comment;

		if (d < 0) {	/* only in the list */
			if (replace) {
				++*removed;
			} else if (st_vec_push(out, &cur->e[i], st_vec_comment(cur, &cur->e[i]))) {
				return -1;
			}
			i++;
			continue;
		}
		e = in->e[j];
		comment = st_vec_comment(in, &in->e[j]);
		if (d == 0) {
			e.added = cur->e[i].added;
			if (e.del == NO_COMMENT)
				comment = st_vec_comment(cur, &cur->e[i]);
			++*updated;
			i++;
		} else {
			++*added;
		}
		j++;
		if (st_vec_push(out, &e, comment))
			return -1;
	}
	return 0;
}

/*
 * mxshield block|trust|gateway import FILE [--action A] [--replace]
 *                                 [--allow-empty] [--skip-invalid]
 * FILE: one address or CIDR a line ('#' comments), or CSV with the address
 * first and optional action, expiry (duration) and comment columns; gzip
 * or plain ("-": standard input). Invalid lines are reported as file:line;
 * nothing is applied unless --skip-invalid. A gzip stream that is cut
 * short or followed by anything but another member, and a line with a NUL
 * or control byte (a damaged file, not a list) apply nothing, whatever the
 * options (input.h). --replace makes the list exactly the file's entries,
 * in one build (one switch for packets); a file without any entry - what
 * a failed download looks like - does not empty the list unless
 * --allow-empty says that is meant.
 */
static int iplist_import(struct ctl *c, const struct listdef *d, int argc, char **argv)
{
	static const char *const opts[] = { "action", "?replace", "?skip-invalid", "?allow-empty",
					    NULL };
	struct cmd_args a;
	struct st_vec in = {}, cur, copy = {}, out = {};
	struct store s;
	struct stat st;
	const char *path, *act;
	char err[MXS_ERRLEN];
	uint8_t defact = d->has_action ? MXS_ACT_DROP : 0;
	bool replace, skip, allow_empty, tty = isatty(2), opened = false;
	long bad = 0, added = 0, updated = 0, dups, removed = 0;
	off_t total = 0;
	int64_t now = time(NULL);
	struct timespec t0, t1;
	struct input rd;
	char *p;
	int rc = 1, got;

	if (get_args(argc, argv, opts, 1, &a) || a.npos != 1)
		return ctl_err("usage: mxshield %s import FILE|-%s [--replace [--allow-empty]] "
			       "[--skip-invalid]", d->name,
			       d->has_action ? " [--action drop|reject|quarantine|spam]" : "");
	path = a.pos[0];
	act = arg(&a, opts, "action");
	replace = arg(&a, opts, "replace") != NULL;
	skip = arg(&a, opts, "skip-invalid") != NULL;
	allow_empty = arg(&a, opts, "allow-empty") != NULL;
	if (allow_empty && !replace)
		return ctl_err("--allow-empty goes with --replace");
	if (act && !d->has_action)
		return ctl_err("%s entries have no action (they bypass the block list)", d->name);
	if (act && parse_action(act, &defact, err, sizeof(err)))
		return ctl_err("%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (input_open(&rd, path, 4094))
		return ctl_err("%s", rd.err);
	if (strcmp(path, "-") && !stat(path, &st))
		total = st.st_size;
	if (ctl_ensure_loaded(c))
		goto out;

	while ((got = input_line(&rd, &p)) != INPUT_END) {
		struct st_ent e;
		const char *comment;

		if ((rd.lineno & 0xffff) == 0)
			progress(tty, path, rd.lineno, rd.consumed, total);
		if (got == INPUT_FAIL) {
			ctl_err("%s: nothing imported", rd.err);
			goto out;
		}
		if (got == INPUT_BAD) {
			bad++;
			if (bad <= 20 || !skip)
				ctl_err("%s", rd.err);
			continue;
		}
		if (ctl_import_line(d, p, defact, now, &e, &comment, err, sizeof(err))) {
			bad++;
			if (bad <= 20 || !skip)
				ctl_err("%s:%ld: %s", path, rd.lineno, err);
			continue;
		}
		if (st_vec_push(&in, &e, comment)) {
			ctl_err("out of memory");
			goto out;
		}
		if (!comment)
			in.e[in.n - 1].del = NO_COMMENT;
	}
	progress(tty, path, rd.lineno, total, total);
	if (tty)
		fputc('\n', stderr);
	if (rd.ctl_lines) {
		/* not a list with a few typos: --skip-invalid does not apply */
		ctl_err("%s: %ld line%s with NUL or control bytes: a damaged or binary file, "
			"nothing imported", path, rd.ctl_lines, rd.ctl_lines == 1 ? "" : "s");
		goto out;
	}
	if (bad && !skip) {
		ctl_err("%s: %ld invalid line%s: nothing imported (--skip-invalid imports the rest)",
			path, bad, bad == 1 ? "" : "s");
		goto out;
	}
	if (replace && !in.n && !allow_empty) {
		ctl_err("%s: no valid entries: --replace would empty the %s list; nothing changed "
			"(add --allow-empty if that is what you want)", path, d->name);
		goto out;
	}
	dups = st_vec_finish(&in);	/* the same prefix twice in the file: last wins */
	if (dups < 0 || store_open(c, d->name, &s)) {
		if (dups < 0)
			ctl_err("out of memory");
		goto out;
	}
	opened = true;
	if (store_view(&s, &cur, &copy) ||
	    merge_import(&cur, &in, replace, &out, &added, &updated, &removed)) {
		ctl_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < out.n; i++)
		out.e[i].del = 0;
	store_adopt(&s, &out);
	if (commit_whole(c, d, &s))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

		if (c->json) {
			jw_obj();
			jw_kstr("list", d->name);
			jw_ku64("lines", rd.lineno);
			jw_ku64("added", added);
			jw_ku64("updated", updated);
			jw_ku64("removed", removed);
			jw_ku64("invalid", bad);
			jw_ku64("duplicates", dups);
			jw_ku64("entries", s.n);
			jw_ku64("milliseconds", (uint64_t)(secs * 1000));
			jw_end_obj();
		} else {
			printf("%s import %s: %ld added, %ld updated, %ld removed, %ld invalid%s, "
			       "%zu entries, %.2f s\n", d->name, path, added, updated, removed, bad,
			       bad ? " (skipped)" : "", s.n, secs);
		}
	}
	rc = 0;
out:
	input_close(&rd);
	st_vec_free(&in);
	st_vec_free(&copy);
	st_vec_free(&out);
	if (opened)
		store_close(&s);
	return rc;
}

int cmd_iplist(struct ctl *c, const char *obj, int argc, char **argv)
{
	const struct listdef *d = listdef_by_name(obj);

	if (argc < 1)
		return ctl_err("usage: mxshield %s add|del|list|flush|import ...", obj);
	if (!strcmp(argv[0], "add"))
		return iplist_add(c, d, argc, argv);
	if (!strcmp(argv[0], "del"))
		return iplist_del(c, d, argc, argv);
	if (!strcmp(argv[0], "list"))
		return iplist_list(c, d, argc);
	if (!strcmp(argv[0], "flush"))
		return iplist_flush(c, d, argc);
	if (!strcmp(argv[0], "import"))
		return iplist_import(c, d, argc, argv);
	return ctl_err("%s: unknown command '%s' (add, del, list, flush, import)", obj, argv[0]);
}
/* -------------------------------------------------------------- partners */

/* Split "a,b,c" and validate each with @check; return a normalised list. */
static int split_list(const char *s, char *out, size_t outlen,
		      int (*check)(const char *in, char *norm, size_t nlen, char *err, size_t elen))
{
	char *copy = strdup(s), *save, *tok;
	char err[MXS_ERRLEN], norm[300];
	int rc = 0;

	out[0] = '\0';
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (check(tok, norm, sizeof(norm), err, sizeof(err))) {
			rc = ctl_err("%s", err);
			break;
		}
		if (strlen(out) + strlen(norm) + 2 > outlen) {
			rc = ctl_err("list too long");
			break;
		}
		if (out[0])
			strcat(out, ",");
		strcat(out, norm);
	}
	if (!rc && !out[0])
		rc = ctl_err("empty list '%s'", s);
	free(copy);
	return rc;
}

static int check_prefix(const char *in, char *norm, size_t nlen, char *err, size_t elen)
{
	struct mxs_prefix p;
	char ps[MXS_PFX_STRLEN];

	if (parse_prefix(in, &p, err, elen))
		return -1;
	snprintf(norm, nlen, "%s", prefix_str(&p, ps));
	return 0;
}

static int check_domain(const char *in, char *norm, size_t nlen, char *err, size_t elen)
{
	return parse_domain(in, norm, nlen, err, elen);
}

/* Does any prefix of @ips already belong to a partner other than @skip? */
static int partner_conflict(const struct recfile *f, const char *ips, int skip)
{
	for (int i = 0; i < f->n; i++) {
		char *mine, *save, *tok;
		const char *theirs = rec_get(&f->r[i], "ip");

		if (i == skip || !theirs)
			continue;
		mine = strdup(ips);
		for (tok = strtok_r(mine, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char pat[80];
			size_t tl = strlen(tok);
			const char *t = theirs;

			snprintf(pat, sizeof(pat), "%s", tok);
			while ((t = strstr(t, pat))) {
				if ((t == theirs || t[-1] == ',') && (t[tl] == ',' || !t[tl])) {
					ctl_err("%s already belongs to partner '%s'", tok,
						rec_get(&f->r[i], "name"));
					free(mine);
					return 1;
				}
				t += tl;
			}
		}
		free(mine);
	}
	return 0;
}

static int partner_add(struct ctl *c, int argc, char **argv)
{
	static const char *const opts[] = {
		"ip", "domain", "?lock-domain", "tls", "cert-name", "skip", NULL
	};
	struct cmd_args a;
	struct recfile f;
	struct rec *r;
	char err[MXS_ERRLEN], ips[4096], doms[4096] = "", num[24], cert[256] = "";
	const char *ip, *dom, *tls, *cn, *skip;
	int64_t maxid = 0;
	int rc = 1;

	if (get_args(argc, argv, opts, 1, &a) || a.npos != 1 || !(ip = arg(&a, opts, "ip")))
		return ctl_err("usage: mxshield partner add NAME --ip CIDR[,CIDR..] [--domain DOMAIN[,..]] "
			       "[--lock-domain] [--tls opportunistic|require] [--cert-name NAME] "
			       "[--skip spam,policy]");
	dom = arg(&a, opts, "domain");
	tls = arg(&a, opts, "tls");
	cn = arg(&a, opts, "cert-name");
	skip = arg(&a, opts, "skip");
	if (parse_name(a.pos[0], err, sizeof(err)))
		return ctl_err("%s", err);
	if (split_list(ip, ips, sizeof(ips), check_prefix) ||
	    (dom && split_list(dom, doms, sizeof(doms), check_domain)))
		return 1;
	if (arg(&a, opts, "lock-domain") && !doms[0])
		return ctl_err("--lock-domain needs --domain");
	if (tls && strcmp(tls, "opportunistic") && strcmp(tls, "require"))
		return ctl_err("'%s': --tls is opportunistic or require", tls);
	if (cn) {
		if (parse_domain(cn[0] == '*' && cn[1] == '.' ? cn + 2 : cn, cert, sizeof(cert),
				 err, sizeof(err)))
			return ctl_err("--cert-name: %s", err);
		snprintf(cert, sizeof(cert), "%s", cn);
	}
	if (skip) {
		char *copy = strdup(skip), *save, *tok;
		int bad = 0;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			bad |= strcmp(tok, "spam") && strcmp(tok, "policy") && strcmp(tok, "none");
		free(copy);
		if (bad)
			return ctl_err("'%s': --skip takes spam, policy (comma-separated) or none", skip);
	}
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	if (recfile_find(&f, "name", a.pos[0]) >= 0) {
		ctl_err("partner '%s' exists (del it first to change it)", a.pos[0]);
		goto out;
	}
	if (partner_conflict(&f, ips, -1))
		goto out;
	for (int i = 0; i < f.n; i++)
		if (rec_i64(&f.r[i], "id") > maxid)
			maxid = rec_i64(&f.r[i], "id");
	r = recfile_add(&f);
	rec_set(r, "name", a.pos[0]);
	snprintf(num, sizeof(num), "%lld", (long long)maxid + 1);
	rec_set(r, "id", num);
	rec_set(r, "ip", ips);
	rec_set(r, "domain", doms);
	rec_set(r, "lock_domain", arg(&a, opts, "lock-domain") ? "yes" : "no");
	rec_set(r, "tls", tls ? tls : "opportunistic");
	rec_set(r, "cert_name", cert);
	rec_set(r, "skip", skip && strcmp(skip, "none") ? skip : "");
	/* write state, then swap in a rebuilt partner trie; if that fails,
	 * put the old state back */
	{
		struct recfile before;

		if (ctl_read(c, ST_PARTNERS, &before))
			goto out;
		if (ctl_write(c, ST_PARTNERS, &f)) {
			recfile_free(&before);
			goto out;
		}
		if (ctl_compile(c, -1, NULL, NULL, NULL)) {
			ctl_write(c, ST_PARTNERS, &before);
			recfile_free(&before);
			goto out;
		}
		recfile_free(&before);
	}
	if (ctl_stamp(c))
		goto out;
	rc = 0;
	if (!c->json)
		printf("partner %s added (id %s): ip %s%s%s\n", a.pos[0], num, ips,
		       doms[0] ? ", domain " : "", doms);
out:
	recfile_free(&f);
	return rc;
}

static int partner_del(struct ctl *c, int argc, char **argv)
{
	struct recfile f, before;
	int i, rc = 1;

	if (argc != 2)
		return ctl_err("usage: mxshield partner del NAME");
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	i = recfile_find(&f, "name", argv[1]);
	if (i < 0) {
		ctl_err("no partner '%s'", argv[1]);
		goto out;
	}
	if (ctl_read(c, ST_PARTNERS, &before))
		goto out;
	recfile_del(&f, i);
	if (!ctl_write(c, ST_PARTNERS, &f)) {
		if (ctl_compile(c, -1, NULL, NULL, NULL))
			ctl_write(c, ST_PARTNERS, &before);
		else
			rc = ctl_stamp(c);
	}
	recfile_free(&before);
	if (!rc && !c->json)
		printf("partner %s deleted\n", argv[1]);
out:
	recfile_free(&f);
	return rc;
}

static int partner_list(struct ctl *c, int argc)
{
	struct recfile f;

	if (argc != 1)
		return ctl_err("usage: mxshield partner list");
	if (ctl_lock_ro(c) || ctl_read(c, ST_PARTNERS, &f))
		return 1;
	if (c->json)
		jw_arr();
	else if (f.n)
		printf("%-20s %-5s %-40s %s\n", "NAME", "ID", "IP", "DOMAIN");
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];

		if (c->json) {
			/* every key of the record: later options appear as they come */
			jw_obj();
			for (int j = 0; j < r->n; j++) {
				if (!strcmp(r->kv[j].k, "id")) {
					jw_ku64("id", rec_i64(r, "id"));
				} else if (!strcmp(r->kv[j].k, "ip") || !strcmp(r->kv[j].k, "domain")) {
					char *v = strdup(r->kv[j].v), *save, *tok;

					jw_key(r->kv[j].k);
					jw_arr();
					for (tok = strtok_r(v, ",", &save); tok;
					     tok = strtok_r(NULL, ",", &save))
						jw_str(tok);
					jw_end_arr();
					free(v);
				} else {
					jw_kstr(r->kv[j].k, r->kv[j].v);
				}
			}
			jw_end_obj();
		} else {
			printf("%-20s %-5s %-40s %s\n", rec_get(r, "name"), rec_get(r, "id"),
			       rec_get(r, "ip"), rec_get(r, "domain") ? : "");
		}
	}
	if (c->json)
		jw_end_arr();
	recfile_free(&f);
	return 0;
}

int cmd_partner(struct ctl *c, int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return partner_add(c, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return partner_del(c, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return partner_list(c, argc);
	return ctl_err("usage: mxshield partner add|del|list ...");
}

/* ------------------------------------------------------------- countries */

static bool geo_present(const struct ctl *c)
{
	char p[PATH_MAX];
	struct stat st;

	state_path(c, ST_GEO, p, sizeof(p));
	return stat(p, &st) == 0;
}

static int country_set(struct ctl *c, uint32_t cc, uint8_t action)
{
	struct mxs_country_policy p = { .action = action };

	if (bpf_map_update_elem(c->mv.country_policy, &cc, &p, BPF_ANY))
		return ctl_err("country_policy map: %s", bpf_errstr(-errno));
	return 0;
}

static int country_add(struct ctl *c, int argc, char **argv)
{
	static const char *const opts[] = { "action", NULL };
	struct cmd_args a;
	struct recfile f;
	struct mxs_country_policy oldp = {};
	char code[3], err[MXS_ERRLEN];
	uint32_t cc;
	uint8_t action;
	int i, rc = 1;
	bool is_new;

	if (get_args(argc, argv, opts, 1, &a) || a.npos != 1 || !arg(&a, opts, "action"))
		return ctl_err("usage: mxshield country add CC --action drop|reject|quarantine|spam");
	if (parse_country(a.pos[0], &cc, code, err, sizeof(err)) ||
	    parse_action(arg(&a, opts, "action"), &action, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	i = recfile_find(&f, "cc", code);
	is_new = i < 0;
	{
		struct rec *r = is_new ? recfile_add(&f) : &f.r[i];

		rec_set(r, "cc", code);
		rec_set(r, "action", action_name(action));
	}
	bpf_map_lookup_elem(c->mv.country_policy, &cc, &oldp);
	if (ctl_write(c, ST_COUNTRIES, &f))
		goto out;
	/* a new country needs its prefixes: install a build that has them
	 * (still without a policy, so nothing changes), then set the policy,
	 * so all its networks start at once */
	if (is_new && ctl_compile(c, -1, NULL, NULL, NULL))
		goto undo;
	if (country_set(c, cc, action))
		goto undo;
	if (ctl_stamp(c))
		goto out;
	rc = 0;
	if (!c->json) {
		printf("country %s %s: %s\n", code, is_new ? "added" : "updated", action_name(action));
		if (!geo_present(c))
			printf("note: no geo database loaded; country policies take effect "
			       "after 'mxshield geo load FILE.mmdb'\n");
	}
	goto out;
undo:
	if (is_new)
		recfile_del(&f, f.n - 1);
	if (!ctl_write(c, ST_COUNTRIES, &f) && is_new)
		ctl_compile(c, -1, NULL, NULL, NULL);
out:
	recfile_free(&f);
	return rc;
}

static int country_del(struct ctl *c, int argc, char **argv)
{
	struct recfile f;
	char code[3], err[MXS_ERRLEN];
	uint32_t cc;
	int i, rc = 1;

	if (argc != 2)
		return ctl_err("usage: mxshield country del CC");
	if (parse_country(argv[1], &cc, code, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	i = recfile_find(&f, "cc", code);
	if (i < 0) {
		ctl_err("country %s has no policy", code);
		goto out;
	}
	recfile_del(&f, i);
	if (ctl_write(c, ST_COUNTRIES, &f))
		goto out;
	/* the policy goes first (one atomic write), the prefixes after */
	if (country_set(c, cc, MXS_ACT_NONE) || ctl_compile(c, -1, NULL, NULL, NULL) ||
	    ctl_stamp(c))
		goto out;
	rc = 0;
	if (!c->json)
		printf("country %s deleted\n", code);
out:
	recfile_free(&f);
	return rc;
}

static int country_list(struct ctl *c, int argc)
{
	struct recfile f;
	int ncpu = libbpf_num_possible_cpus();

	if (argc != 1)
		return ctl_err("usage: mxshield country list");
	if (ctl_open_ro(c) || ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	if (c->json)
		jw_arr();
	else if (f.n)
		printf("%-8s %-11s %12s\n", "COUNTRY", "ACTION", "PACKETS");
	for (int i = 0; i < f.n; i++) {
		const char *code = rec_get(&f.r[i], "cc");
		struct mxs_counter cnt[ncpu > 0 ? ncpu : 1];
		uint64_t pk = 0;
		uint32_t cc;
		char err[MXS_ERRLEN];

		if (parse_country(code, &cc, NULL, err, sizeof(err)))
			continue;
		if (c->loaded && !bpf_map_lookup_elem(c->fd_cstats, &cc, cnt))
			for (int k = 0; k < ncpu; k++)
				pk += cnt[k].packets;
		if (c->json) {
			jw_obj();
			jw_kstr("country", code);
			jw_kstr("action", rec_get(&f.r[i], "action"));
			jw_ku64("packets", pk);
			jw_end_obj();
		} else {
			printf("%-8s %-11s %12llu\n", code, rec_get(&f.r[i], "action"),
			       (unsigned long long)pk);
		}
	}
	if (c->json)
		jw_end_arr();
	else if (!geo_present(c))
		printf("note: no geo database loaded ('mxshield geo load FILE.mmdb')\n");
	recfile_free(&f);
	return 0;
}

int cmd_country(struct ctl *c, int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return country_add(c, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return country_del(c, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return country_list(c, argc);
	return ctl_err("usage: mxshield country add|del|list ...");
}

/* ------------------------------------------------------------------- geo */

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return ctl_err("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return ctl_err("%s: %s", path, strerror(errno));
	}
	*buf = malloc(n ? n : 1);
	if (!*buf || fread(*buf, 1, n, f) != (size_t)n) {
		free(*buf);
		fclose(f);
		return ctl_err("%s: read error", path);
	}
	*len = n;
	fclose(f);
	return 0;
}

struct geo_store {
	const char *path;
	const char *buf;
	size_t len;
};

static int geo_store(void *arg)
{
	const struct geo_store *g = arg;
	char err[PATH_MAX + 256];

	if (atomic_write(g->path, g->buf, g->len, err, sizeof(err)))
		return ctl_err("storing the database: %s", err);
	return 0;
}

static int geo_load(struct ctl *c, int argc, char **argv)
{
	struct geo_meta meta = {};
	uint64_t per[MXS_COUNTRY_SLOTS] = {};
	struct pfx_vec all = {};
	char err[MXS_ERRLEN + PATH_MAX], gp[PATH_MAX], *buf = NULL;
	struct recfile f;
	size_t len = 0;
	int rc = 1;

	if (argc != 2)
		return ctl_err("usage: mxshield geo load FILE.mmdb");
	/* validate and count first: a bad database changes nothing */
	if (geo_collect(argv[1], NULL, &all, per, &meta, err, sizeof(err)))
		return ctl_err("%s", err);
	pfx_vec_free(&all);
	if (ctl_ensure_loaded(c) || read_file(argv[1], &buf, &len))
		return 1;
	/* the build from the new database made ready, its copy stored, then
	 * the switch */
	state_path(c, ST_GEO, gp, sizeof(gp));
	{
		struct geo_store gs = { gp, buf, len };

		if (ctl_compile_hook(c, -1, NULL, argv[1], NULL, geo_store, &gs) || ctl_stamp(c))
			goto out;
	}
	rc = 0;
	if (ctl_read(c, ST_COUNTRIES, &f))
		goto out;
	if (c->json) {
		jw_obj();
		jw_kstr("file", argv[1]);
		jw_kstr("database_type", meta.type);
		jw_kstr("schema", meta.schema ? meta.schema : "");
		jw_ku64("build_epoch", meta.build_epoch);
		jw_ku64("networks", meta.networks);
		jw_key("policy_countries");
		jw_arr();
	} else {
		printf("geo database %s: %s, schema %s, %llu networks\n", argv[1], meta.type,
		       meta.schema ? meta.schema : "?", (unsigned long long)meta.networks);
	}
	for (int i = 0; i < f.n; i++) {
		uint32_t cc;
		char e2[MXS_ERRLEN];
		const char *code = rec_get(&f.r[i], "cc");

		if (parse_country(code, &cc, NULL, e2, sizeof(e2)))
			continue;
		if (c->json) {
			jw_obj();
			jw_kstr("country", code);
			jw_ku64("prefixes", per[cc]);
			jw_end_obj();
		} else {
			printf("  %s %-10s %llu prefixes\n", code, rec_get(&f.r[i], "action"),
			       (unsigned long long)per[cc]);
		}
	}
	if (c->json) {
		jw_end_arr();
		jw_end_obj();
	}
	recfile_free(&f);
out:
	free(buf);
	return rc;
}

int cmd_geo(struct ctl *c, int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "load"))
		return geo_load(c, argc, argv);
	return ctl_err("usage: mxshield geo load FILE.mmdb");
}
