/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/fetch.c: one download of a feed into a file, over libcurl.
 *
 * What a feed needs from a download, and nothing more:
 *  - conditional (http, https): the ETag of the last good copy goes out
 *    as If-None-Match, or without one its Last-Modified as
 *    If-Modified-Since; a 304 is FETCH_SAME and writes nothing (a local
 *    path compares its size, inode and mtime; a file:// URL is read
 *    whole each time);
 *  - bounded: a connect timeout, a total timeout, and a size limit on the
 *    body as it comes; a body past the limit aborts the transfer;
 *  - whole or an error: a short body (Content-Length not reached, a
 *    chunked stream cut) is an error, never a short file called good;
 *  - gzip Content-Encoding asked for and written as it came (not decoded
 *    here): the file is gzip then, and core/input.c verifies it whole
 *    when it is read (every member's CRC-32 and length), which catches a
 *    compressed stream cut short on a connection that just closes;
 *  - TLS always verified (peer and host name; there is no switch to turn
 *    it off), against the system's CAs or @cacert for a private CA;
 *  - http, https and file URLs, or a local path (read directly, with the
 *    file's mtime as its Last-Modified). Redirects are followed (at most
 *    5), never from https to anything but https.
 */
#ifndef MXS_FETCH_H
#define MXS_FETCH_H

#include <stdint.h>

struct fetch_req {
	const char *url;	/* http(s):// or file:// URL, or a local path */
	const char *out;	/* the file to write (created or truncated, fsync'd) */
	const char *etag;	/* of the copy held, or NULL: no conditional */
	int64_t last_modified;	/* of the copy held (unix seconds), 0: none */
	long timeout;		/* seconds for the whole transfer (connect: at most 30) */
	uint64_t max_size;	/* bytes of the body; 0: no limit */
	const char *cacert;	/* CA certificates (PEM file), NULL: the system's */
};

struct fetch_res {
	long code;		/* the HTTP status (0 for file) */
	char etag[256];		/* of what was fetched ("" when none) */
	int64_t last_modified;	/* the same (0 when unknown) */
	uint64_t bytes;		/* written to req->out */
	char err[512];		/* why it failed */
};

enum { FETCH_FAIL = -1, FETCH_SAME = 0, FETCH_NEW = 1 };

/* Is @url one fetch() takes by its scheme (http, https, file), as opposed
 * to a local path? */
int fetch_is_url(const char *url);
/* FETCH_NEW (req->out holds the body), FETCH_SAME (unchanged: req->out is
 * not written), or FETCH_FAIL with res->err (req->out may hold a part:
 * the caller removes it). */
int fetch(const struct fetch_req *req, struct fetch_res *res);

#endif
