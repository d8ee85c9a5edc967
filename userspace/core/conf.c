// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The configuration file's syntax: [sections] and key = value lines. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"

#define CONF_MAX_LINE 4096
#define CONF_MAX_ITEMS 256

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static bool is_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static int fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
	int n = line ? snprintf(err, errlen, "%s:%d: ", path, line) :
		       snprintf(err, errlen, "%s: ", path);
	va_list ap;

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

void conf_free(struct conf *cf)
{
	for (int i = 0; i < cf->n; i++) {
		free(cf->v[i].section);
		free(cf->v[i].key);
		free(cf->v[i].value);
	}
	free(cf->v);
	cf->v = NULL;
	cf->n = 0;
}

static int add(struct conf *cf, const char *sec, const char *key, const char *val, int line)
{
	struct conf_item *it;

	if (!(cf->n % 16)) {
		void *v = realloc(cf->v, (cf->n + 16) * sizeof(*cf->v));

		if (!v)
			return -1;
		cf->v = v;
	}
	it = &cf->v[cf->n];
	it->section = strdup(sec);
	it->key = strdup(key);
	it->value = strdup(val);
	it->line = line;
	cf->n++;
	return it->section && it->key && it->value ? 0 : -1;
}

int conf_read(const char *path, struct conf *cf, char *err, size_t errlen)
{
	char *buf = NULL, sec[64] = "";
	char seen[32][64];
	int nseen = 0, line = 0;
	size_t cap = 0;
	ssize_t len;
	FILE *f = fopen(path, "re");

	memset(cf, 0, sizeof(*cf));
	if (!f)
		return fail(err, errlen, path, 0, "%s", strerror(errno));
	while ((len = getline(&buf, &cap, f)) >= 0) {
		char *s, *eq, *key, *val;

		line++;
		if (len > CONF_MAX_LINE) {
			fail(err, errlen, path, line, "line longer than %d bytes", CONF_MAX_LINE);
			goto bad;
		}
		if (memchr(buf, '\0', len)) {
			fail(err, errlen, path, line, "NUL byte: not a text file");
			goto bad;
		}
		s = trim(buf);
		if (!*s || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || end[1]) {
				fail(err, errlen, path, line, "expected [section], got '%s'", s);
				goto bad;
			}
			*end = '\0';
			s = trim(s + 1);
			if (!is_word(s) || strlen(s) >= sizeof(sec)) {
				fail(err, errlen, path, line, "'[%s]': a section name is lower-case "
				     "letters, digits and _", s);
				goto bad;
			}
			for (int i = 0; i < nseen; i++)
				if (!strcmp(seen[i], s)) {
					fail(err, errlen, path, line, "section [%s] twice (keep one)", s);
					goto bad;
				}
			if (nseen < 32)
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", s);
			snprintf(sec, sizeof(sec), "%s", s);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			fail(err, errlen, path, line, "expected 'key = value', got '%s'", s);
			goto bad;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (!is_word(key)) {
			fail(err, errlen, path, line, "'%s': a key is lower-case letters, digits and _",
			     key);
			goto bad;
		}
		if (!*val) {
			fail(err, errlen, path, line, "%s: no value (leave the line out for the "
			     "default)", key);
			goto bad;
		}
		for (int i = 0; i < cf->n; i++)
			if (!strcmp(cf->v[i].section, sec) && !strcmp(cf->v[i].key, key)) {
				fail(err, errlen, path, line, "%s%s%s given twice (first on line %d)",
				     *sec ? sec : "", *sec ? "." : "", key, cf->v[i].line);
				goto bad;
			}
		if (cf->n >= CONF_MAX_ITEMS) {
			fail(err, errlen, path, line, "more than %d settings", CONF_MAX_ITEMS);
			goto bad;
		}
		if (add(cf, sec, key, val, line)) {
			fail(err, errlen, path, line, "out of memory");
			goto bad;
		}
	}
	if (ferror(f)) {
		fail(err, errlen, path, 0, "read error");
		goto bad;
	}
	free(buf);
	fclose(f);
	return 0;
bad:
	free(buf);
	fclose(f);
	conf_free(cf);
	return -1;
}
