// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One download of a feed into a file (fetch.h says what it guarantees). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "fetch.h"

#define FETCH_CONNECT_MAX 30	/* seconds: connecting takes no longer */
#define FETCH_REDIRECTS 5

static int fail(struct fetch_res *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct fetch_res *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
	return FETCH_FAIL;
}

int fetch_is_url(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8) ||
	       !strncasecmp(url, "file://", 7);
}

static int open_out(const struct fetch_req *req, struct fetch_res *res)
{
	int fd = open(req->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail(res, "%s: %s", req->out, strerror(errno));
	return fd;
}

static int finish_out(int fd, const struct fetch_req *req, struct fetch_res *res)
{
	if (fsync(fd) || close(fd))
		return fail(res, "%s: %s", req->out, strerror(errno));
	return FETCH_NEW;
}

/* ---------------------------------------------------------- a local file */

/* The file's identity stands in for an ETag: size, inode and mtime in
 * nanoseconds. A file replaced by another (rename) or rewritten in place
 * has another. */
static int fetch_path(const struct fetch_req *req, struct fetch_res *res)
{
	char buf[65536];
	struct stat st;
	int in, out, rc;
	ssize_t n;

	in = open(req->url, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail(res, "%s: %s", req->url, strerror(errno));
	if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
		close(in);
		return fail(res, "%s: not a regular file", req->url);
	}
	snprintf(res->etag, sizeof(res->etag), "\"file-%llx-%llx-%llx.%09lx\"",
		 (unsigned long long)st.st_size, (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	res->last_modified = st.st_mtim.tv_sec;
	if (req->etag && !strcmp(req->etag, res->etag)) {
		close(in);
		return FETCH_SAME;
	}
	if (req->max_size && (uint64_t)st.st_size > req->max_size) {
		close(in);
		return fail(res, "%s: %llu bytes, more than the size limit (%llu)", req->url,
			    (unsigned long long)st.st_size, (unsigned long long)req->max_size);
	}
	out = open_out(req, res);
	if (out < 0) {
		close(in);
		return FETCH_FAIL;
	}
	rc = FETCH_NEW;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		res->bytes += n;
		if (req->max_size && res->bytes > req->max_size) {
			rc = fail(res, "%s: grew past the size limit (%llu bytes) while read",
				  req->url, (unsigned long long)req->max_size);
			break;
		}
		if (write(out, buf, n) != n) {
			rc = fail(res, "%s: %s", req->out, strerror(errno));
			break;
		}
	}
	if (n < 0)
		rc = fail(res, "%s: %s", req->url, strerror(errno));
	close(in);
	if (rc != FETCH_NEW) {
		close(out);
		return rc;
	}
	return finish_out(out, req, res);
}

/* ------------------------------------------------------------------ curl */

struct xfer {
	const struct fetch_req *req;
	struct fetch_res *res;
	int fd;
	bool oversize, werr;
	int werrno;
	char encoding[64];	/* Content-Encoding of the last response */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb, done = 0;

	if (x->req->max_size && x->res->bytes + len > x->req->max_size) {
		x->oversize = true;
		return 0;	/* CURLE_WRITE_ERROR: the transfer stops */
	}
	while (done < len) {
		ssize_t n = write(x->fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			x->werr = true;
			x->werrno = errno;
			return 0;
		}
		done += n;
	}
	x->res->bytes += len;
	return len;
}

/* The ETag of the last response (a redirect's headers come first: a new
 * status line forgets what came before). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb, vl;
	const char *v;

	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		x->res->etag[0] = '\0';
		x->encoding[0] = '\0';
	} else if (len > 17 && !strncasecmp(p, "Content-Encoding:", 17)) {
		v = p + 17;
		vl = len - 17;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		snprintf(x->encoding, sizeof(x->encoding), "%.*s", (int)vl, v);
	} else if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
		v = p + 5;
		vl = len - 5;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		/* an ETag goes back in a header: no control bytes, and it fits */
		if (vl < sizeof(x->res->etag) && !memchr(v, '\r', vl) && !memchr(v, '\n', vl))
			snprintf(x->res->etag, sizeof(x->res->etag), "%.*s", (int)vl, v);
	}
	return len;
}

static int fetch_curl(const struct fetch_req *req, struct fetch_res *res)
{
	struct xfer x = { .req = req, .res = res, .fd = -1 };
	struct curl_slist *hdr = NULL;
	char cerr[CURL_ERROR_SIZE] = "", inm[300];
	bool https = !strncasecmp(req->url, "https://", 8);
	bool http = https || !strncasecmp(req->url, "http://", 7);
	curl_off_t ftime = -1;
	long timeout = req->timeout > 0 ? req->timeout : 60;
	CURLcode cc;
	CURL *h;
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return fail(res, "libcurl: initialisation failed");
	h = curl_easy_init();
	if (!h)
		return fail(res, "libcurl: out of memory");
	x.fd = open_out(req, res);
	if (x.fd < 0) {
		curl_easy_cleanup(h);
		return FETCH_FAIL;
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
	/* never downgraded by a redirect: https goes to https only */
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)FETCH_REDIRECTS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < FETCH_CONNECT_MAX ? timeout :
			 (long)FETCH_CONNECT_MAX);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, req->cacert);
	/*
	 * gzip Content-Encoding asked for, and NOT decoded here: the body is
	 * written as it came, and core/input.c reads the file, gzip or not,
	 * verifying every member's trailer (CRC-32, length). libcurl's own
	 * decoder takes a gzip stream that stops short, on a connection that
	 * simply closes, for a whole body.
	 */
	hdr = curl_slist_append(hdr, "Accept-Encoding: gzip");
	curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (req->max_size)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_size);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mxshield/" MXS_VERSION " (feed)");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	/*
	 * The validators go out as headers of our own, If-None-Match before
	 * If-Modified-Since (RFC 9110 13.1.3: a server that knows ETags
	 * ignores the date then). Not CURLOPT_TIMECONDITION: with it libcurl
	 * drops a 200's body whose Last-Modified is not newer than the date
	 * sent, and a copy changed within the same second as the one held
	 * would pass for unchanged.
	 */
	if (http && req->etag && *req->etag) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", req->etag);
		hdr = curl_slist_append(hdr, inm);
	} else if (http && req->last_modified > 0) {
		time_t t = (time_t)req->last_modified;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(inm, sizeof(inm), "If-Modified-Since: %a, %d %b %Y %H:%M:%S GMT", &tm);
		hdr = curl_slist_append(hdr, inm);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->code);
	curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ftime);
	res->last_modified = ftime > 0 ? (int64_t)ftime : 0;

	if (x.oversize)
		rc = fail(res, "%s: the body passed the size limit (%llu bytes): transfer "
			  "aborted", req->url, (unsigned long long)req->max_size);
	else if (x.werr)
		rc = fail(res, "%s: %s", req->out, strerror(x.werrno));
	else if (cc == CURLE_FILESIZE_EXCEEDED)
		rc = fail(res, "%s: larger than the size limit (%llu bytes): not fetched",
			  req->url, (unsigned long long)req->max_size);
	else if (cc == CURLE_PARTIAL_FILE)
		rc = fail(res, "%s: truncated: the body ended after %llu bytes, short of its "
			  "announced length", req->url, (unsigned long long)res->bytes);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		rc = fail(res, "%s: timed out after %ld s (%llu bytes received)", req->url,
			  timeout, (unsigned long long)res->bytes);
	else if (cc != CURLE_OK)
		rc = fail(res, "%s: %s", req->url, *cerr ? cerr : curl_easy_strerror(cc));
	else if (http && res->code == 304)
		rc = FETCH_SAME;
	else if (http && res->code != 200)
		rc = fail(res, "%s: HTTP %ld", req->url, res->code);
	else if (*x.encoding && strcasecmp(x.encoding, "gzip") && strcasecmp(x.encoding, "x-gzip") &&
		 strcasecmp(x.encoding, "identity"))
		rc = fail(res, "%s: Content-Encoding %s, not asked for (gzip is)", req->url,
			  x.encoding);
	else
		rc = FETCH_NEW;
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (rc != FETCH_NEW) {
		close(x.fd);
		return rc;
	}
	return finish_out(x.fd, req, res);
}

int fetch(const struct fetch_req *req, struct fetch_res *res)
{
	memset(res, 0, sizeof(*res));
	if (fetch_is_url(req->url))
		return fetch_curl(req, res);
	if (strstr(req->url, "://"))
		return fail(res, "%s: only http, https and file URLs are fetched", req->url);
	return fetch_path(req, res);
}
