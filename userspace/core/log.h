/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/log.c: the log of the long-running commands (`serve`, `policy
 * serve`), with syslog's levels (LOG_ERR .. LOG_DEBUG of <syslog.h>), to
 * one of:
 *  - the journal, native protocol (sd_journal_send): PRIORITY=,
 *    SYSLOG_FACILITY=2 (mail), SYSLOG_IDENTIFIER=, MESSAGE=, and the
 *    structured fields of log_fields();
 *  - syslog(3), facility LOG_MAIL, ident "mxshield";
 *  - standard error: "<N>message" lines without a timestamp when standard
 *    error is a journal stream (JOURNAL_STREAM names it: systemd adds the
 *    time and reads the level from the prefix), else "TIME IDENT: message".
 * Nothing here knows the rest of the controller.
 */
#ifndef MXS_LOG_H
#define MXS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG, LOG_TO_JOURNAL };

/* "auto" (a terminal: stderr; a journal stream: journal; else syslog),
 * "stderr", "syslog" or "journal" -> *t. 0, or -1 with err. */
int log_parse_target(const char *s, enum log_target *t, char *err, size_t errlen);
/* Log from now on to @t as @ident ("mxshield", "mxshield-policy"). */
void log_open(enum log_target t, const char *ident);
enum log_target log_current(void);
const char *log_target_name(enum log_target t);
/* Is standard error the journal stream systemd gave (JOURNAL_STREAM)? */
bool log_stderr_is_journal(void);

void log_print(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields ("KEY=value", KEY in [A-Z0-9_]): the
 * journal stores them as fields, syslog and stderr get them appended as
 * " key=value". For the drop-event log. */
void log_fields(int prio, const char *msg, const char *const *fields, int nfields);

#endif
