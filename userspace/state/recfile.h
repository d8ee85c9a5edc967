/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * State files: one record per line, fields separated by tabs, each field
 * "key=value" (values escape \t \n \\ as backslash sequences). Lines that
 * start with '#' and blank lines are ignored. Unknown keys are kept, so an
 * older controller never drops what a newer one wrote. Each file starts
 * with a header line carrying its length and crc32 (docs/failure-and-
 * recovery.md).
 */
#ifndef MXS_RECFILE_H
#define MXS_RECFILE_H
#include <stddef.h>

struct kv {
	char *k;
	char *v;
};

struct rec {
	struct kv *kv;
	int n;
	int line;		/* 1-based line in the file it came from */
};

struct recfile {
	struct rec *r;
	int n;
};

/* Missing file = no records. -1 with "FILE:LINE: reason" in err. */
int state_read(const char *path, struct recfile *f, char *err, size_t errlen);
/* The records of a damaged file that still parse; *lost counts the lines
 * that do not (the first 16 line numbers in lines[]). 0, or -1. */
int state_salvage(const char *path, struct recfile *f, int *lost, int *lines);
/* Atomic: temporary file in the same directory, fsync, rename, fsync dir. */
int state_write(const char *path, const struct recfile *f, char *err, size_t errlen);
/* The records as the body of a state file (no header): one record a line,
 * malloc'd, *len its length; NULL when out of memory. */
char *recfile_text(const struct recfile *f, size_t *len);
/* Parse such a body (@what names it in errors, "WHAT:LINE: reason").
 * 0, or -1 and @f empty. */
int recfile_parse(const char *text, size_t len, const char *what, struct recfile *f,
		  char *err, size_t errlen);
int state_parse_line(const char *line, struct rec *r, char *err, size_t errlen);
const char *rec_get(const struct rec *r, const char *key);
void rec_set(struct rec *r, const char *key, const char *val);
void rec_free(struct rec *r);
struct rec *recfile_add(struct recfile *f);
void recfile_del(struct recfile *f, int i);
/* Index of the first record whose @key equals @val, or -1. */
int recfile_find(const struct recfile *f, const char *key, const char *val);
void recfile_free(struct recfile *f);

/* Write a whole file atomically (used for the copied geo database too). */
int atomic_write(const char *path, const void *buf, size_t len, char *err, size_t errlen);
struct iovec;
/* A new file in a group-readable state directory: that group, mode 0640
 * (the policy service may run as a user of that group). */
void state_share_with_dir_group(int fd, const char *path);
/* fsync the directory holding @path (a rename or a new file in it). */
int fsync_parent(const char *path);
int atomic_writev(const char *path, const struct iovec *iov, int n, char *err, size_t errlen);

/* One state file of the controller's state directory: read (a missing
 * file is no records) or written atomically. 0, or 1 after an error. */
struct ctl;
int ctl_read(const struct ctl *c, const char *name, struct recfile *f);
int ctl_write(const struct ctl *c, const char *name, const struct recfile *f);

#endif
