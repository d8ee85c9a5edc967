// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Import files, line by line (input.h). Gzip is inflated here with
 * inflate() rather than gzread(): zlib's gz* layer treats a stream that
 * stops before its trailer as a clean end of file, and it ignores
 * whatever follows the last member. Here a member counts only when
 * inflate() returns Z_STREAM_END, which it does after checking the
 * trailer's CRC-32 and length; after it, only another member or the end
 * of the file may come.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "input.h"
#include "utf8.h"

#define RAW_SIZE  (1 << 17)
#define TEXT_SIZE (1 << 18)

static int fail(struct input *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct input *in, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(in->err, sizeof(in->err), "%s: ", in->path);

	va_start(ap, fmt);
	vsnprintf(in->err + n, sizeof(in->err) - n, fmt, ap);
	va_end(ap);
	in->failed = true;
	return INPUT_FAIL;
}

static int bad(struct input *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct input *in, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(in->err, sizeof(in->err), "%s:%ld: ", in->path, in->lineno);

	va_start(ap, fmt);
	vsnprintf(in->err + n, sizeof(in->err) - n, fmt, ap);
	va_end(ap);
	return INPUT_BAD;
}

/* Read more raw bytes behind the @keep unread ones at raw[off..]: >0,
 * 0 at the end of the file, INPUT_FAIL. */
static ssize_t raw_read(struct input *in, size_t off, size_t keep)
{
	ssize_t n;

	if (off && keep)
		memmove(in->raw, in->raw + off, keep);
	in->raw_off = 0;
	in->raw_len = keep;
	do
		n = read(in->fd, in->raw + keep, in->raw_cap - keep);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(in, "read error: %s", strerror(errno));
	if (n == 0)
		in->raw_eof = true;
	in->raw_len += n;
	in->consumed += n;
	return n;
}

static int gz_damaged(struct input *in, const char *why)
{
	return fail(in, "truncated or damaged gzip stream: %s", why);
}

/* Inflate into out[0..space): bytes made (>0), 0 at the verified end of
 * the last member, INPUT_FAIL. */
static ssize_t gz_produce(struct input *in, char *out, size_t space)
{
	z_stream *zs = &in->zs;

	for (;;) {
		size_t made;
		int rc;

		if (in->member_done) {
			/* another member, or the end: nothing else */
			if (zs->avail_in < 2 && !in->raw_eof) {
				if (raw_read(in, zs->next_in - in->raw, zs->avail_in) < 0)
					return INPUT_FAIL;
				zs->next_in = in->raw;
				zs->avail_in = in->raw_len;
				continue;
			}
			if (zs->avail_in == 0)
				return 0;
			if (zs->avail_in < 2 || zs->next_in[0] != 0x1f || zs->next_in[1] != 0x8b)
				return gz_damaged(in, "data after the end of the compressed "
						  "data (not another gzip member)");
			if (inflateReset(zs) != Z_OK)
				return gz_damaged(in, "cannot restart inflating");
			in->member_done = false;
			in->members++;
		}
		if (zs->avail_in == 0 && !in->raw_eof) {
			if (raw_read(in, 0, 0) < 0)
				return INPUT_FAIL;
			zs->next_in = in->raw;
			zs->avail_in = in->raw_len;
			continue;
		}
		zs->next_out = (unsigned char *)out;
		zs->avail_out = space;
		rc = inflate(zs, Z_NO_FLUSH);
		made = space - zs->avail_out;
		switch (rc) {
		case Z_STREAM_END:	/* trailer read and checked */
			in->member_done = true;
			/* fall through */
		case Z_OK:
			if (made)
				return made;
			break;
		case Z_BUF_ERROR:	/* no progress: input exhausted */
			if (in->raw_eof && zs->avail_in == 0)
				return gz_damaged(in, in->members > 1 ?
						  "the file ends inside a later gzip member" :
						  "the file ends before the end of the compressed data");
			break;
		case Z_MEM_ERROR:
			return fail(in, "out of memory");
		default:	/* Z_DATA_ERROR (incl. CRC/length), Z_NEED_DICT */
			return gz_damaged(in, zs->msg ? zs->msg : "invalid data");
		}
	}
}

/* Plain text: what is left of the first read, then straight reads. */
static ssize_t plain_produce(struct input *in, char *out, size_t space)
{
	ssize_t n;

	if (in->raw_off < in->raw_len) {
		n = in->raw_len - in->raw_off;
		if ((size_t)n > space)
			n = space;
		memcpy(out, in->raw + in->raw_off, n);
		in->raw_off += n;
		return n;
	}
	if (in->raw_eof)
		return 0;
	do
		n = read(in->fd, out, space);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(in, "read error: %s", strerror(errno));
	if (n == 0)
		in->raw_eof = true;
	in->consumed += n;
	return n;
}

/* Append text behind buf[beg..end): >0, 0 at the end, INPUT_FAIL. */
static ssize_t fill(struct input *in)
{
	ssize_t n;

	if (in->text_eof)
		return 0;
	if (in->beg) {
		memmove(in->buf, in->buf + in->beg, in->end - in->beg);
		in->end -= in->beg;
		in->beg = 0;
	}
	/* one byte stays free for the NUL after a last line without '\n' */
	n = in->gzip ? gz_produce(in, in->buf + in->end, in->cap - 1 - in->end)
		     : plain_produce(in, in->buf + in->end, in->cap - 1 - in->end);
	if (n < 0)
		return INPUT_FAIL;
	if (n == 0)
		in->text_eof = true;
	in->end += n;
	return n;
}

static bool named_gz(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && !strcasecmp(path + n - 3, ".gz");
}

static int open_fail(struct input *in)
{
	input_close(in);
	return -1;
}

int input_open(struct input *in, const char *path, size_t maxline)
{
	memset(in, 0, sizeof(*in));
	in->path = path;
	in->maxline = maxline;
	in->fd = -1;
	in->raw_cap = RAW_SIZE;
	in->cap = TEXT_SIZE > 2 * maxline + 2 ? TEXT_SIZE : 2 * maxline + 2;
	in->raw = malloc(in->raw_cap);
	in->buf = malloc(in->cap);
	if (!in->raw || !in->buf) {
		fail(in, "out of memory");
		return open_fail(in);
	}
	if (strcmp(path, "-")) {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			fail(in, "%s", strerror(errno));
			return open_fail(in);
		}
		in->own_fd = true;
	} else {
		in->fd = 0;
	}
	/* the first two bytes decide: a pipe may hand them over one by one */
	while (in->raw_len < 2 && !in->raw_eof)
		if (raw_read(in, 0, in->raw_len) < 0)
			return open_fail(in);
	if (in->raw_len >= 2 && in->raw[0] == 0x1f && in->raw[1] == 0x8b) {
		/* 16 + MAX_WBITS: gzip only, with its header and trailer checked */
		if (inflateInit2(&in->zs, 16 + MAX_WBITS) != Z_OK) {
			fail(in, "out of memory");
			return open_fail(in);
		}
		in->zinit = true;
		in->gzip = true;
		in->members = 1;
		in->zs.next_in = in->raw;
		in->zs.avail_in = in->raw_len;
	} else if (named_gz(path)) {
		/* an HTML error page saved as list.gz, a file cut to 0 or 1 byte */
		fail(in, "truncated or damaged gzip stream: named .gz, but %s",
		     in->raw_len ? "not gzip data" : "empty");
		return open_fail(in);
	}
	in->failed = false;
	return 0;
}

void input_close(struct input *in)
{
	if (in->zinit)
		inflateEnd(&in->zs);
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	free(in->raw);
	free(in->buf);
	in->raw = NULL;
	in->buf = NULL;
	in->zinit = in->own_fd = false;
}

/* The first NUL or control byte in s[0..n) (TAB allowed), or NULL;
 * *high tells whether there are bytes above ASCII (UTF-8 to check). */
static const char *find_ctl(const char *s, size_t n, bool *high)
{
	*high = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c - 0x20u < 0x5fu)		/* printable ASCII: most bytes */
			continue;
		if (c >= 0x80)
			*high = true;
		else if (c != '\t')
			return s + i;
	}
	return NULL;
}

/* Skip the rest of an over-long line: INPUT_BAD, or INPUT_FAIL. */
static int skip_long(struct input *in)
{
	bad(in, "line too long (more than %zu bytes)", in->maxline);
	for (;;) {
		char *nl = memchr(in->buf + in->beg, '\n', in->end - in->beg);

		if (nl) {
			in->beg = nl + 1 - in->buf;
			return INPUT_BAD;
		}
		in->beg = in->end;
		if (fill(in) < 0)
			return INPUT_FAIL;
		if (in->text_eof && in->beg == in->end)
			return INPUT_BAD;
	}
}

int input_line(struct input *in, char **line)
{
	if (in->failed)
		return INPUT_FAIL;
	for (;;) {
		char *s = in->buf + in->beg, *e, *nl, *p;
		size_t have = in->end - in->beg;
		const char *ctl;
		bool high;

		nl = memchr(s, '\n', have);
		if (!nl && !in->text_eof) {
			if (have > in->maxline) {
				in->lineno++;
				return skip_long(in);
			}
			if (fill(in) < 0)
				return INPUT_FAIL;
			continue;
		}
		if (!nl && !have)
			return INPUT_END;
		in->lineno++;
		e = nl ? nl : s + have;	/* a last line without '\n' counts */
		in->beg = (nl ? nl + 1 : e) - in->buf;
		if ((size_t)(e - s) > in->maxline)
			return bad(in, "line too long (more than %zu bytes)", in->maxline);
		if (e > s && e[-1] == '\r')	/* CRLF */
			e--;
		if (in->lineno == 1 && e - s >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
			s += 3;		/* a UTF-8 byte order mark (Windows editors) */
		ctl = find_ctl(s, e - s, &high);
		if (ctl) {
			in->ctl_lines++;
			if (!*ctl)
				return bad(in, "NUL byte at column %td (a binary or damaged file?)",
					   ctl - s + 1);
			return bad(in, "control character 0x%02x at column %td", (unsigned char)*ctl,
				   ctl - s + 1);
		}
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		for (p = s; *p == ' ' || *p == '\t'; p++)
			;
		if (!*p || *p == '#')
			continue;
		if (high && utf8_bad_at(p, e - p) < (size_t)(e - p)) {
			size_t at = utf8_bad_at(p, e - p);

			return bad(in, "not valid UTF-8 (byte 0x%02x at column %td)",
				   (unsigned char)p[at], p + at - s + 1);
		}
		*line = p;
		return INPUT_LINE;
	}
}
