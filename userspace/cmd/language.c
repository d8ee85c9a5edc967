// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Language rules: what happens to a message by the language its text is
 * written in (mta/language.h). The milter detects the language and applies
 * the rules at the end of the message; this file keeps them in the state
 * file "language": one record a rule (kind=rule code= action=), the
 * "other" action (kind=other) and the confidence threshold (kind=threshold).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../core/utf8.h"
#include "../mta/language.h"
#include "../state/recfile.h"
#include "objects.h"

static const char *const rule_actions[] = { "allow", "spam", "quarantine", "reject", NULL };
static const char *const other_actions[] = { "spam", "quarantine", "reject", "none", NULL };

/* The index of @kind's record (with @code for a rule), or -1. */
static int find(const struct recfile *f, const char *kind, const char *code)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(rec_get(&f->r[i], "kind") ? : "", kind) &&
		    (!code || !strcmp(rec_get(&f->r[i], "code") ? : "", code)))
			return i;
	return -1;
}

/* Set a record of @kind (and @code), made when missing: the record. */
static struct rec *put(struct recfile *f, const char *kind, const char *code, bool *is_new)
{
	int i = find(f, kind, code);
	struct rec *r;

	*is_new = i < 0;
	r = i < 0 ? recfile_add(f) : &f->r[i];
	rec_set(r, "kind", kind);
	if (code)
		rec_set(r, "code", code);
	return r;
}

/* @in lower-cased into code[3], checked: 0, or 1 after an error. */
static int check_code(const char *in, char code[3])
{
	snprintf(code, 3, "%s", in);
	for (int i = 0; code[i]; i++)
		code[i] = tolower((unsigned char)code[i]);
	if (strlen(in) != 2 || !lang_code_valid(code))
		return ctl_err("'%s': not an ISO 639-1 language code (two letters, e.g. en, "
			       "de, ja)", in);
	return 0;
}

/* Say so when no model of the installed data can ever answer @code. */
static void warn_no_model(const char *code)
{
	char err[MXS_ERRLEN];
	struct lang_detector *d = lang_detector_open(NULL, err, sizeof(err));

	if (!d)
		fprintf(stderr, "mxshield: warning: %s\n", err);
	else if (!lang_detector_knows(d, code))
		fprintf(stderr, "mxshield: warning: the language models (%s) have none for "
			"'%s': no message is ever detected as %s\n", LANG_DATA_DIR, code, code);
	lang_detector_close(d);
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	const char *act = cli_opt(a, "action"), *comment = cli_opt(a, "comment");
	char err[MXS_ERRLEN], code[3];
	struct recfile f;
	struct rec *r;
	bool is_new;
	int rc = 1;

	if (!act)
		return cli_usage(a, "language add needs --action");
	if (check_code(a->pos[0], code))
		return 1;
	if (comment && utf8_text_check("comment", comment, err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_lock(c) || ctl_read(c, ST_LANGUAGE, &f))
		return 1;
	r = put(&f, "rule", code, &is_new);
	rec_set(r, "action", act);
	if (comment || is_new)
		rec_set(r, "comment", comment ? comment : "");
	if (ctl_write(c, ST_LANGUAGE, &f))
		goto out;
	rc = 0;
	warn_no_model(code);
	if (c->json) {
		jw_obj();
		jw_kstr(is_new ? "added" : "updated", code);
		jw_kstr("action", act);
		jw_end_obj();
	} else {
		printf("language %s %s: %s\n", code, is_new ? "added" : "updated", act);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	char code[3];
	int i, rc = 1;

	if (check_code(a->pos[0], code))
		return 1;
	if (ctl_lock(c) || ctl_read(c, ST_LANGUAGE, &f))
		return 1;
	i = find(&f, "rule", code);
	if (i < 0) {
		ctl_err("language %s has no rule", code);
		goto out;
	}
	recfile_del(&f, i);
	if (ctl_write(c, ST_LANGUAGE, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("deleted", code);
		jw_end_obj();
	} else {
		printf("language %s deleted\n", code);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_other(struct ctl *c, const struct cli_args *a)
{
	const char *act = cli_opt(a, "action");
	struct lang_set s;
	char err[MXS_ERRLEN];
	struct recfile f;
	bool is_new;
	int rc = 1;

	if (!act)
		return cli_usage(a, "language other needs --action");
	if (ctl_lock(c) || ctl_read(c, ST_LANGUAGE, &f))
		return 1;
	rec_set(put(&f, "other", NULL, &is_new), "action", act);
	if (ctl_write(c, ST_LANGUAGE, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("other", act);
		jw_end_obj();
	} else {
		printf("language other: %s\n", act);
	}
	if (strcmp(act, "none") && !lang_load(c, &s, err, sizeof(err))) {
		if (!lang_any_allow(&s))
			fprintf(stderr, "mxshield: note: no language is allowed yet: 'other' applies "
				"once one is (language add CODE --action allow)\n");
		lang_free(&s);
	}
out:
	recfile_free(&f);
	return rc;
}

static int parse_threshold(const char *s, double *t)
{
	char *end;

	*t = strtod(s, &end);
	if (end == s || *end || !(*t >= 0 && *t <= 1))
		return ctl_err("'%s': the threshold is a confidence from 0 to 1", s);
	return 0;
}

static int do_threshold(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	char v[16];
	bool is_new;
	double t;
	int rc = 1;

	if (parse_threshold(a->pos[0], &t))
		return 1;
	snprintf(v, sizeof(v), "%.2f", t);
	if (ctl_lock(c) || ctl_read(c, ST_LANGUAGE, &f))
		return 1;
	rec_set(put(&f, "threshold", NULL, &is_new), "value", v);
	if (ctl_write(c, ST_LANGUAGE, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_key("threshold");
		jw_num2(t);
		jw_end_obj();
	} else {
		printf("language threshold %s: below it no language rule applies\n", v);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	const char *fmt = cli_opt(a, "format");
	bool export = fmt && !strcmp(fmt, "import");
	char err[MXS_ERRLEN];
	struct recfile f;
	struct lang_set s;

	if (export && c->json)
		return cli_usage(a, "--format import is text: leave out --json");
	if (ctl_lock_ro(c) || ctl_read(c, ST_LANGUAGE, &f))
		return 1;
	if (lang_load(c, &s, err, sizeof(err))) {
		recfile_free(&f);
		return ctl_err("%s", err);
	}
	if (export) {
		printf("# mxshield language rules: %d; 'mxshield language import FILE --replace' "
		       "reads them back\n", s.n);
		for (int i = 0; i < s.n; i++)
			printf("%s,%s\n", s.r[i].code, lang_action_name(s.r[i].action));
		printf("other,%s\nthreshold,%.2f\n", lang_action_name(s.other), s.threshold);
	} else if (c->json) {
		jw_obj();
		jw_key("rules");
		jw_arr();
		for (int i = 0; i < f.n; i++) {
			if (strcmp(rec_get(&f.r[i], "kind") ? : "", "rule"))
				continue;
			jw_obj();
			jw_kstr("language", rec_get(&f.r[i], "code"));
			jw_kstr("action", rec_get(&f.r[i], "action"));
			jw_kstr("comment", rec_get(&f.r[i], "comment") ? : "");
			jw_end_obj();
		}
		jw_end_arr();
		jw_kstr("other", lang_action_name(s.other));
		jw_kbool("other_applies", s.other != MXS_ACT_NONE && lang_any_allow(&s));
		jw_key("threshold");
		jw_num2(s.threshold);
		jw_end_obj();
	} else {
		if (s.n)
			printf("%-9s %-11s %s\n", "LANGUAGE", "ACTION", "COMMENT");
		for (int i = 0; i < f.n; i++)
			if (!strcmp(rec_get(&f.r[i], "kind") ? : "", "rule"))
				printf("%-9s %-11s %s\n", rec_get(&f.r[i], "code"),
				       rec_get(&f.r[i], "action"), rec_get(&f.r[i], "comment") ? : "");
		printf("other: %s%s\nthreshold: %.2f\n", lang_action_name(s.other),
		       s.other != MXS_ACT_NONE && !lang_any_allow(&s) ?
		       " (applies once a language is allowed)" : "", s.threshold);
	}
	lang_free(&s);
	recfile_free(&f);
	return 0;
}

/* language import FILE: "CODE,ACTION" a line, and "other,ACTION",
 * "threshold,VALUE" (what list --format import writes). */
static int do_import(struct ctl *c, const struct cli_args *a)
{
	bool replace = cli_flag(a, "replace"), is_new;
	struct recfile cur, out = {};
	struct input rd;
	char *line;
	int got, bad = 0, rc = 1, rules = 0;

	if (cli_flag(a, "allow-empty") && !replace)
		return cli_usage(a, "--allow-empty goes with --replace");
	if (input_open(&rd, a->pos[0], 4094))
		return ctl_err("%s", rd.err);
	if (ctl_lock(c) || ctl_read(c, ST_LANGUAGE, &cur)) {
		input_close(&rd);
		return 1;
	}
	while ((got = input_line(&rd, &line)) != INPUT_END) {
		char *v = line + strcspn(line, ", \t");
		double t;

		if (got == INPUT_FAIL || got == INPUT_BAD) {
			ctl_err("%s", rd.err);
			bad++;
			if (got == INPUT_FAIL)
				break;
			continue;
		}
		if (*v)
			*v++ = '\0';
		v += strspn(v, ", \t");
		if (!strcmp(line, "other")) {
			if (!strcmp(v, "allow") || (strcmp(v, "none") && lang_action_by_name(v) < 0))
				goto bad_line;
			rec_set(put(&out, "other", NULL, &is_new), "action", v);
		} else if (!strcmp(line, "threshold")) {
			char *end, num[16];

			t = strtod(v, &end);
			if (end == v || *end || !(t >= 0 && t <= 1))
				goto bad_line;
			snprintf(num, sizeof(num), "%.2f", t);
			rec_set(put(&out, "threshold", NULL, &is_new), "value", num);
		} else if (lang_code_valid(line) && lang_action_by_name(v) >= 0) {
			struct rec *r = put(&out, "rule", line, &is_new);

			rec_set(r, "action", v);	/* last wins */
			rec_set(r, "comment", "");
			rules += is_new;
		} else {
			goto bad_line;
		}
		continue;
bad_line:
		ctl_err("%s:%ld: expected CODE,ACTION (an ISO 639-1 code; allow, spam, "
			"quarantine or reject), other,ACTION or threshold,0..1", a->pos[0],
			rd.lineno);
		bad++;
	}
	if (bad) {
		ctl_err("%s: %d invalid line%s: nothing imported", a->pos[0], bad,
			bad == 1 ? "" : "s");
		goto out;
	}
	if (replace && !out.n && !cli_flag(a, "allow-empty")) {
		ctl_err("%s: no language rules: --replace would delete them all; nothing changed "
			"(add --allow-empty if that is what you want)", a->pos[0]);
		goto out;
	}
	for (int i = 0; !replace && i < cur.n; i++) {	/* the file's win */
		const char *kind = rec_get(&cur.r[i], "kind") ? : "";

		if (find(&out, kind, strcmp(kind, "rule") ? NULL : rec_get(&cur.r[i], "code")) < 0) {
			struct rec *r = recfile_add(&out);

			for (int k = 0; k < cur.r[i].n; k++)
				rec_set(r, cur.r[i].kv[k].k, cur.r[i].kv[k].v);
		}
	}
	if (ctl_write(c, ST_LANGUAGE, &out))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_ku64("rules", rules);
		jw_end_obj();
	} else {
		printf("language import %s: %d rules\n", a->pos[0], rules);
	}
out:
	input_close(&rd);
	recfile_free(&cur);
	recfile_free(&out);
	return rc;
}

static const struct cli_opt add_opts[] = {
	{ "action", "ACTION", "allow (with 'other': only the allowed languages pass), or what "
			      "happens to mail in it: spam, quarantine, reject (required)",
	  rule_actions },
	{ "comment", "TEXT", "a note kept with the rule" },
	{ NULL }
};
static const struct cli_opt other_opts[] = {
	{ "action", "ACTION", "spam, quarantine, reject, or none (required)", other_actions },
	{ NULL }
};

static const struct cli_cmd language_cmds[] = {
	{ "add", do_add, "CODE", 1, 1,
	  "Give a language (ISO 639-1 code) a rule, or change it.", add_opts },
	{ "del", do_del, "CODE", 1, 1, "Remove a language's rule." },
	{ "list", do_list, NULL, 0, 0, "Show the language rules, 'other' and the threshold.",
	  cli_list_opts },
	{ "other", do_other, NULL, 0, 0,
	  "The action for a language with no rule, once at least one language is allowed.",
	  other_opts },
	{ "threshold", do_threshold, "CONFIDENCE", 1, 1,
	  "The confidence (0 to 1, default 0.50) below which no language rule applies." },
	{ "import", do_import, "FILE", 1, 1,
	  "Set the rules of FILE (- for standard input): CODE,ACTION a line, other,ACTION, "
	  "threshold,VALUE.", cli_import_opts, .complete = "@file" },
	{ 0 }
};

const struct cli_obj obj_language = {
	"language", "rules by the language a message is written in (the milter)",
	language_cmds, .section = SECTION_MTA,
};
