// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IP lists (trust, gateway, block): one CLI object per row of
 * MXS_IP_LISTS (filter/build.h), all with the commands below. Each change
 * is validated, then handed to the build layer (ctl_commit_change for one
 * entry, ctl_commit_whole for a whole list), which writes the state first.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../core/listfmt.h"
#include "../core/utf8.h"
#include "../filter/build.h"
#include "../filter/install.h"
#include "../filter/loader.h"
#include "../filter/source.h"
#include "../filter/srcset.h"
#include "../state/ipstore.h"
#include "iplist.h"
#include "objects.h"

/* Comments reach --json output: text only (utf8.h). */
static int valid_comment(const char *s)
{
	char err[MXS_ERRLEN];

	if (strlen(s) > 200)
		return ctl_err("comment longer than 200 characters");
	if (utf8_text_check("comment", s, err, sizeof(err)))
		return ctl_err("%s", err);
	return 0;
}

static void print_expiry(int64_t exp)
{
	char buf[64];

	printf("%s", exp ? fmt_remaining(exp, buf, sizeof(buf)) : "never");
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	const struct listdef *d = a->obj->data;
	struct mxs_prefix p;
	struct store s;
	struct st_ent e = {}, was;
	const struct st_ent *old;
	char err[MXS_ERRLEN], ps[MXS_PFX_STRLEN], keep[256] = "", wasc[1024] = "";
	const char *act, *exps, *comment;
	int rc = 1;

	act = cli_opt(a, "action");
	exps = cli_opt(a, "expires");
	comment = cli_opt(a, "comment");
	if (parse_prefix(a->pos[0], &p, err, sizeof(err)))
		return ctl_err("%s", err);
	e.action = d->has_action ? MXS_ACT_DROP : 0;
	if (act && parse_action(act, &e.action, err, sizeof(err)))
		return ctl_err("%s", err);
	if (exps && parse_expiry(exps, time(NULL), &e.expires, err, sizeof(err)))
		return ctl_err("--expires: %s", err);
	if (comment && valid_comment(comment))
		return 1;
	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;

	st_set_prefix(&e, &p);
	old = store_find(&s, &p);
	e.added = old ? old->added : time(NULL);
	if (old) {
		was = *old;
		snprintf(wasc, sizeof(wasc), "%s", store_comment(&s, old));
	}
	if (old && !comment)
		snprintf(keep, sizeof(keep), "%s", store_comment(&s, old));
	if (store_apply(&s, &e, comment ? comment : keep)) {
		ctl_err("out of memory");
		goto out;
	}
	if (!ctl_commit_change(c, d, &s, &p, old ? &was : NULL, wasc)) {
		rc = 0;
		prefix_str(&p, ps);
		if (c->json) {
			jw_obj();
			jw_kstr("list", d->name);
			jw_kstr(old ? "updated" : "added", ps);
			if (d->has_action)
				jw_kstr("action", action_name(e.action));
			if (d->has_expires)
				jw_ki64("expires", e.expires);
			jw_kstr("comment", store_comment(&s, store_find(&s, &p)));
			jw_end_obj();
		} else {
			printf("%s %s %s", d->name, old ? "updated" : "added", ps);
			if (d->has_action)
				printf(" action %s", action_name(e.action));
			if (d->has_expires) {
				printf(", expires ");
				print_expiry(e.expires);
			}
			printf("\n");
		}
	}
out:
	store_close(&s);
	return rc;
}

/* The sources other than manual that list exactly @p: true and @buf. */
static bool listed_by(struct ctl *c, const struct listdef *d, const struct mxs_prefix *p,
		      char *buf, size_t len)
{
	struct srcset set;
	struct st_ent e;
	const char *cm;
	uint64_t srcs = 0;

	if (srcset_open(c, d->name, NULL, &set))
		return false;
	if (srcset_find(&set, time(NULL), p, &e, &cm, &srcs))
		srcs &= ~1ULL;	/* not the manual entry */
	srcset_names_of(&set, srcs, buf, len);
	srcset_close(&set);
	return srcs != 0;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	const struct listdef *d = a->obj->data;
	struct mxs_prefix p;
	struct store s;
	struct st_ent e = { .del = 1 }, was;
	const struct st_ent *old;
	char err[MXS_ERRLEN], ps[MXS_PFX_STRLEN], wasc[1024];
	int rc = 1;

	if (parse_prefix(a->pos[0], &p, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;
	prefix_str(&p, ps);
	old = store_find(&s, &p);
	if (!old) {
		char from[256];

		if (listed_by(c, d, &p, from, sizeof(from)))
			ctl_err("%s is not one of the %s list's own entries: it comes from %s "
				"(a feed's entries go with 'mxshield feed del', an automatic "
				"block with 'mxshield auto forget'; DNSBL entries expire)",
				ps, d->name, from);
		else
			ctl_err("%s is not in the %s list", ps, d->name);
		goto out;
	}
	was = *old;
	snprintf(wasc, sizeof(wasc), "%s", store_comment(&s, old));
	st_set_prefix(&e, &p);
	if (store_apply(&s, &e, NULL)) {
		ctl_err("out of memory");
		goto out;
	}
	if (!ctl_commit_change(c, d, &s, &p, &was, wasc)) {
		rc = 0;
		if (c->json) {
			jw_obj();
			jw_kstr("list", d->name);
			jw_kstr("deleted", ps);
			jw_end_obj();
		} else {
			char from[256];

			printf("%s deleted %s", d->name, ps);
			if (listed_by(c, d, &p, from, sizeof(from)))
				printf(" (still listed by %s)", from);
			printf("\n");
		}
	}
out:
	store_close(&s);
	return rc;
}

static int do_flush(struct ctl *c, const struct cli_args *a)
{
	const struct listdef *d = a->obj->data;
	struct st_vec empty = {};
	struct store s;
	size_t n;
	int rc;

	if (ctl_ensure_loaded(c) || store_open(c, d->name, &s))
		return 1;
	n = s.n;
	store_adopt(&s, &empty);
	rc = ctl_commit_whole(c, d, &s);
	if (!rc && c->json) {
		jw_obj();
		jw_kstr("list", d->name);
		jw_ku64("flushed", n);
		jw_end_obj();
	} else if (!rc) {
		printf("%s flushed (%zu entr%s)\n", d->name, n, n == 1 ? "y" : "ies");
	}
	store_close(&s);
	return rc;
}

struct list_ctx {
	struct ctl *c;
	const struct listdef *d;
	struct hitmap hm;
	bool export;		/* --format import */
	bool show_src;		/* the list has sources: a SOURCES column */
	const struct srcset *set;
	const char *one_src;	/* --source: that source's own entries */
};

static int list_one_src(const struct st_ent *e, const char *comment, uint64_t srcs, void *arg)
{
	struct list_ctx *lc = arg;
	const struct listdef *d = lc->d;
	struct mxs_prefix p;
	uint64_t hits = 0, last = 0;
	char ps[MXS_PFX_STRLEN], exp[64];

	st_prefix(e, &p);
	hitmap_get(&lc->hm, d->list, &p, &hits, &last);
	prefix_str(&p, ps);
	if (lc->export) {
		/* what import reads back: address,action,expiry,comment */
		printf("%s,%s,%s,%s\n", ps, d->has_action ? action_name(e->action) : "",
		       e->expires ? fmt_time(e->expires, exp, sizeof(exp)) : "", comment);
	} else if (lc->c->json) {
		jw_obj();
		jw_kstr("prefix", ps);
		if (d->has_action)
			jw_kstr("action", action_name(e->action));
		jw_ki64("expires", e->expires);
		jw_ku64("hits", hits);
		jw_ki64("last_hit", mono_ns_to_unix(last));
		jw_ki64("added", e->added);
		jw_kstr("comment", comment);
		jw_key("sources");
		jw_arr();
		if (lc->set) {
			for (int i = 0; i < lc->set->n; i++)
				if (srcs & 1ULL << i)
					jw_str(lc->set->name[i]);
		} else {
			jw_str(lc->one_src);
		}
		jw_end_arr();
		jw_end_obj();
	} else {
		char names[256] = "";

		if (lc->set)
			srcset_names_of(lc->set, srcs, names, sizeof(names));
		else
			snprintf(names, sizeof(names), "%s", lc->one_src);
		printf("%-43s %-10s %-16s %10llu  ", ps,
		       d->has_action ? action_name(e->action) : "",
		       e->expires ? fmt_remaining(e->expires, exp, sizeof(exp)) : "never",
		       (unsigned long long)hits);
		if (lc->show_src)
			printf("%-20s ", names);
		printf("%s\n", comment);
	}
	return 0;
}

static int list_one(const struct st_ent *e, const char *comment, void *arg)
{
	return list_one_src(e, comment, 1, arg);
}

static int count_one(const struct st_ent *e, const char *comment, uint64_t srcs, void *arg)
{
	(void)e, (void)comment, (void)srcs;
	++*(size_t *)arg;
	return 0;
}

/*
 * list: the list as the filter has it, every source merged (a SOURCES
 * column when it has any); --source: one source's own entries; --format
 * import: the manual entries only (a source's entries come back from it).
 */
static int do_list(struct ctl *c, const struct cli_args *a)
{
	const struct listdef *d = a->obj->data;
	const char *fmt = cli_opt(a, "format"), *src = cli_opt(a, "source");
	struct list_ctx lc = { .c = c, .d = d, .export = fmt && !strcmp(fmt, "import"),
			       .one_src = SRC_MANUAL };
	struct srcset set;
	struct store s;
	size_t n = 0;
	int rc;

	if (lc.export && c->json)
		return cli_usage(a, "--format import is text: leave out --json");
	if (lc.export && src && strcmp(src, SRC_MANUAL))
		return cli_usage(a, "--format import exports the manual entries: a source's "
			       "entries come back from the source itself");
	if (ctl_open_ro(c))
		return 1;
	if (lc.export || src) {
		if (src && strcmp(src, SRC_MANUAL)) {
			if (source_open(c, d, src, &s))
				return 1;
			lc.one_src = src;
		} else if (store_open(c, d->name, &s)) {
			return 1;
		}
		n = s.n;
	} else {
		if (srcset_open(c, d->name, NULL, &set))
			return 1;
		lc.set = &set;
		lc.show_src = set.n > 1;
		srcset_merge(&set, 0, NULL, count_one, &n);
	}
	if (c->loaded && !lc.export)	/* hit counters live in the loaded build */
		hitmap_load(&c->mv, &lc.hm);
	if (lc.export)
		printf("# mxshield %s list: %zu entries; 'mxshield %s import FILE --replace' "
		       "reads it back\n", d->name, n, d->name);
	else if (c->json)
		jw_arr();
	else if (n)
		printf("%-43s %-10s %-16s %10s  %s%s\n", "PREFIX", d->has_action ? "ACTION" : "",
		       "EXPIRES", "HITS", lc.show_src ? "SOURCES              " : "", "COMMENT");
	if (lc.set)
		rc = srcset_merge(&set, 0, NULL, list_one_src, &lc);
	else
		rc = store_all(&s, list_one, &lc);
	if (c->json)
		jw_end_arr();
	hitmap_free(&lc.hm);
	if (lc.set)
		srcset_close(&set);
	else
		store_close(&s);
	return rc < 0 ? ctl_err("out of memory") : 0;
}

static void progress(bool tty, const char *path, long lines, off_t done, off_t total)
{
	if (!tty)
		return;
	if (total > 0)
		fprintf(stderr, "\r%s: %ld lines, %3d%%", path, lines,
			(int)(100.0 * (done > total ? total : done) / total));
	else
		fprintf(stderr, "\r%s: %ld lines", path, lines);
}

/* st_ent.del in an import's vector: the line had no comment column */
#define NO_COMMENT 2

int iplist_import_line(const struct listdef *d, char *line, uint8_t defact, int64_t now,
		       struct st_ent *e, const char **comment, char *err, size_t errlen)
{
	struct listfmt lf;
	struct listfmt_ent le;

	memset(e, 0, sizeof(*e));
	*comment = NULL;
	listfmt_init(&lf, LISTFMT_CSV, d->name, d->has_action, d->has_expires, now);
	if (listfmt_line(&lf, line, &le, err, errlen) != LISTFMT_ENTRY)
		return -1;	/* csv lines are entries or errors */
	st_set_prefix(e, &le.pfx);
	e->action = le.action ? le.action : defact;
	e->expires = le.expires;
	e->added = now;
	*comment = le.comment;	/* csv: in @line */
	return 0;
}

/* The list after an import: the file's entries @in over the current ones
 * @cur (both sorted), or only the file's with @replace. Entries keep their
 * "added" stamp, and their comment unless the file gives one. */
static int merge_import(const struct st_vec *cur, const struct st_vec *in, bool replace,
			struct st_vec *out, long *added, long *updated, long *removed)
{
	size_t i = 0, j = 0;

	while (i < cur->n || j < in->n) {
		int d = i == cur->n ? 1 : j == in->n ? -1 : st_cmp(&cur->e[i], &in->e[j]);
		struct st_ent e;
		const char *comment;

		if (d < 0) {	/* only in the list */
			if (replace) {
				++*removed;
			} else if (st_vec_push(out, &cur->e[i], st_vec_comment(cur, &cur->e[i]))) {
				return -1;
			}
			i++;
			continue;
		}
		e = in->e[j];
		comment = st_vec_comment(in, &in->e[j]);
		if (d == 0) {
			e.added = cur->e[i].added;
			if (e.del == NO_COMMENT)
				comment = st_vec_comment(cur, &cur->e[i]);
			++*updated;
			i++;
		} else {
			++*added;
		}
		j++;
		if (st_vec_push(out, &e, comment))
			return -1;
	}
	return 0;
}

/* What an import read and did. */
struct import_run {
	const struct listdef *d;
	const char *path;
	uint8_t defact;
	bool action_given;	/* --action: it overrides a Postfix file's actions */
	bool skip;		/* --skip-invalid */
	bool detected;		/* the format was detected (--format auto) */
	int min_score;		/* --min-score, -1: not given */
	struct listfmt lf;	/* the file's format, its counts */
	struct st_vec in;	/* the file's entries, sorted, last of equal wins */
	long lines, bad, dups, added, updated, removed;
	size_t entries;
};

/* One content line of the file, by its format, into r->in. 0, or -1
 * when reading must stop (out of memory). */
static int import_line(struct import_run *r, long lineno, char *line, int64_t now)
{
	struct listfmt_ent le;
	struct st_ent e = {};
	char err[MXS_ERRLEN];

	switch (listfmt_line(&r->lf, line, &le, err, sizeof(err))) {
	case LISTFMT_SKIP:
		return 0;
	case LISTFMT_ERR:
		if (++r->bad <= 20 || !r->skip)
			ctl_err("%s:%ld: %s", r->path, lineno, err);
		return 0;
	}
	st_set_prefix(&e, &le.pfx);
	e.action = le.action ? le.action : r->defact;
	if (r->action_given && r->lf.kind == LISTFMT_POSTFIX_CIDR)
		e.action = r->defact;
	e.expires = le.expires;
	e.added = now;
	if (st_vec_push(&r->in, &e, le.comment))
		return ctl_err("out of memory"), -1;
	if (!le.comment)
		r->in.e[r->in.n - 1].del = NO_COMMENT;
	return 0;
}

/* The lines format detection looks at. */
#define SAMPLE 16

struct sample {
	char *line[SAMPLE];
	long lineno[SAMPLE];
	size_t n;
};

static void sample_free(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->line[i]);
}

/* Read every line of the file into r->in. 0, or 1 after an error: a
 * damaged input (cut gzip, NUL or control bytes, a DROP JSON file whose
 * record count is not its metadata's) whatever the options, invalid lines
 * unless --skip-invalid. With --format auto the first content lines are
 * kept until they tell the format, then read like the rest. */
static int import_read(struct import_run *r)
{
	bool tty = isatty(2);
	int64_t now = time(NULL);
	enum listfmt_kind kind = r->lf.kind;
	struct sample smp = {};
	struct input rd;
	struct stat st;
	off_t total = 0;
	char err[MXS_ERRLEN], *p;
	int got, rc = 1;

	if (input_open(&rd, r->path, 4094))
		return ctl_err("%s", rd.err);
	if (strcmp(r->path, "-") && !stat(r->path, &st))
		total = st.st_size;
	while ((got = input_line(&rd, &p)) != INPUT_END) {
		if ((rd.lineno & 0xffff) == 0)
			progress(tty, r->path, rd.lineno, rd.consumed, total);
		if (got == INPUT_FAIL) {
			ctl_err("%s: nothing imported", rd.err);
			goto out;
		}
		if (got == INPUT_BAD) {
			if (++r->bad <= 20 || !r->skip)
				ctl_err("%s", rd.err);
			continue;
		}
		if (kind == LISTFMT_AUTO && smp.n < SAMPLE) {
			if (!(smp.line[smp.n] = strdup(p))) {
				ctl_err("out of memory");
				goto out;
			}
			smp.lineno[smp.n++] = rd.lineno;
			if (smp.n < SAMPLE)
				continue;
		}
		if (kind == LISTFMT_AUTO) {	/* the sample is full: this line is in it */
			if (listfmt_detect((const char *const *)smp.line, smp.n, &kind, err,
					   sizeof(err))) {
				ctl_err("%s: %s; nothing imported", r->path, err);
				goto out;
			}
			r->lf.kind = kind;
			for (size_t i = 0; i < smp.n; i++)
				if (import_line(r, smp.lineno[i], smp.line[i], now))
					goto out;
			continue;
		}
		if (import_line(r, rd.lineno, p, now))
			goto out;
	}
	if (kind == LISTFMT_AUTO) {	/* fewer lines than a sample */
		if (listfmt_detect((const char *const *)smp.line, smp.n, &kind, err, sizeof(err))) {
			ctl_err("%s: %s; nothing imported", r->path, err);
			goto out;
		}
		r->lf.kind = kind;
		for (size_t i = 0; i < smp.n; i++)
			if (import_line(r, smp.lineno[i], smp.line[i], now))
				goto out;
	}
	progress(tty, r->path, rd.lineno, total, total);
	if (tty)
		fputc('\n', stderr);
	r->lines = rd.lineno;
	if (rd.ctl_lines) {
		/* not a list with a few typos: --skip-invalid does not apply */
		ctl_err("%s: %ld line%s with NUL or control bytes: a damaged or binary file, "
			"nothing imported", r->path, rd.ctl_lines, rd.ctl_lines == 1 ? "" : "s");
		goto out;
	}
	if (listfmt_end(&r->lf, err, sizeof(err))) {	/* cut or damaged: same */
		ctl_err("%s: %s; nothing imported", r->path, err);
		goto out;
	}
	if (r->min_score >= 0 && kind != LISTFMT_ABUSEIPDB) {
		ctl_err("%s: --min-score applies to AbuseIPDB files, this one is %s; nothing "
			"imported", r->path, listfmt_names[kind]);
		goto out;
	}
	if (r->bad && !r->skip) {
		ctl_err("%s: %ld invalid line%s: nothing imported (--skip-invalid imports the rest)",
			r->path, r->bad, r->bad == 1 ? "" : "s");
		goto out;
	}
	r->dups = st_vec_finish(&r->in);	/* the same prefix twice: last wins */
	rc = r->dups < 0 ? ctl_err("out of memory") : 0;
out:
	sample_free(&smp);
	input_close(&rd);
	return rc;
}

/* Merge r->in into the list (or replace it) and apply it in one build. */
static int import_apply(struct ctl *c, struct import_run *r, bool replace)
{
	struct st_vec cur, copy = {}, out = {};
	struct store s;
	int rc = 1;

	if (store_open(c, r->d->name, &s))
		return 1;
	if (store_view(&s, &cur, &copy) ||
	    merge_import(&cur, &r->in, replace, &out, &r->added, &r->updated, &r->removed)) {
		ctl_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < out.n; i++)
		out.e[i].del = 0;
	store_adopt(&s, &out);
	if (ctl_commit_whole(c, r->d, &s))
		goto out;
	r->entries = s.n;
	rc = 0;
out:
	st_vec_free(&copy);
	st_vec_free(&out);
	store_close(&s);
	return rc;
}

static void import_report(struct ctl *c, const struct import_run *r, double secs)
{
	const char *fmt = listfmt_names[r->lf.kind];

	if (c->json) {
		jw_obj();
		jw_kstr("list", r->d->name);
		jw_kstr("format", fmt);
		jw_kbool("detected", r->detected);
		jw_ku64("lines", r->lines);
		jw_ku64("added", r->added);
		jw_ku64("updated", r->updated);
		jw_ku64("removed", r->removed);
		jw_ku64("invalid", r->bad);
		jw_ku64("skipped", r->lf.skipped);
		if (r->lf.kind == LISTFMT_ABUSEIPDB) {
			jw_ku64("min_score", r->lf.min_score);
			jw_ku64("below_min_score", r->lf.below_score);
		}
		jw_ku64("duplicates", r->dups);
		jw_ku64("entries", r->entries);
		jw_ku64("milliseconds", (uint64_t)(secs * 1000));
		jw_end_obj();
		return;
	}
	printf("%s import %s (%s%s): %ld added, %ld updated, %ld removed, %ld invalid%s, ",
	       r->d->name, r->path, fmt, r->detected ? ", detected" : "", r->added, r->updated,
	       r->removed, r->bad, r->bad ? " (skipped)" : "");
	if (r->lf.kind == LISTFMT_ABUSEIPDB)
		printf("%ld below score %d, ", r->lf.below_score, r->lf.min_score);
	if (r->lf.skipped > r->lf.below_score)	/* Postfix lines of another kind */
		printf("%ld skipped (not %s), ", r->lf.skipped - r->lf.below_score,
		       r->d->has_action ? "blocks" : "passes");
	printf("%zu entries, %.2f s\n", r->entries, secs);
}

/*
 * mxshield block|trust|gateway import FILE [--format F] [--action A]
 *                 [--min-score N] [--replace] [--allow-empty] [--skip-invalid]
 * FILE: a list in one of the formats of core/listfmt.h (--format auto,
 * the default, tells them apart by their first lines); gzip or plain
 * ("-": standard input). Invalid lines are reported as file:line; nothing
 * is applied unless --skip-invalid. A gzip stream that is cut short or
 * followed by anything but another member, a line with a NUL or control
 * byte (a damaged file, not a list) and a DROP JSON file whose record
 * count is not what its metadata line says apply nothing, whatever the
 * options (core/input.h). --replace makes the list exactly the file's
 * entries, in one build (one switch for packets); a file without any
 * entry - what a failed download looks like - does not empty the list
 * unless --allow-empty says that is meant.
 */
static int do_import(struct ctl *c, const struct cli_args *a)
{
	struct import_run r = { .d = a->obj->data, .path = a->pos[0],
				.skip = cli_flag(a, "skip-invalid"), .min_score = -1 };
	const char *act = cli_opt(a, "action"), *fmt = cli_opt(a, "format");
	const char *ms = cli_opt(a, "min-score");
	bool replace = cli_flag(a, "replace");
	int kind = fmt ? listfmt_kind(fmt) : LISTFMT_AUTO;
	char err[MXS_ERRLEN], *end;
	struct timespec t0, t1;
	int rc = 1;

	if (cli_flag(a, "allow-empty") && !replace)
		return cli_usage(a, "--allow-empty goes with --replace");
	if (kind < 0)	/* the parser checked the choices */
		return cli_usage(a, "unknown --format");
	if (ms) {
		long v = strtol(ms, &end, 10);

		if (!*ms || *end || v < 0 || v > 100)
			return cli_usage(a, "--min-score takes a score 0-100");
		if (kind != LISTFMT_AUTO && kind != LISTFMT_ABUSEIPDB)
			return cli_usage(a, "--min-score goes with --format abuseipdb (or auto)");
		r.min_score = v;
	}
	r.defact = r.d->has_action ? MXS_ACT_DROP : 0;
	r.action_given = act;
	if (act && parse_action(act, &r.defact, err, sizeof(err)))
		return ctl_err("%s", err);
	listfmt_init(&r.lf, kind, r.d->name, r.d->has_action, r.d->has_expires, time(NULL));
	if (r.min_score >= 0)
		r.lf.min_score = r.min_score;
	r.detected = kind == LISTFMT_AUTO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the whole file read and checked first: a bad one loads nothing */
	if (import_read(&r))
		goto out;
	if (replace && !r.in.n && !cli_flag(a, "allow-empty")) {
		ctl_err("%s: no valid entries: --replace would empty the %s list; nothing changed "
			"(add --allow-empty if that is what you want)", r.path, r.d->name);
		goto out;
	}
	if (ctl_ensure_loaded(c) || import_apply(c, &r, replace))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	import_report(c, &r, t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	rc = 0;
out:
	st_vec_free(&r.in);
	return rc;
}

/* ------------------------------------------------------------- the table */

const char *const cli_actions[] = { "drop", "reject", "quarantine", "spam", NULL };
const char *const cli_list_formats[] = { "table", "import", NULL };

/* The options every list's list and import take (declared in objects.h):
 * here with the formats, so that partner.c and country.c and objects.c
 * need this file, never each other. */
const struct cli_opt cli_list_opts[] = {
	{ "format", "FORMAT", "table (default), or import: the lines its import reads back",
	  cli_list_formats },
	{ NULL }
};
const struct cli_opt cli_import_opts[] = {
	{ "replace", NULL, "make the list exactly the file's entries" },
	{ "allow-empty", NULL, "with --replace: a file without entries empties the list "
			       "(refused otherwise)" },
	{ NULL }
};

#define STR_(x) #x
#define STR(x) STR_(x)

/* The options of each kind of list: with and without actions, expiries. */
#define OPT_ACTION { "action", "ACTION", "drop (at the NIC, default), or pass tagged for the " \
		     "MTA: reject, quarantine or spam", cli_actions }
#define OPT_EXPIRES { "expires", "WHEN", "remove it after a duration (30s, 45m, 12h, 7d) " \
		      "or at a UTC time (2026-12-07T10:00:00Z)" }
#define OPT_COMMENT { "comment", "TEXT", "a note kept with the entry (200 characters)" }
#define OPT_FORMAT { "format", "FORMAT", "table (default), or import: lines that 'import' " \
		     "reads back (expiry as a UTC time)", cli_list_formats }
#define OPT_REPLACE { "replace", NULL, "make the list exactly the file's entries, in one " \
		      "switch" }, \
		    { "allow-empty", NULL, "with --replace: a file without entries empties the " \
		      "list (refused otherwise)" }, \
		    { "skip-invalid", NULL, "import the valid lines when some are not (else " \
		      "nothing is imported)" }, \
		    { "format", "FORMAT", "the file's format: auto (default: told from its " \
		      "first lines), plain, csv, drop (Spamhaus DROP/EDROP), drop-json, netset " \
		      "(FireHOL), abuseipdb (its CSV), postfix-cidr (cidr_table)", listfmt_names }, \
		    { "min-score", "N", "abuseipdb: skip lines scoring below N (0-100, default " \
		      STR(LISTFMT_MIN_SCORE) ")" }

static const struct cli_opt add_full[] = { OPT_ACTION, OPT_EXPIRES, OPT_COMMENT, { NULL } };
static const struct cli_opt add_expires[] = { OPT_EXPIRES, OPT_COMMENT, { NULL } };
static const struct cli_opt add_plain[] = { OPT_COMMENT, { NULL } };
static const struct cli_opt import_action[] = { OPT_ACTION, OPT_REPLACE, { NULL } };
static const struct cli_opt import_plain[] = { OPT_REPLACE, { NULL } };
static const struct cli_opt list_opts[] = {
	OPT_FORMAT,
	{ "source", "SOURCE", "only the entries of one source: manual (the ones added by "
	  "hand or imported), feed:NAME, dnsbl or auto" },
	{ NULL } };

#define IPLIST_CMDS(addopts, importopts) {					\
	{ "add", do_add, "CIDR", 1, 1, "Add an address or prefix, or change its entry.", \
	  addopts },								\
	{ "del", do_del, "CIDR", 1, 1, "Delete an entry.", .complete = "@entry" }, \
	{ "list", do_list, NULL, 0, 0,						\
	  "Show the entries, with their hit counters when the filter is loaded.",	\
	  list_opts },								\
	{ "flush", do_flush, NULL, 0, 0, "Delete every entry (one switch)." },	\
	{ "import", do_import, "FILE", 1, 1,					\
	  "Add the entries of FILE (- for standard input; gzip or plain): one "	\
	  "address or CIDR a line, CSV address,action,expiry,comment, or a "	\
	  "published list (--format). Invalid lines are reported as FILE:LINE "	\
	  "and nothing is applied.", importopts,				\
	  .complete = "@file" },						\
	{ 0 } }

static const struct cli_cmd cmds_full[] = IPLIST_CMDS(add_full, import_action);
static const struct cli_cmd cmds_expires[] = IPLIST_CMDS(add_expires, import_plain);
static const struct cli_cmd cmds_plain[] = IPLIST_CMDS(add_plain, import_plain);

/* A list's commands follow from its row: actions take the full set. */
#define IPL_CMDS(act, exp) ((act) ? cmds_full : (exp) ? cmds_expires : cmds_plain)

const struct cli_obj obj_iplist[MXS_NIP_LISTS] = {
#define X(id, name, list, act, exp, help)					\
	[MXS_IPL_##id] = { name, help, IPL_CMDS(act, exp), &ip_lists[MXS_IPL_##id], \
			   .section = SECTION_LISTS },
	MXS_IP_LISTS(X)
#undef X
};
