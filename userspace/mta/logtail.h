/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/logtail.c: Postfix's log as it is written, line by line: its
 * maillog_file followed as `tail -F` does (through a rename by `postfix
 * logrotate` or logrotate, and a truncation by copytruncate), or the
 * journal's entries of Postfix's smtpd (sd_journal).
 */
#ifndef MXS_LOGTAIL_H
#define MXS_LOGTAIL_H

#include <stddef.h>
#include <stdint.h>

typedef void (*logtail_fn)(const char *line, void *arg);

/*
 * A file: followed from its end as it is when opened (what was logged
 * before is not read again). A missing file is waited for. logtail_fd()
 * is an inotify fd on the file's directory: when it is readable, and once
 * a second in any case (a rename into another directory, or a change
 * inotify does not see), call logtail_read(). NULL, with the reason in
 * err, when the directory cannot be watched.
 */
struct logtail;
struct logtail *logtail_open(const char *path, char *err, size_t errlen);
int logtail_fd(const struct logtail *t);
/* Every complete line written since the last call, to @fn; then the
 * file's identity is checked: renamed away (a new file at the path: the
 * old one is read to its end first, the new one from its start), or
 * truncated (read from the start again). A line longer than 16 KiB is cut
 * there. Returns the lines read. */
long logtail_read(struct logtail *t, logtail_fn fn, void *arg);
/* Rotations and truncations seen. */
void logtail_counts(const struct logtail *t, uint64_t *rotations, uint64_t *truncations);
void logtail_close(struct logtail *t);

/*
 * The journal: the entries of SYSLOG_IDENTIFIER postfix/smtpd,
 * postfix/submission/smtpd and postfix/smtps/smtpd written from now on,
 * from the system's journal (@dir NULL) or from the journal files in @dir.
 * journaltail_fd() is sd_journal_get_fd()'s: readable when the journal
 * changed; then journaltail_read() passes each new entry's MESSAGE.
 */
struct journaltail;
struct journaltail *journaltail_open(const char *dir, char *err, size_t errlen);
int journaltail_fd(const struct journaltail *j);
long journaltail_read(struct journaltail *j, logtail_fn fn, void *arg);
void journaltail_close(struct journaltail *j);

#endif
