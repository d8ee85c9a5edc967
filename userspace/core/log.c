// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The log of the long-running commands: journal, syslog or standard error
 * (core/log.h). Each message is formatted once, then written whole with
 * one call, so that lines of two threads (the policy service's SPF
 * threads log too) never mix.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>
#include "log.h"

#define LOG_LINE 2048

static enum log_target target = LOG_TO_STDERR;
static const char *ident = "mxshield";
static bool syslog_open;

bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

int log_parse_target(const char *s, enum log_target *t, char *err, size_t errlen)
{
	if (!strcmp(s, "auto")) {
		if (isatty(STDERR_FILENO))
			*t = LOG_TO_STDERR;
		else if (log_stderr_is_journal())
			*t = LOG_TO_JOURNAL;
		else
			*t = LOG_TO_SYSLOG;
	} else if (!strcmp(s, "stderr")) {
		*t = LOG_TO_STDERR;
	} else if (!strcmp(s, "syslog")) {
		*t = LOG_TO_SYSLOG;
	} else if (!strcmp(s, "journal")) {
		*t = LOG_TO_JOURNAL;
	} else {
		snprintf(err, errlen, "'%s': expected auto, journal, syslog or stderr", s);
		return -1;
	}
	return 0;
}

const char *log_target_name(enum log_target t)
{
	return t == LOG_TO_JOURNAL ? "journal" : t == LOG_TO_SYSLOG ? "syslog" : "stderr";
}

void log_open(enum log_target t, const char *id)
{
	target = t;
	ident = id;
	if (t == LOG_TO_SYSLOG && !syslog_open) {
		/* LOG_NDELAY: the socket is open before a privilege drop or a
		 * chroot could make /dev/log unreachable */
		openlog(id, LOG_PID | LOG_NDELAY, LOG_MAIL);
		syslog_open = true;
	}
}

enum log_target log_current(void)
{
	return target;
}

static void to_stderr(int prio, const char *msg)
{
	char line[LOG_LINE + 64];
	int n;

	if (log_stderr_is_journal()) {
		/* sd-daemon(3)'s level prefix; the journal adds the time */
		n = snprintf(line, sizeof(line), "<%d>%s\n", prio, msg);
	} else {
		char ts[32];
		time_t t = time(NULL);
		struct tm tm;

		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
		n = snprintf(line, sizeof(line), "%s %s: %s\n", ts, ident, msg);
	}
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1, line[n - 1] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

static void emit(int prio, const char *msg, const char *const *fields, int nf)
{
	if (target == LOG_TO_JOURNAL) {
		struct iovec iov[4 + 16];
		char p[32], m[LOG_LINE + 16], id[80];
		int n = 0;

		snprintf(p, sizeof(p), "PRIORITY=%d", prio);
		snprintf(m, sizeof(m), "MESSAGE=%s", msg);
		snprintf(id, sizeof(id), "SYSLOG_IDENTIFIER=%s", ident);
		iov[n++] = (struct iovec){ m, strlen(m) };
		iov[n++] = (struct iovec){ p, strlen(p) };
		iov[n++] = (struct iovec){ "SYSLOG_FACILITY=2", 17 };	/* LOG_MAIL >> 3 */
		iov[n++] = (struct iovec){ id, strlen(id) };
		for (int i = 0; i < nf && i < 16; i++)
			iov[n++] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
		/* no journal (not running, not reachable): standard error still
		 * tells, rather than nothing */
		if (sd_journal_sendv(iov, n) < 0)
			to_stderr(prio, msg);
	} else if (target == LOG_TO_SYSLOG) {
		syslog(prio, "%s", msg);
	} else {
		to_stderr(prio, msg);
	}
}

void log_print(int prio, const char *fmt, ...)
{
	char msg[LOG_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(prio, msg, NULL, 0);
}

void log_fields(int prio, const char *msg, const char *const *fields, int nfields)
{
	char line[LOG_LINE];
	size_t n;

	if (target == LOG_TO_JOURNAL) {
		emit(prio, msg, fields, nfields);
		return;
	}
	n = snprintf(line, sizeof(line), "%s", msg);
	for (int i = 0; i < nfields && n < sizeof(line); i++) {
		const char *eq = strchr(fields[i], '=');
		int kl = eq ? (int)(eq - fields[i]) : (int)strlen(fields[i]);

		n += snprintf(line + n, sizeof(line) - n, " ");
		for (int k = 0; k < kl && n + 1 < sizeof(line); k++)
			line[n++] = tolower((unsigned char)fields[i][k]);
		line[n < sizeof(line) ? n : sizeof(line) - 1] = '\0';
		if (eq && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, "%s", eq);
	}
	emit(prio, line, NULL, 0);
}
