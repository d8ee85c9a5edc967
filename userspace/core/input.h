/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Import files, line by line: a file or standard input ("-"), plain text
 * or gzip (recognised by its magic bytes, whatever the name).
 *
 * An import applies the whole file or nothing, so the reader's first job
 * is to say when the file is NOT whole:
 *  - gzip: every member must end with a trailer whose CRC-32 and length
 *    match what was inflated, and after a member only another member
 *    (its magic) or the end of the file may follow. A download cut short
 *    or a file with anything appended is an INPUT_FAIL, never an early
 *    INPUT_END. (gzgets()/gzeof() report a cut stream as a clean end.)
 *    A file named *.gz that does not start as gzip fails too.
 *  - text: a NUL byte or another control character (below 0x20 except
 *    TAB, and DEL) is a damaged or binary file, not a list; a CR is
 *    accepted only as the end of a CRLF line. Content lines must be
 *    valid UTF-8 (comment lines need not be); a UTF-8 byte order mark
 *    at the start of the file is passed over.
 */
#ifndef MXS_INPUT_H
#define MXS_INPUT_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <zlib.h>

enum {
	INPUT_FAIL = -2,	/* the input can't be read to its end: stop */
	INPUT_BAD = -1,		/* this line is refused (err); reading goes on */
	INPUT_END = 0,		/* the whole input was read (and verified) */
	INPUT_LINE = 1,		/* a content line */
};

struct input {
	const char *path;	/* as given; "-" is standard input */
	int fd;
	bool own_fd;
	bool gzip;
	long lineno;		/* of the line last returned */
	long ctl_lines;		/* lines refused for NUL/control bytes */
	int members;		/* gzip members begun */
	off_t consumed;		/* bytes read from the file (compressed) */
	char err[512];		/* "PATH:LINE: why" or "PATH: why" */

	/* private */
	size_t maxline;
	z_stream zs;
	bool zinit, member_done, raw_eof, text_eof, failed;
	unsigned char *raw;	/* bytes as read */
	size_t raw_cap, raw_len;	/* plain: raw[raw_off..raw_len) not yet moved */
	size_t raw_off;
	char *buf;		/* text: buf[beg..end) not yet returned */
	size_t cap, beg, end;
};

/* Open @path ("-" = standard input) for lines of at most @maxline bytes.
 * 0, or -1 with in->err set ("PATH: why"). */
int input_open(struct input *in, const char *path, size_t maxline);
/* The next content line: newline, CR of a CRLF, leading and trailing
 * blanks cut; blank lines and '#' comments passed over. INPUT_LINE with
 * *line (NUL-terminated, writable, valid until the next call), or
 * INPUT_END / INPUT_BAD / INPUT_FAIL (then in->err says why). */
int input_line(struct input *in, char **line);
void input_close(struct input *in);

#endif
