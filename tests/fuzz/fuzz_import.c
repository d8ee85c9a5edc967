// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IP list import reader: the input is an import file (plain, or gzip,
 * told apart by its magic as mxshield's import does), read line by line
 * with input_line() (which verifies gzip trailers and refuses control
 * bytes) and split into columns with iplist_import_line() for each of
 * the three lists. Properties of every accepted line: the prefix is a
 * network (no host bits, length within its family) that prints and parses
 * back to itself; the action is a real one (trust/gateway: none); the
 * comment is at most 200 characters with no tab, CR or LF; an expiry is in
 * the future. A second pass with a 32-byte line buffer exercises the
 * "line too long" path. Every line goes through each published format of
 * core/listfmt.c as well (detection over the first lines too): an entry
 * is a network that parses back, its comment is text of at most 200 bytes,
 * an AbuseIPDB score is 0-100 and none below the threshold passes.
 */
#include "fuzz.h"	/* first: it sets _GNU_SOURCE */
#include <zlib.h>
#include "core/ctl.h"
#include "core/json.h"
#include "filter/build.h"
#include "filter/loader.h"
#include "filter/stateview.h"
#include "state/recfile.h"
#include "state/ipstore.h"
#include "core/input.h"
#include "core/listfmt.h"
#include "core/utf8.h"
#include "cmd/iplist.h"

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

static void check_fmt_entry(const struct listfmt *lf, const struct listfmt_ent *e)
{
	struct mxs_prefix back;
	char s[MXS_PFX_STRLEN], err[MXS_ERRLEN];

	prefix_str(&e->pfx, s);
	FUZZ_CHECK(!parse_prefix(s, &back, err, sizeof(err)) && back.plen == e->pfx.plen &&
		   !memcmp(back.addr, e->pfx.addr, 16), "%s: '%s' does not parse back",
		   listfmt_names[lf->kind], s);
	FUZZ_CHECK(e->action < MXS_ACT_MAX, "action %u", e->action);
	FUZZ_CHECK(e->score >= -1 && e->score <= 100, "score %d", e->score);
	FUZZ_CHECK(lf->kind != LISTFMT_ABUSEIPDB || e->score < 0 || e->score >= lf->min_score,
		   "score %d below %d passed", e->score, lf->min_score);
	if (e->comment)
		FUZZ_CHECK(strlen(e->comment) <= LISTFMT_COMMENT_MAX &&
			   (lf->kind <= LISTFMT_CSV || !utf8_text_check("c", e->comment, err,
									 sizeof(err))),
			   "%s: comment '%s'", listfmt_names[lf->kind], e->comment);
}

/* every format over the lines of @path, each as its own file */
static void read_formats(const char *path)
{
	char *sample[16] = { 0 }, copy[8192], err[MXS_ERRLEN], *p;
	struct listfmt lf[LISTFMT_N];
	enum listfmt_kind kind;
	size_t ns = 0;
	struct input in;

	if (input_open(&in, path, 4094))
		return;
	for (int k = 1; k < LISTFMT_N; k++)
		listfmt_init(&lf[k], k, "block", true, true, 1700000000);
	lf[LISTFMT_POSTFIX_CIDR].actions = false;	/* the passing lines too */
	while (input_line(&in, &p) == INPUT_LINE) {
		if (ns < 16)
			sample[ns++] = strdup(p);
		for (int k = 1; k < LISTFMT_N; k++) {
			struct listfmt_ent e;

			snprintf(copy, sizeof(copy), "%s", p);
			if (listfmt_line(&lf[k], copy, &e, err, sizeof(err)) == LISTFMT_ENTRY)
				check_fmt_entry(&lf[k], &e);
		}
	}
	input_close(&in);
	for (int k = 1; k < LISTFMT_N; k++)
		listfmt_end(&lf[k], err, sizeof(err));
	if (!listfmt_detect((const char *const *)sample, ns, &kind, err, sizeof(err)))
		FUZZ_CHECK(kind > LISTFMT_AUTO && kind < LISTFMT_N, "detected %d", kind);
	for (size_t i = 0; i < ns; i++)
		free(sample[i]);
}

static void read_all(const char *path, size_t linelen)
{
	char copy[8192], err[MXS_ERRLEN], *p;
	int64_t now = 1700000000;
	struct input in;
	int got;

	if (input_open(&in, path, linelen))
		return;
	while ((got = input_line(&in, &p)) != INPUT_END && got != INPUT_FAIL) {
		if (got == INPUT_BAD) {
			FUZZ_CHECK(in.err[0], "line refused without a reason");
			continue;
		}
		FUZZ_CHECK(*p && *p != '#' && *p != ' ' && *p != '\t', "line start");
		FUZZ_CHECK(strlen(p) <= linelen && !strchr(p, '\n'), "line end");
		for (const char *c = p; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 || *c == '\t', "control byte passed");
		for (int i = 0; i < 3; i++) {
			const struct listdef *d = &ip_lists[i];
			struct st_ent e;
			const char *comment;

			snprintf(copy, sizeof(copy), "%s", p);
			if (!iplist_import_line(d, copy, MXS_ACT_DROP * d->has_action, now, &e,
					     &comment, err, sizeof(err)))
				check_entry(d, &e, comment, now);
			else
				FUZZ_CHECK(err[0], "rejected without a reason");
		}
	}
	input_close(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write(fuzz_dir(""), "import.txt", data, size);

	read_all(path, 4096);
	read_all(path, 32);
	read_formats(path);
	return 0;
}
