/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/httpd.c: a small HTTP server for one document (the metrics), over
 * libmicrohttpd, that runs in its caller's loop: one fd to poll, no thread.
 *
 *   GET or HEAD of the path   200 and the body the callback writes
 *   another path              404
 *   another method            405 (Allow: GET, HEAD)
 *
 * The listening socket comes from the caller: bound by httpd_listen(), or
 * passed by systemd (httpd_activated(), socket activation).
 */
#ifndef MXS_HTTPD_H
#define MXS_HTTPD_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

struct httpd;

/* Writes the document to @out; its return value is not the status: the
 * document is served as written (a part it could not read says so in
 * the document itself). */
typedef int (*httpd_body_fn)(FILE *out, void *arg);

/* A TCP socket listening on "ADDR:PORT" or "[IPV6]:PORT" (ADDR numeric or
 * a name that resolves): the fd, or -1 with err. */
int httpd_listen(const char *spec, char *err, size_t errlen);
/* Socket activation: the listening stream socket systemd passed
 * (LISTEN_FDS for this process), the one named @name when it passed
 * several (FileDescriptorName=). The fd; -1 when none was passed; -2 with
 * err when some were but none fits. */
int httpd_activated(const char *name, char *err, size_t errlen);
/* "ADDR:PORT" of a listening socket, for the log. */
void httpd_sockname(int fd, char *buf, size_t len);

/* Serve @path on @lfd (taken over: httpd_stop closes it), the document
 * of type @ctype written by @body. NULL with err on failure. */
struct httpd *httpd_start(int lfd, const char *path, const char *ctype, httpd_body_fn body,
			  void *arg, char *err, size_t errlen);
/* The fd to poll for POLLIN in the caller's loop, and how long the loop
 * may sleep at most (ms, -1: no limit); then httpd_run(). */
int httpd_fd(const struct httpd *h);
int httpd_timeout_ms(struct httpd *h);
/* Do whatever is ready (accept, read, answer, time out): never blocks
 * beyond writing one document. */
void httpd_run(struct httpd *h);
void httpd_stop(struct httpd *h);

/* The loop of a server run alone: until SIGTERM or SIGINT (SIGHUP is
 * ignored: every request reads afresh). Returns the signal number. */
int httpd_serve(struct httpd *h);

#endif
