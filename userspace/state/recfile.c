// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* State files (see state.h): parse, edit, write atomically. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <time.h>
#include <stdint.h>
#include <zlib.h>
#include <limits.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "recfile.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		perror("mxshield");
		exit(1);
	}
	return d;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("mxshield");
		exit(1);
	}
	return p;
}

const char *rec_get(const struct rec *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->kv[i].k, key))
			return r->kv[i].v;
	return NULL;
}

void rec_set(struct rec *r, const char *key, const char *val)
{
	for (int i = 0; i < r->n; i++) {
		if (!strcmp(r->kv[i].k, key)) {
			free(r->kv[i].v);
			r->kv[i].v = xstrdup(val);
			return;
		}
	}
	r->kv = xrealloc(r->kv, (r->n + 1) * sizeof(*r->kv));
	r->kv[r->n].k = xstrdup(key);
	r->kv[r->n].v = xstrdup(val);
	r->n++;
}

void rec_free(struct rec *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->kv[i].k);
		free(r->kv[i].v);
	}
	free(r->kv);
	memset(r, 0, sizeof(*r));
}

struct rec *recfile_add(struct recfile *f)
{
	f->r = xrealloc(f->r, (f->n + 1) * sizeof(*f->r));
	memset(&f->r[f->n], 0, sizeof(f->r[0]));
	return &f->r[f->n++];
}

void recfile_del(struct recfile *f, int i)
{
	rec_free(&f->r[i]);
	memmove(&f->r[i], &f->r[i + 1], (f->n - i - 1) * sizeof(*f->r));
	f->n--;
}

int recfile_find(const struct recfile *f, const char *key, const char *val)
{
	for (int i = 0; i < f->n; i++) {
		const char *v = rec_get(&f->r[i], key);

		if (v && !strcmp(v, val))
			return i;
	}
	return -1;
}

void recfile_free(struct recfile *f)
{
	for (int i = 0; i < f->n; i++)
		rec_free(&f->r[i]);
	free(f->r);
	memset(f, 0, sizeof(*f));
}

static int valid_key(const char *k, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
		      k[i] == '_' || k[i] == '-'))
			return 0;
	return 1;
}

int state_parse_line(const char *line, struct rec *r, char *err, size_t errlen)
{
	const char *f = line;

	memset(r, 0, sizeof(*r));
	while (*f) {
		const char *end = strchr(f, '\t'), *eq;
		size_t len = end ? (size_t)(end - f) : strlen(f), kl;
		char *val, *o;

		eq = memchr(f, '=', len);
		if (!eq || !valid_key(f, eq - f)) {
			rec_free(r);
			return mxs_fail(err, errlen, "field '%.*s' is not key=value", (int)len, f);
		}
		kl = eq - f;
		val = o = calloc(1, len - kl);
		if (!val) {
			rec_free(r);
			return mxs_fail(err, errlen, "out of memory");
		}
		for (const char *c = eq + 1; c < f + len; c++) {
			if (*c != '\\') {
				*o++ = *c;
				continue;
			}
			c++;
			if (c >= f + len) {
				free(val);
				rec_free(r);
				return mxs_fail(err, errlen, "dangling backslash");
			}
			*o++ = *c == 't' ? '\t' : *c == 'n' ? '\n' : *c;
		}
		{
			char key[64];

			if (kl >= sizeof(key)) {
				free(val);
				rec_free(r);
				return mxs_fail(err, errlen, "key too long");
			}
			memcpy(key, f, kl);
			key[kl] = '\0';
			if (rec_get(r, key)) {
				free(val);
				rec_free(r);
				return mxs_fail(err, errlen, "key '%s' given twice", key);
			}
			rec_set(r, key, val);
		}
		free(val);
		f += len;
		if (*f == '\t')
			f++;
	}
	return 0;
}

/* The whole of a (small) file: 0, or a negative errno. */
static int read_all(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t cap = 4096;
	ssize_t r = 0;

	*len = 0;
	if (fd < 0)
		return -errno;
	*buf = malloc(cap + 1);
	while (*buf && (r = read(fd, *buf + *len, cap - *len)) > 0) {
		*len += r;
		if (*len == cap) {
			char *nb = realloc(*buf, 2 * cap + 1);

			if (!nb) {
				free(*buf);
				*buf = NULL;
				break;
			}
			*buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (!*buf)
		return -ENOMEM;
	if (r < 0) {
		int e = -errno;

		free(*buf);
		return e;
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* The header line of a version 2 state file: the CRC and length of what
 * follows it. Version 1 (no checksum) and hand-written files are read as
 * they are; an empty file is damage (every version writes a header). */
#define SF_HEAD "# mxshield state v2 crc32="

/* The records of @line[0..n) (modified in place), lines numbered from 1
 * for errors "@what:LINE: reason". */
static int parse_body(char *line, size_t n_all, const char *what, struct recfile *f,
		      char *err, size_t errlen)
{
	char *end = line + n_all, *next, lerr[200];
	int lineno = 0;

	for (; line < end; line = next) {
		char *nl = memchr(line, '\n', end - line);
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		struct rec r;

		next = line + n + 1;
		lineno++;
		if (memchr(line, '\0', n)) {
			mxs_fail(err, errlen, "%s:%d: NUL byte: damaged", what, lineno);
			goto bad;
		}
		line[n] = '\0';
		while (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (state_parse_line(line, &r, lerr, sizeof(lerr))) {
			mxs_fail(err, errlen, "%s:%d: %s", what, lineno, lerr);
			goto bad;
		}
		r.line = lineno;
		*recfile_add(f) = r;
	}
	return 0;
bad:
	recfile_free(f);
	return -1;
}

int state_read(const char *path, struct recfile *f, char *err, size_t errlen)
{
	char *buf = NULL, *line;
	size_t len = 0;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = read_all(path, &buf, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return mxs_fail(err, errlen, "%s: %s", path, strerror(-rc));
	if (!len) {
		free(buf);
		return mxs_fail(err, errlen, "%s: empty, where every version writes a header line: "
				"damaged", path);
	}
	line = buf;
	if (!strncmp(buf, SF_HEAD, strlen(SF_HEAD))) {
		unsigned int want = 0;
		size_t body = 0;
		char *nl = memchr(buf, '\n', len);

		if (!nl || sscanf(buf + strlen(SF_HEAD), "%8x bytes=%zu", &want, &body) != 2 ||
		    body != len - (nl + 1 - buf) ||
		    crc32_z(crc32_z(0, NULL, 0), (const unsigned char *)nl + 1, body) != want) {
			free(buf);
			return mxs_fail(err, errlen, "%s: fails its checksum (cut short, or "
					"changed by hand): damaged", path);
		}
	}
	if (parse_body(line, buf + len - line, path, f, err, errlen)) {
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int recfile_parse(const char *text, size_t len, const char *what, struct recfile *f,
		  char *err, size_t errlen)
{
	char *buf = malloc(len + 1);
	int rc;

	memset(f, 0, sizeof(*f));
	if (!buf)
		return mxs_fail(err, errlen, "%s: out of memory", what);
	memcpy(buf, text, len);
	buf[len] = '\0';
	rc = parse_body(buf, len, what, f, err, errlen);
	free(buf);
	return rc;
}

static void put_escaped(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\t')
			fputs("\\t", fp);
		else if (*s == '\n')
			fputs("\\n", fp);
		else if (*s == '\\')
			fputs("\\\\", fp);
		else
			fputc(*s, fp);
	}
}

int fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY), rc = 0;

	free(copy);
	if (fd < 0)
		return -1;
	if (fsync(fd))
		rc = -1;
	close(fd);
	return rc;
}

/* A state directory the admin made group-readable (for the policy service
 * running as an unprivileged user, `policy serve --user`) keeps its files
 * readable by that group: every rewrite is a new file, so its mode and
 * group come from the directory, not from the file it replaces. */
void state_share_with_dir_group(int fd, const char *path)
{
	char *copy = xstrdup(path);
	struct stat st;

	if (!stat(dirname(copy), &st) && (st.st_mode & S_IRGRP) &&
	    !fchown(fd, -1, st.st_gid))
		fchmod(fd, 0640);
	free(copy);
}

/* Create a new temporary file beside PATH (O_EXCL and O_NOFOLLOW: never
 * an existing file or a link someone planted), hand it to @fill, fsync,
 * rename over PATH, fsync the directory. */
static int write_via_tmp(const char *path, int (*fill)(FILE *, const void *),
			 const void *arg, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *fp;
	int fd = -1;

	for (int i = 0; i < 16 && fd < 0; i++) {
		uint32_t r;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint32_t)mxs_hash(tmp, strlen(tmp), (uint64_t)time(NULL) << 8 ^ i);

		snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%08x", path, (int)getpid(), (unsigned)r);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return mxs_fail(err, errlen, "%s: %s", tmp, strerror(errno));
	state_share_with_dir_group(fd, path);
	fp = fdopen(fd, "w");
	if (!fp) {
		close(fd);
		unlink(tmp);
		return mxs_fail(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	if (fill(fp, arg) || fflush(fp) || fsync(fileno(fp))) {
		int e = errno;

		fclose(fp);
		unlink(tmp);
		return mxs_fail(err, errlen, "%s: %s", tmp, strerror(e ? e : EIO));
	}
	if (fclose(fp)) {
		unlink(tmp);
		return mxs_fail(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return mxs_fail(err, errlen, "%s: %s", path, strerror(e));
	}
	if (fsync_parent(path))
		return mxs_fail(err, errlen, "%s: syncing its directory: %s", path,
				strerror(errno));
	return 0;
}

char *recfile_text(const struct recfile *f, size_t *len)
{
	char *body = NULL;
	FILE *mem = open_memstream(&body, len);

	if (!mem)
		return NULL;
	for (int i = 0; i < f->n; i++) {
		for (int j = 0; j < f->r[i].n; j++) {
			if (j)
				fputc('\t', mem);
			fputs(f->r[i].kv[j].k, mem);
			fputc('=', mem);
			put_escaped(mem, f->r[i].kv[j].v);
		}
		fputc('\n', mem);
	}
	if (fclose(mem)) {
		free(body);
		return NULL;
	}
	return body;
}

static int fill_recs(FILE *fp, const void *arg)
{
	size_t len = 0;
	char *body = recfile_text(arg, &len);
	int rc;

	if (!body)
		return -1;
	fprintf(fp, SF_HEAD "%08x bytes=%zu: one record a line, tab-separated key=value\n", (unsigned)crc32_z(crc32_z(0, NULL, 0),
		(const unsigned char *)body, len), len);
	rc = fwrite(body, 1, len, fp) == len && !ferror(fp) ? 0 : -1;
	free(body);
	return rc;
}

int state_write(const char *path, const struct recfile *f, char *err, size_t errlen)
{
	return write_via_tmp(path, fill_recs, f, err, errlen);
}

struct blobs {
	const struct iovec *iov;
	int n;
};

static int fill_blobs(FILE *fp, const void *arg)
{
	const struct blobs *b = arg;

	for (int i = 0; i < b->n; i++)
		if (fwrite(b->iov[i].iov_base, 1, b->iov[i].iov_len, fp) != b->iov[i].iov_len)
			return -1;
	return 0;
}

int atomic_write(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
	struct iovec one = { (void *)buf, len };

	return atomic_writev(path, &one, 1, err, errlen);
}

int atomic_writev(const char *path, const struct iovec *iov, int n, char *err, size_t errlen)
{
	struct blobs b = { iov, n };

	return write_via_tmp(path, fill_blobs, &b, err, errlen);
}

int state_salvage(const char *path, struct recfile *f, int *lost, int *lines)
{
	char *buf = NULL, *line, *next, lerr[200];
	size_t len = 0;
	int lineno = 0, rc;

	memset(f, 0, sizeof(*f));
	*lost = 0;
	rc = read_all(path, &buf, &len);
	if (rc)
		return rc == -ENOENT ? 0 : -1;
	for (line = buf; line < buf + len; line = next) {
		char *nl = memchr(line, '\n', buf + len - line);
		size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
		struct rec r;

		next = line + n + 1;
		lineno++;
		line[n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (strlen(line) != n || !nl || state_parse_line(line, &r, lerr, sizeof(lerr))) {
			if (*lost < 16)
				lines[*lost] = lineno;
			(*lost)++;
			continue;
		}
		r.line = lineno;
		*recfile_add(f) = r;
	}
	free(buf);
	return 0;
}

/* ---------------------------------------------- state files of a controller */

int ctl_read(const struct ctl *c, const char *name, struct recfile *f)
{
	char p[PATH_MAX], err[PATH_MAX + 256];

	state_path(c, name, p, sizeof(p));
	if (state_read(p, f, err, sizeof(err)))
		return ctl_err("%s", err);
	return 0;
}

int ctl_write(const struct ctl *c, const char *name, const struct recfile *f)
{
	char p[PATH_MAX], err[PATH_MAX + 256];

	if (c->readonly)
		return ctl_err("internal error: a read-only command asked to write %s", name);
	state_path(c, name, p, sizeof(p));
	if (state_write(p, f, err, sizeof(err)))
		return ctl_err("writing state: %s", err);
	return 0;
}

