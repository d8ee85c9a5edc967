// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The country database in the state: load one, and know how old it is.
 * A database's age is its build date's (MaxMind metadata build_epoch),
 * not the file's: geoipupdate and npm copies get a fresh mtime however
 * old their data is.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "../core/ctl.h"
#include "../state/recfile.h"
#include "build.h"
#include "geodb.h"
#include "loader.h"

static int read_whole(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rbe");
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
		*buf = NULL;
		fclose(f);
		return ctl_err("%s: read error", path);
	}
	*len = n;
	fclose(f);
	return 0;
}

struct geo_store {
	const struct ctl *c;
	const char *file;
	const char *buf;
	size_t len;
	const struct geo_meta *meta;
};

/* The copy first, then its record: a record never describes a copy that
 * is not there. */
static int geo_store(void *arg)
{
	const struct geo_store *g = arg;
	char gp[PATH_MAX], err[PATH_MAX + 256], v[32];
	struct recfile f;
	struct rec *r;
	int rc;

	state_path(g->c, ST_GEO, gp, sizeof(gp));
	if (atomic_write(gp, g->buf, g->len, err, sizeof(err)))
		return ctl_err("storing the database: %s", err);
	if (ctl_read(g->c, ST_GEOINFO, &f))
		return 1;
	r = f.n ? &f.r[0] : recfile_add(&f);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)g->meta->build_epoch);
	rec_set(r, "build_epoch", v);
	rec_set(r, "type", g->meta->type);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)g->meta->networks);
	rec_set(r, "networks", v);
	rec_set(r, "file", g->file);
	snprintf(v, sizeof(v), "%lld", (long long)time(NULL));
	rec_set(r, "loaded", v);
	rc = ctl_write(g->c, ST_GEOINFO, &f);
	recfile_free(&f);
	return rc;
}

int geodb_load(struct ctl *c, const char *file, bool may_load, struct geo_meta *meta,
	       uint64_t *per)
{
	struct pfx_vec all = {};
	char err[MXS_ERRLEN + PATH_MAX], *buf = NULL;
	size_t len = 0;
	int rc = 1;

	/* validate and count first: a bad database changes nothing */
	if (geo_collect(file, NULL, &all, per, meta, err, sizeof(err)))
		return ctl_err("%s", err);
	pfx_vec_free(&all);
	if (!meta->networks)
		return ctl_err("%s: no network with a country in it: not a country database",
			       file);
	if (may_load ? ctl_ensure_loaded(c) : ctl_open_if_loaded(c))
		return 1;
	if (read_whole(file, &buf, &len))
		return 1;
	{
		struct geo_store gs = { c, file, buf, len, meta };

		if (!c->loaded)	/* the state alone: restore compiles it */
			rc = geo_store(&gs);
		else		/* the build from it made ready, stored, switched */
			rc = ctl_compile_hook(c, -1, NULL, file, NULL, geo_store, &gs) ||
			     ctl_stamp(c);
	}
	free(buf);
	return rc;
}

static int64_t num(const struct rec *r, const char *k)
{
	const char *v = r ? rec_get(r, k) : NULL;

	return v ? strtoll(v, NULL, 10) : 0;
}

int geodb_info(const struct ctl *c, struct geo_info *gi)
{
	char gp[PATH_MAX];
	struct recfile f;
	struct stat st;
	const struct rec *r;

	memset(gi, 0, sizeof(*gi));
	state_path(c, ST_GEO, gp, sizeof(gp));
	gi->present = !stat(gp, &st);
	if (ctl_read(c, ST_GEOINFO, &f))
		return 1;
	r = f.n ? &f.r[0] : NULL;
	gi->max_age = r && rec_get(r, "max_age") ? num(r, "max_age") : GEO_MAX_AGE_DEFAULT;
	gi->recorded = r && rec_get(r, "build_epoch");
	if (gi->present && gi->recorded) {
		gi->build_epoch = num(r, "build_epoch");
		gi->loaded = num(r, "loaded");
		snprintf(gi->type, sizeof(gi->type), "%s", rec_get(r, "type") ? : "?");
		snprintf(gi->file, sizeof(gi->file), "%s", rec_get(r, "file") ? : "");
	} else if (gi->present) {
		/* loaded before the record existed: the copy tells */
		struct geo_meta m;
		char err[MXS_ERRLEN + PATH_MAX];

		if (!geo_meta_read(gp, &m, err, sizeof(err))) {
			gi->build_epoch = m.build_epoch;
			snprintf(gi->type, sizeof(gi->type), "%s", m.type);
		}
	}
	recfile_free(&f);
	gi->age = gi->present && gi->build_epoch ? time(NULL) - (int64_t)gi->build_epoch : -1;
	gi->stale = gi->present && (gi->age < 0 || gi->age > gi->max_age);
	return 0;
}

int geodb_set_max_age(struct ctl *c, int64_t secs)
{
	struct recfile f;
	char v[32];
	int rc;

	if (ctl_lock(c) || ctl_read(c, ST_GEOINFO, &f))
		return 1;
	snprintf(v, sizeof(v), "%lld", (long long)secs);
	rec_set(f.n ? &f.r[0] : recfile_add(&f), "max_age", v);
	rc = ctl_write(c, ST_GEOINFO, &f);
	recfile_free(&f);
	return rc;
}
