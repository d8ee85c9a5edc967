// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Postfix's log, followed line by line: a file, or the journal (logtail.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>
#include "../core/parse.h"
#include "logtail.h"

#define LINE_MAX_BYTES 16384

struct logtail {
	char path[PATH_MAX];
	int ifd, fd;			/* inotify; the file (-1: none yet) */
	dev_t dev;
	ino_t ino;
	off_t pos;
	char buf[LINE_MAX_BYTES + 1];
	size_t len;			/* a partial line held */
	bool cut;			/* skipping the rest of a line too long */
	uint64_t rotations, truncations;
};

/* Open the file at the path: at its end (@at_end), or its start (a file
 * that replaced the one read: all of it is new). */
static void tail_reopen(struct logtail *t, bool at_end)
{
	struct stat st;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->len = 0;
	t->cut = false;
	if (fd < 0)
		return;
	if (fstat(fd, &st)) {
		close(fd);
		return;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->pos = at_end ? st.st_size : 0;
}

struct logtail *logtail_open(const char *path, char *err, size_t errlen)
{
	struct logtail *t = calloc(1, sizeof(*t));
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!t) {
		mxs_fail(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(dir, sizeof(dir), "%.*s", !slash ? 1 : slash == path ? 1 : (int)(slash - path),
		 !slash ? "." : path);
	t->fd = -1;
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	/* the directory: the file written (IN_MODIFY), a new one renamed or
	 * created in (postfix logrotate, logrotate's create) */
	if (t->ifd < 0 || inotify_add_watch(t->ifd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO |
					    IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE) < 0) {
		mxs_fail(err, errlen, "%s: watching %s: %s", path, dir, strerror(errno));
		logtail_close(t);
		return NULL;
	}
	tail_reopen(t, true);
	return t;
}

int logtail_fd(const struct logtail *t)
{
	return t->ifd;
}

/* Split what was read into lines for @fn. */
static long tail_lines(struct logtail *t, const char *p, size_t n, logtail_fn fn, void *arg)
{
	long lines = 0;

	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!t->cut) {
			size_t room = LINE_MAX_BYTES - t->len;

			memcpy(t->buf + t->len, p, take < room ? take : room);
			t->len += take < room ? take : room;
			if (take > room)
				t->cut = true;	/* the head is kept, the rest skipped */
		}
		if (!nl)
			break;
		t->buf[t->len] = '\0';
		fn(t->buf, arg);
		lines++;
		t->len = 0;
		t->cut = false;
		p = nl + 1;
		n -= take + 1;
	}
	return lines;
}

static long tail_drain(struct logtail *t, logtail_fn fn, void *arg)
{
	char chunk[65536];
	long lines = 0;
	ssize_t n;

	if (t->fd < 0)
		return 0;
	while ((n = pread(t->fd, chunk, sizeof(chunk), t->pos)) > 0) {
		t->pos += n;
		lines += tail_lines(t, chunk, n, fn, arg);
	}
	return lines;
}

long logtail_read(struct logtail *t, logtail_fn fn, void *arg)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;
	long lines;

	while (read(t->ifd, ev, sizeof(ev)) > 0)
		;	/* the events only wake us: the file says what changed */
	if (t->fd < 0) {
		tail_reopen(t, false);	/* came into being since: all of it is new */
		return tail_drain(t, fn, arg);
	}
	lines = tail_drain(t, fn, arg);
	if (stat(t->path, &st)) {
		return lines;	/* renamed away, nothing new yet: keep the old one open */
	} else if (st.st_dev != t->dev || st.st_ino != t->ino) {
		/* rotated: the rest of the old file was read above */
		t->rotations++;
		tail_reopen(t, false);
		lines += tail_drain(t, fn, arg);
	} else if (st.st_size < t->pos) {
		/* truncated in place (copytruncate): what is there now is new */
		t->truncations++;
		t->pos = 0;
		t->len = 0;
		t->cut = false;
		lines += tail_drain(t, fn, arg);
	}
	return lines;
}

void logtail_counts(const struct logtail *t, uint64_t *rotations, uint64_t *truncations)
{
	*rotations = t->rotations;
	*truncations = t->truncations;
}

void logtail_close(struct logtail *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	if (t->ifd >= 0)
		close(t->ifd);
	free(t);
}

/* ----------------------------------------------------------- the journal */

struct journaltail {
	sd_journal *j;
	int fd;
};

static const char *const smtpd_idents[] = {
	"SYSLOG_IDENTIFIER=postfix/smtpd",
	"SYSLOG_IDENTIFIER=postfix/submission/smtpd",
	"SYSLOG_IDENTIFIER=postfix/smtps/smtpd",
};

struct journaltail *journaltail_open(const char *dir, char *err, size_t errlen)
{
	struct journaltail *jt = calloc(1, sizeof(*jt));
	int r;

	if (!jt) {
		mxs_fail(err, errlen, "out of memory");
		return NULL;
	}
	r = dir ? sd_journal_open_directory(&jt->j, dir, 0) :
		sd_journal_open(&jt->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		mxs_fail(err, errlen, "opening the journal%s%s: %s", dir ? " in " : "",
			 dir ? dir : "", strerror(-r));
		free(jt);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(smtpd_idents) / sizeof(smtpd_idents[0]) && r >= 0; i++)
		r = sd_journal_add_match(jt->j, smtpd_idents[i], 0);
	/* from now on: the tail, and one back so that next() is the first new;
	 * an empty journal from its head (all of it will be new) */
	if (r >= 0)
		r = sd_journal_seek_tail(jt->j);
	if (r >= 0)
		r = sd_journal_previous(jt->j);
	if (r == 0)
		r = sd_journal_seek_head(jt->j);
	if (r >= 0)
		r = jt->fd = sd_journal_get_fd(jt->j);
	if (r < 0) {
		mxs_fail(err, errlen, "the journal: %s", strerror(-r));
		journaltail_close(jt);
		return NULL;
	}
	return jt;
}

int journaltail_fd(const struct journaltail *j)
{
	return j->fd;
}

long journaltail_read(struct journaltail *jt, logtail_fn fn, void *arg)
{
	long n = 0;
	const void *d;
	size_t len;
	char msg[LINE_MAX_BYTES + 1];

	sd_journal_process(jt->j);	/* takes the fd's event, follows new files */
	while (sd_journal_next(jt->j) > 0) {
		if (sd_journal_get_data(jt->j, "MESSAGE", &d, &len) < 0 || len < 8)
			continue;
		len -= 8;	/* "MESSAGE=" */
		if (len > LINE_MAX_BYTES)
			len = LINE_MAX_BYTES;
		memcpy(msg, (const char *)d + 8, len);
		msg[len] = '\0';
		fn(msg, arg);
		n++;
	}
	return n;
}

void journaltail_close(struct journaltail *jt)
{
	if (!jt)
		return;
	if (jt->j)
		sd_journal_close(jt->j);
	free(jt);
}
