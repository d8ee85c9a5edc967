/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/conf.c: the syntax of the configuration file (mxshield.conf), the
 * meaning is the caller's (mta/service.c):
 *
 *   # a comment (a whole line; '#' inside a value is part of it)
 *   [section]
 *   key = value
 *
 * Blank lines are skipped, spaces around keys and values trimmed; keys
 * are [a-z0-9_]; a key before any [section] is in the section "". A key
 * twice in one section, a section twice, a line that is none of these:
 * an error "FILE:LINE: reason".
 */
#ifndef MXS_CONF_H
#define MXS_CONF_H

#include <stddef.h>

struct conf_item {
	char *section, *key, *value;
	int line;
};

struct conf {
	struct conf_item *v;
	int n;
};

/* 0, or -1 with "FILE:LINE: reason" (or "FILE: reason") in err. */
int conf_read(const char *path, struct conf *cf, char *err, size_t errlen);
void conf_free(struct conf *cf);

#endif
