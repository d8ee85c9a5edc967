// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The sources of an IP list, read together (see srcset.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "srcset.h"

int src_valid(const char *src, char *err, size_t errlen)
{
	const char *n = src;

	if (!strcmp(src, "dnsbl") || !strcmp(src, "auto"))
		return 0;
	if (strncmp(src, "feed:", 5)) {
		snprintf(err, errlen, "'%s' is not a source: dnsbl, auto or feed:NAME", src);
		return -1;
	}
	n += 5;
	if (!*n || *n == '.' || strlen(n) > 32 || strspn(n, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(n)) {
		snprintf(err, errlen, "'%s': a feed's name is 1 to 32 letters, digits, '-', "
			 "'_' or '.', not starting with '.'", n);
		return -1;
	}
	return 0;
}

static bool is_manual(const char *src)
{
	return !src || !strcmp(src, SRC_MANUAL);
}

void src_store_name(const char *list, const char *src, char *buf, size_t len)
{
	if (is_manual(src))
		snprintf(buf, len, "%s", list);
	else
		snprintf(buf, len, "sources/%s/%s", list, src);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int src_names(const struct ctl *c, const char *list, char names[][SRC_NAMELEN], int max)
{
	char dir[PATH_MAX], sub[64], err[128];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(sub, sizeof(sub), "sources/%s", list);
	state_path(c, sub, dir, sizeof(dir));
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		ctl_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char name[SRC_NAMELEN];
		const char *dot = strrchr(de->d_name, '.');
		size_t len = dot ? (size_t)(dot - de->d_name) : 0;
		bool dup = false;

		if (!dot || (strcmp(dot, ".list") && strcmp(dot, ".journal")) ||
		    len >= sizeof(name))
			continue;	/* temporary files, anything else */
		memcpy(name, de->d_name, len);
		name[len] = 0;
		if (src_valid(name, err, sizeof(err)))
			continue;
		for (int i = 0; i < n && !dup; i++)
			dup = !strcmp(names[i], name);
		if (dup)
			continue;
		if (n == max) {
			closedir(d);
			ctl_err("%s: more than %d sources in list %s", dir, max, list);
			return -1;
		}
		memcpy(names[n++], name, sizeof(name));
	}
	closedir(d);
	qsort(names, n, SRC_NAMELEN, cmp_name);
	return n;
}

int src_mkdir(const struct ctl *c, const char *list)
{
	char dir[PATH_MAX], sub[64];
	int e;

	snprintf(sub, sizeof(sub), "sources/%s", list);
	state_path(c, sub, dir, sizeof(dir));
	e = ctl_mkdir_p(dir, 0700);
	return e ? ctl_err("%s: %s", dir, strerror(-e)) : 0;
}

/* ---------------------------------------------------------------- sets */

static bool over_is(const struct src_over *ov, const char *list, const char *src)
{
	return ov && ov->s && !strcmp(ov->list, list) &&
	       (is_manual(ov->src) ? is_manual(src) : !is_manual(src) && !strcmp(ov->src, src));
}

static int set_add(const struct ctl *c, struct srcset *set, const char *src,
		   const struct src_over *ov)
{
	char sname[128];
	int i = set->n;

	snprintf(set->name[i], SRC_NAMELEN, "%s", is_manual(src) ? SRC_MANUAL : src);
	if (over_is(ov, set->list, src)) {
		set->st[i] = ov->s;
	} else {
		src_store_name(set->list, src, sname, sizeof(sname));
		if (store_open(c, sname, &set->own[i]))
			return 1;
		set->opened[i] = true;
		set->st[i] = &set->own[i];
	}
	set->n++;
	return 0;
}

int srcset_open(const struct ctl *c, const char *list, const struct src_over *ov,
		struct srcset *set)
{
	char names[SRC_MAX][SRC_NAMELEN];
	bool have_ov = !ov || !ov->s || strcmp(ov->list, list) || is_manual(ov->src);
	int n;

	memset(set, 0, sizeof(*set));
	set->list = list;
	n = src_names(c, list, names, SRC_MAX);
	if (n < 0 || set_add(c, set, NULL, ov))
		goto fail;
	for (int i = 0; i < n; i++) {
		if (set_add(c, set, names[i], ov))
			goto fail;
		have_ov |= over_is(ov, list, names[i]);
	}
	if (!have_ov) {		/* a source not on disk yet */
		if (set->n > SRC_MAX) {
			ctl_err("list %s: more than %d sources", list, SRC_MAX);
			goto fail;
		}
		set_add(c, set, ov->src, ov);
	}
	return 0;
fail:
	srcset_close(set);
	return 1;
}

void srcset_close(struct srcset *set)
{
	for (int i = 0; i < set->n; i++)
		if (set->opened[i])
			store_close(&set->own[i]);
	set->n = 0;
}

int srcset_index(const struct srcset *set, const char *src)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->name[i], is_manual(src) ? SRC_MANUAL : src))
			return i;
	return -1;
}

void srcset_names_of(const struct srcset *set, uint64_t srcs, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < set->n && o < len; i++)
		if (srcs & 1ULL << i)
			o += snprintf(buf + o, len - o, "%s%s", o ? "," : "", set->name[i]);
}

/* ------------------------------------------------------------ combining */

static bool live(const struct st_ent *e, int64_t now)
{
	return !e->expires || e->expires > now;
}

/* Fold @e (of source @i) into the combined entry *acc (*have: one so far). */
static void combine(struct st_ent *acc, const char **accc, bool *have, int *from,
		    const struct st_ent *e, const char *comment, int i)
{
	if (!*have) {
		*acc = *e;
		*accc = comment;
		*from = i;
		*have = true;
		return;
	}
	if (*from == 0)
		return;		/* the manual entry decides alone */
	if (i == 0) {
		*acc = *e;
		*accc = comment;
		*from = 0;
		return;
	}
	if (e->action && e->action < acc->action) {	/* drop < reject < ... */
		acc->action = e->action;
		*accc = comment;
		*from = i;
	}
	if (!acc->expires || !e->expires)
		acc->expires = 0;
	else if (e->expires > acc->expires)
		acc->expires = e->expires;
	if (e->added < acc->added)
		acc->added = e->added;
}

bool srcset_find(const struct srcset *set, int64_t now, const struct mxs_prefix *p,
		 struct st_ent *out, const char **comment, uint64_t *srcs)
{
	bool have = false;
	int from = -1;

	*srcs = 0;
	for (int i = 0; i < set->n; i++) {
		const struct st_ent *e = store_find(set->st[i], p);

		if (!e || !live(e, now))
			continue;
		combine(out, comment, &have, &from, e, store_comment(set->st[i], e), i);
		*srcs |= 1ULL << i;
	}
	return have;
}

struct span_ctx {
	struct st_vec *v;
	int min_plen;
	bool oom;
};

static int span_push(const struct st_ent *e, const char *comment, void *arg)
{
	struct span_ctx *sc = arg;

	if (e->plen < sc->min_plen)
		return 0;
	if (st_vec_push(sc->v, e, comment)) {
		sc->oom = true;
		return 1;
	}
	return 0;
}

/* The entries of @s that cover @span or lie inside it, sorted. */
static int span_entries(const struct store *s, const struct mxs_prefix *span, struct st_vec *v)
{
	struct span_ctx sc = { .v = v };
	struct mxs_prefix last = *span;

	for (int l = 0; l < span->plen; l++) {
		struct mxs_prefix q = *span;
		const struct st_ent *e;

		q.plen = l;
		prefix_mask(&q);
		e = store_find(s, &q);
		if (e && st_vec_push(v, e, store_comment(s, e)))
			return -1;
	}
	prefix_last(&last);
	sc.min_plen = span->plen;
	store_each(s, span->v6, span->addr, last.addr, span_push, &sc);
	if (sc.oom || st_vec_finish(v) < 0)
		return -1;
	return 0;
}

int srcset_merge(const struct srcset *set, int64_t now, const struct mxs_prefix *span,
		 src_cb cb, void *arg)
{
	struct st_vec view[SRC_MAX + 1] = {}, copy[SRC_MAX + 1] = {};
	size_t at[SRC_MAX + 1] = {};
	int rc = 0;

	for (int i = 0; i < set->n && !rc; i++)
		rc = span ? span_entries(set->st[i], span, &copy[i]) :
			    store_view(set->st[i], &view[i], &copy[i]);
	for (int i = 0; span && i < set->n; i++)
		view[i] = copy[i];
	while (!rc) {
		const struct st_ent *min = NULL, *e;
		struct st_ent acc;
		const char *accc = "";
		bool have = false;
		uint64_t srcs = 0;
		int from = -1;

		for (int i = 0; i < set->n; i++)
			if (at[i] < view[i].n && (!min || st_cmp(&view[i].e[at[i]], min) < 0))
				min = &view[i].e[at[i]];
		if (!min)
			break;
		acc = *min;
		for (int i = 0; i < set->n; i++) {
			if (at[i] >= view[i].n || st_cmp(&view[i].e[at[i]], &acc) > 0)
				continue;
			e = &view[i].e[at[i]++];
			if (!live(e, now))
				continue;
			combine(&acc, &accc, &have, &from, e, st_vec_comment(&view[i], e), i);
			srcs |= 1ULL << i;
		}
		if (have)
			rc = cb(&acc, accc, srcs, arg);
	}
	for (int i = 0; i < set->n; i++)
		st_vec_free(&copy[i]);
	return rc;
}
