// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Feeds (feed.h): their records, and a refresh -- fetch, parse whole,
 * check, apply as the feed's source, record.
 *
 * The download runs without the state directory's lock: a slow server
 * must not stop every other command (or the service's sweeps) for its
 * timeout. Only the apply takes it, with the whole new copy parsed and
 * checked in memory: the lock is held for one source_replace() and two
 * small record writes. Two refreshes of one feed at once (the timer and a
 * command) are kept apart by a lock of the feed's own, taken without
 * waiting: the second says the feed is busy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "../core/ctl.h"
#include "../core/fetch.h"
#include "../core/input.h"
#include "../core/parse.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "build.h"
#include "loader.h"
#include "feed.h"
#include "source.h"
#include "srcset.h"

const char *const feed_formats[] = { "plain", NULL };

int feed_name_check(const char *name, char *err, size_t errlen)
{
	char src[80];

	/* the name is its source's ("feed:NAME"): one rule for both */
	if (strlen(name) > 32)
		return mxs_fail(err, errlen, "feed name '%s': at most 32 characters", name);
	snprintf(src, sizeof(src), "feed:%s", name);
	return src_valid(src, err, errlen);
}

bool feed_format_known(const char *fmt)
{
	for (int i = 0; feed_formats[i]; i++)
		if (!strcmp(fmt, feed_formats[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------- records */

static int64_t num(const struct rec *r, const char *key, int64_t dflt)
{
	const char *v = rec_get(r, key);
	char *end;
	long long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno || *end ? dflt : n;
}

static void str(char *dst, size_t len, const struct rec *r, const char *key)
{
	const char *v = rec_get(r, key);

	snprintf(dst, len, "%s", v ? v : "");
}

static void set_num(struct rec *r, const char *key, int64_t v)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", (long long)v);
	rec_set(r, key, b);
}

static void conf_to_rec(const struct feed *f, struct rec *r)
{
	rec_set(r, "name", f->name);
	rec_set(r, "list", f->list);
	rec_set(r, "url", f->url);
	rec_set(r, "format", f->format);
	rec_set(r, "action", action_name(f->action));
	set_num(r, "every", f->every);
	set_num(r, "min_entries", f->min_entries);
	set_num(r, "max_shrink", f->max_shrink);
	set_num(r, "timeout", f->timeout);
	set_num(r, "max_size", f->max_size);
	rec_set(r, "cacert", f->cacert);
}

static void conf_of_rec(const struct rec *r, struct feed *f)
{
	char act[16], err[MXS_ERRLEN];

	memset(f, 0, sizeof(*f));
	str(f->name, sizeof(f->name), r, "name");
	str(f->list, sizeof(f->list), r, "list");
	str(f->url, sizeof(f->url), r, "url");
	str(f->format, sizeof(f->format), r, "format");
	str(act, sizeof(act), r, "action");
	if (parse_action(act, &f->action, err, sizeof(err)))
		f->action = MXS_ACT_DROP;
	f->every = num(r, "every", FEED_EVERY_DEFAULT);
	f->min_entries = num(r, "min_entries", FEED_MIN_ENTRIES_DEFAULT);
	f->max_shrink = num(r, "max_shrink", FEED_MAX_SHRINK_DEFAULT);
	f->timeout = num(r, "timeout", FEED_TIMEOUT_DEFAULT);
	f->max_size = num(r, "max_size", FEED_MAX_SIZE_DEFAULT);
	str(f->cacert, sizeof(f->cacert), r, "cacert");
}

static void status_to_rec(const struct feed *f, struct rec *r)
{
	rec_set(r, "name", f->name);
	set_num(r, "attempt", f->attempt);
	set_num(r, "success", f->success);
	set_num(r, "changed", f->changed);
	set_num(r, "entries", f->entries);
	rec_set(r, "etag", f->etag);
	set_num(r, "last_modified", f->last_modified);
	rec_set(r, "error", f->error);
	set_num(r, "error_time", f->error_time);
	rec_set(r, "last_error", f->last_error);
	set_num(r, "failures", f->failures);
}

static void status_of_rec(const struct rec *r, struct feed *f)
{
	f->attempt = num(r, "attempt", 0);
	f->success = num(r, "success", 0);
	f->changed = num(r, "changed", 0);
	f->entries = num(r, "entries", 0);
	str(f->etag, sizeof(f->etag), r, "etag");
	f->last_modified = num(r, "last_modified", 0);
	str(f->error, sizeof(f->error), r, "error");
	f->error_time = num(r, "error_time", 0);
	str(f->last_error, sizeof(f->last_error), r, "last_error");
	f->failures = num(r, "failures", 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct feed *)a)->name, ((const struct feed *)b)->name);
}

int feed_read_all(const struct ctl *c, struct feed **v, int *n)
{
	struct recfile conf, st;
	struct feed *out;

	*v = NULL;
	*n = 0;
	if (ctl_read(c, ST_FEEDS, &conf))
		return 1;
	if (ctl_read(c, ST_FEEDSTATUS, &st)) {
		recfile_free(&conf);
		return 1;
	}
	out = calloc(conf.n ? conf.n : 1, sizeof(*out));
	if (!out) {
		recfile_free(&conf);
		recfile_free(&st);
		return ctl_err("out of memory");
	}
	for (int i = 0; i < conf.n; i++) {
		int j;

		conf_of_rec(&conf.r[i], &out[i]);
		j = recfile_find(&st, "name", out[i].name);
		if (j >= 0)
			status_of_rec(&st.r[j], &out[i]);
	}
	qsort(out, conf.n, sizeof(*out), by_name);
	*v = out;
	*n = conf.n;
	recfile_free(&conf);
	recfile_free(&st);
	return 0;
}

/* One feed by name: 0, 1 after an error (none of that name). */
static int feed_read(const struct ctl *c, const char *name, struct feed *f)
{
	struct feed *v;
	int n, rc = 1;

	if (feed_read_all(c, &v, &n))
		return 1;
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].name, name)) {
			*f = v[i];
			rc = 0;
		}
	free(v);
	if (rc)
		ctl_err("no feed named '%s' ('mxshield feed list' shows them)", name);
	return rc;
}

int64_t feed_next_due(const struct feed *f)
{
	int64_t retry = f->every / 4;

	if (!f->attempt)
		return 0;
	if (!*f->error)
		return f->attempt + f->every;
	if (retry < 60)
		retry = 60;
	if (retry > f->every)
		retry = f->every;
	return f->attempt + retry;
}

/* Replace (or with @drop remove) the status record of @f. */
static int status_write(const struct ctl *c, const struct feed *f, bool drop)
{
	struct recfile st;
	int i, rc;

	if (ctl_read(c, ST_FEEDSTATUS, &st))
		return 1;
	i = recfile_find(&st, "name", f->name);
	if (drop) {
		if (i >= 0)
			recfile_del(&st, i);
	} else {
		status_to_rec(f, i >= 0 ? &st.r[i] : recfile_add(&st));
	}
	rc = ctl_write(c, ST_FEEDSTATUS, &st);
	recfile_free(&st);
	return rc;
}

static void feed_file(const struct ctl *c, const char *name, const char *ext, char *buf,
		      size_t len)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "%s/%s.%s", FEED_DIR, name, ext);
	state_path(c, rel, buf, len);
}

int feed_add(const struct ctl *c, const struct feed *f)
{
	struct recfile conf;
	int rc;

	if (ctl_read(c, ST_FEEDS, &conf))
		return 1;
	if (recfile_find(&conf, "name", f->name) >= 0) {
		recfile_free(&conf);
		return ctl_err("a feed named '%s' exists ('mxshield feed del %s' first to change "
			       "it)", f->name, f->name);
	}
	/* a list has room for SRC_MAX sources: dnsbl and auto keep theirs */
	for (int i = 0, same = 0; i < conf.n; i++) {
		const char *l = rec_get(&conf.r[i], "list");

		if (l && !strcmp(l, f->list) && ++same >= SRC_MAX - 2) {
			recfile_free(&conf);
			return ctl_err("the %s list has %d feeds already, the most it takes",
				       f->list, same);
		}
	}
	conf_to_rec(f, recfile_add(&conf));
	rc = ctl_write(c, ST_FEEDS, &conf);
	recfile_free(&conf);
	/* a status left by a feed of that name removed in a crash is not this one's */
	if (!rc)
		rc = status_write(c, f, true);
	return rc;
}

static void source_name(const char *feed, char *buf, size_t len)
{
	snprintf(buf, len, "feed:%s", feed);
}

int feed_del(struct ctl *c, const char *name)
{
	const struct listdef *d;
	struct recfile conf;
	char src[80], p[PATH_MAX];
	struct feed f;
	int i, rc;

	if (feed_read(c, name, &f))
		return 1;
	d = listdef_by_name(f.list);
	if (!d)
		return ctl_err("feed %s: unknown list '%s'", name, f.list);
	/* the entries first: a crash after leaves a record to delete again */
	source_name(name, src, sizeof(src));
	if (source_remove(c, d, src))
		return 1;
	if (ctl_read(c, ST_FEEDS, &conf))
		return 1;
	i = recfile_find(&conf, "name", name);
	if (i >= 0)
		recfile_del(&conf, i);
	rc = ctl_write(c, ST_FEEDS, &conf);
	recfile_free(&conf);
	if (rc || status_write(c, &f, true))
		return 1;
	for (const char *const *ext = (const char *const[]){ "last", "tmp", "lock", NULL };
	     *ext; ext++) {
		feed_file(c, name, *ext, p, sizeof(p));
		unlink(p);
	}
	return 0;
}

/* ------------------------------------------------------------- parsing */

/*
 * The plain format: one address or CIDR a line, '#' comments; text after
 * the prefix (after ';' or '#', as Spamhaus' DROP writes "a.b.c.d/n ;
 * SBL123") is the entry's comment. Every line must parse: a feed with a
 * bad line is a bad feed, not one to apply in part.
 */
static int parse_line(char *line, uint8_t action, int64_t now, struct st_ent *e,
		      const char **comment, char *err, size_t errlen)
{
	char *p = line, *rest;
	struct mxs_prefix pfx;

	rest = p + strcspn(p, " \t;#");
	*comment = NULL;
	if (*rest) {
		char *c = rest;

		*rest = '\0';
		c++;
		c += strspn(c, " \t;#");
		if (*c)
			*comment = c;
	}
	if (parse_prefix(p, &pfx, err, errlen))
		return -1;
	if (*comment && strlen(*comment) > 200)
		(*(char **)comment)[200] = '\0';
	memset(e, 0, sizeof(*e));
	st_set_prefix(e, &pfx);
	e->action = action;
	e->added = now;
	return 0;
}

/* The reader's message about the downloaded file, naming the feed's URL
 * instead (the temporary file means nothing to an admin). */
static void as_url(const char *msg, const char *path, const char *url, char *err, size_t errlen)
{
	size_t n = strlen(path);

	if (!strncmp(msg, path, n))
		snprintf(err, errlen, "%s%s", url, msg + n);
	else
		snprintf(err, errlen, "%s", msg);
}

/* Read @path whole into @v (sorted, duplicates folded). 0, or -1 with
 * err: "URL:LINE: why" for a line, "URL: why" for the file. */
static int feed_parse(const struct feed *f, const struct listdef *d, const char *path,
		      struct st_vec *v, char *err, size_t errlen)
{
	int64_t now = time(NULL);
	struct input in;
	char *line, why[MXS_ERRLEN];
	uint64_t text = 0, cap = f->max_size ? f->max_size * FEED_TEXT_FACTOR : 0;
	int got, rc = -1;

	if (input_open(&in, path, 4094)) {
		as_url(in.err, path, f->url, err, errlen);
		return -1;
	}
	while ((got = input_line(&in, &line)) != INPUT_END) {
		struct st_ent e;
		const char *comment;

		if (got == INPUT_FAIL || got == INPUT_BAD) {
			as_url(in.err, path, f->url, err, errlen);
			goto out;
		}
		text += strlen(line) + 1;
		if (cap && text > cap) {
			mxs_fail(err, errlen, "%s: more than %llu bytes of entries once decompressed "
				 "(%d times the size limit)", f->url, (unsigned long long)cap,
				 FEED_TEXT_FACTOR);
			goto out;
		}
		if (parse_line(line, d->has_action ? f->action : 0, now, &e, &comment, why,
			       sizeof(why))) {
			mxs_fail(err, errlen, "%s:%ld: %s", f->url, in.lineno, why);
			goto out;
		}
		if (st_vec_push(v, &e, comment)) {
			mxs_fail(err, errlen, "out of memory");
			goto out;
		}
	}
	if (in.ctl_lines) {
		mxs_fail(err, errlen, "%s: %ld line%s with NUL or control bytes: a damaged or "
			 "binary file", f->url, in.ctl_lines, in.ctl_lines == 1 ? "" : "s");
		goto out;
	}
	if (st_vec_finish(v) < 0) {
		mxs_fail(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	input_close(&in);
	return rc;
}

/* ------------------------------------------------------------- refresh */

/* The refresh's own lock on feed @name: an fd, -1 after an error (err),
 * -2 when another refresh of it runs. */
static int feed_lock(const struct ctl *c, const char *name, char *err, size_t errlen)
{
	char dir[PATH_MAX], p[PATH_MAX];
	int fd, e;

	state_path(c, FEED_DIR, dir, sizeof(dir));
	e = ctl_mkdir_p(dir, 0700);
	if (e)
		return mxs_fail(err, errlen, "%s: %s", dir, strerror(-e));
	feed_file(c, name, "lock", p, sizeof(p));
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mxs_fail(err, errlen, "%s: %s", p, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -2;
	}
	return fd;
}

/* A fresh context for the apply: the lock taken, the filter opened as
 * @how says. 0, or 1 after an error. */
static int apply_open(const struct ctl *tmpl, struct ctl *a, enum feed_open how)
{
	*a = (struct ctl){ .state_dir = tmpl->state_dir, .bpffs_dir = tmpl->bpffs_dir,
			   .lock_fd = -1 };
	return how == FEED_LOAD ? ctl_ensure_loaded(a) : ctl_open_if_loaded(a);
}

static void apply_close(struct ctl *a)
{
	if (a->loaded)
		ctl_close_pinned(a);
	ctl_unlock(a);
}

/* Record the outcome under the state lock (a feed deleted meanwhile is
 * left deleted). */
static int record(const struct ctl *tmpl, struct feed *f, struct ctl *held)
{
	struct ctl own = { .state_dir = tmpl->state_dir, .bpffs_dir = tmpl->bpffs_dir,
			   .lock_fd = -1 };
	struct ctl *c = held ? held : &own;
	struct recfile conf;
	int rc = 1;

	if (!held && ctl_lock(c))
		return 1;
	if (!ctl_read(c, ST_FEEDS, &conf)) {
		rc = recfile_find(&conf, "name", f->name) >= 0 ? status_write(c, f, false) : 0;
		recfile_free(&conf);
	}
	if (!held)
		ctl_unlock(c);
	return rc;
}

static void failed(struct feed *f, struct feed_result *r, int64_t now, const char *why)
{
	r->outcome = FEED_FAILED;
	snprintf(r->error, sizeof(r->error), "%s", why);
	snprintf(f->error, sizeof(f->error), "%s", why);
	snprintf(f->last_error, sizeof(f->last_error), "%s", why);
	f->error_time = now;
	f->failures++;
}

int feed_refresh(const struct ctl *c, const char *name, bool force, enum feed_open how,
		 struct feed_result *r)
{
	const struct listdef *d;
	struct fetch_req req = {};
	struct fetch_res res;
	struct st_vec v = {};
	struct ctl a;
	struct feed f;
	char tmp[PATH_MAX], last[PATH_MAX], src[80], why[1024];
	int64_t now = time(NULL);
	int lock, got;

	memset(r, 0, sizeof(*r));
	if (feed_read(c, name, &f))
		return 1;
	d = listdef_by_name(f.list);
	if (!d)
		return ctl_err("feed %s: unknown list '%s'", name, f.list);
	lock = feed_lock(c, name, why, sizeof(why));
	if (lock == -2) {
		r->outcome = FEED_BUSY;
		snprintf(r->error, sizeof(r->error), "another refresh of it is running");
		return 0;
	}
	if (lock < 0)
		return ctl_err("feed %s: %s", name, why);
	r->before = f.entries;
	f.attempt = now;
	feed_file(c, name, "tmp", tmp, sizeof(tmp));
	feed_file(c, name, "last", last, sizeof(last));
	req.url = f.url;
	req.out = tmp;
	req.timeout = f.timeout;
	req.max_size = f.max_size;
	req.cacert = *f.cacert ? f.cacert : NULL;
	/* conditional only while the copy it describes is there */
	if (!force && f.success && !access(last, R_OK)) {
		req.etag = *f.etag ? f.etag : NULL;
		req.last_modified = f.last_modified;
	}
	got = fetch(&req, &res);
	r->bytes = res.bytes;
	if (got == FETCH_FAIL) {
		failed(&f, r, now, res.err);
		goto done;
	}
	if (got == FETCH_SAME) {
		r->outcome = FEED_UNCHANGED;
		r->entries = f.entries;
		f.success = now;
		f.error[0] = '\0';
		goto done;
	}
	/* a new copy: parsed whole and checked before anything applies */
	if (feed_parse(&f, d, tmp, &v, why, sizeof(why))) {
		failed(&f, r, now, why);
		goto done;
	}
	r->entries = v.n;
	if (v.n < f.min_entries) {
		snprintf(why, sizeof(why), "%zu entr%s, fewer than its minimum (%llu): the last "
			 "good copy stays", v.n, v.n == 1 ? "y" : "ies",
			 (unsigned long long)f.min_entries);
		failed(&f, r, now, why);
		goto done;
	}
	if (!force && f.success && f.entries && f.max_shrink < 100 &&
	    (f.entries - v.n) * 100 > f.entries * (uint64_t)f.max_shrink && v.n < f.entries) {
		snprintf(why, sizeof(why), "%zu entries, down from %llu: shrinks by more than "
			 "%d%% (the last good copy stays; 'feed update %s --force' takes it)",
			 v.n, (unsigned long long)f.entries, f.max_shrink, name);
		failed(&f, r, now, why);
		goto done;
	}
	if (apply_open(c, &a, how)) {
		failed(&f, r, now, "the state or the filter could not be opened (see the error "
		       "printed or logged with it)");
		apply_close(&a);
		goto done;
	}
	source_name(name, src, sizeof(src));
	got = source_replace(&a, d, src, &v);
	v = (struct st_vec){};	/* taken by source_replace, applied or not */
	if (got) {
		failed(&f, r, now, "applying the new copy failed (see the error printed or logged "
		       "with it): the last good copy stays");
		apply_close(&a);
		goto done;
	}
	/* the copy the source now holds is the last good one */
	if (rename(tmp, last) || fsync_parent(last))
		f.etag[0] = '\0', f.last_modified = 0;	/* fetched whole next time */
	else
		snprintf(f.etag, sizeof(f.etag), "%s", res.etag),
		f.last_modified = res.last_modified;
	r->outcome = FEED_UPDATED;
	f.entries = r->entries;
	f.success = f.changed = now;
	f.error[0] = '\0';
	record(c, &f, &a);
	apply_close(&a);
	st_vec_free(&v);
	close(lock);
	return 0;
done:
	unlink(tmp);
	st_vec_free(&v);
	record(c, &f, NULL);
	close(lock);
	return 0;
}
