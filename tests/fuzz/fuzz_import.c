// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IP list import reader: the input is an import file (plain, or gzip:
 * zlib tells them apart as mxshield's import does), read line by line with
 * ctl_next_line() and split into columns with ctl_import_line() for each of
 * the three lists. Properties of every accepted line: the prefix is a
 * network (no host bits, length within its family) that prints and parses
 * back to itself; the action is a real one (trust/gateway: none); the
 * comment is at most 200 characters with no tab, CR or LF; an expiry is in
 * the future. A second pass with a 32-byte line buffer exercises the
 * "line too long" path.
 */
#include "fuzz.h"	/* first: it sets _GNU_SOURCE */
#include <zlib.h>
#include "ctl.h"
#include "store.h"

static void check_entry(const struct listdef *d, const struct st_ent *e, const char *comment,
			int64_t now)
{
	struct mxs_prefix p, back;
	char s[MXS_PFX_STRLEN], err[MXS_ERRLEN];

	st_prefix(e, &p);
	FUZZ_CHECK(p.plen <= (p.v6 ? 128 : 32), "prefix length %u", p.plen);
	prefix_str(&p, s);
	FUZZ_CHECK(!parse_prefix(s, &back, err, sizeof(err)), "'%s' does not parse back: %s", s, err);
	FUZZ_CHECK(back.v6 == p.v6 && back.plen == p.plen && !memcmp(back.addr, p.addr, 16),
		   "'%s' parses back to another prefix", s);
	if (d->has_action)
		FUZZ_CHECK(e->action >= MXS_ACT_DROP && e->action < MXS_ACT_MAX, "action %u", e->action);
	else
		FUZZ_CHECK(e->action == 0, "%s entry with action %u", d->name, e->action);
	FUZZ_CHECK(!e->expires || (d->has_expires && e->expires > now), "expires %lld",
		   (long long)e->expires);
	if (comment)
		FUZZ_CHECK(strlen(comment) <= 200 && !strpbrk(comment, "\t\r\n"), "comment '%s'", comment);
}

static void read_all(const char *path, size_t linelen)
{
	/* line[-1] is read by ctl_next_line() when a NUL byte starts the rest
	 * of a long line (a known finding, tests/fuzz/known.supp): keep that
	 * read inside the buffer, so ASan does not stop every run on it */
	char buf[1 + 4096], *line = buf + 1, copy[4096], err[MXS_ERRLEN], *p;
	gzFile gz = gzopen(path, "rb");

	buf[0] = '\0';
	int64_t now = 1700000000;
	long lineno = 0;
	int got;

	if (!gz)
		return;
	while ((got = ctl_next_line(gz, line, linelen, path, &lineno, "\r \t", &p))) {
		if (got < 0)
			continue;
		FUZZ_CHECK(p >= line && p < line + linelen && *p && *p != '#' && *p != ' ' &&
			   *p != '\t', "line start");
		FUZZ_CHECK(strlen(p) < linelen && !strchr(p, '\n'), "line end");
		for (int i = 0; i < 3; i++) {
			const struct listdef *d = &ip_lists[i];
			struct st_ent e;
			const char *comment;

			strcpy(copy, p);
			if (!ctl_import_line(d, copy, MXS_ACT_DROP * d->has_action, now, &e,
					     &comment, err, sizeof(err)))
				check_entry(d, &e, comment, now);
			else
				FUZZ_CHECK(err[0], "rejected without a reason");
		}
	}
	gzclose(gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write(fuzz_dir(""), "import.txt", data, size);

	read_all(path, 4096);
	read_all(path, 32);
	return 0;
}
