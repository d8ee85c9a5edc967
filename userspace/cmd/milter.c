// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * milter serve: the content milter in the foreground. content empty: the
 * empty-mail rule. content check FILE: what the milter reads of a message
 * and what the content rules say of it (no precedence: that needs the
 * client and the envelope).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/input.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../mta/content.h"
#include "../mta/envelope.h"
#include "../mta/milter.h"
#include "../mta/mime.h"
#include "../state/recfile.h"
#include "objects.h"

static int do_serve(struct ctl *c, const struct cli_args *a)
{
	struct milter_opts o = {
		.listen = cli_opt(a, "listen"),
		.user = cli_opt(a, "user"),
		.socket_group = cli_opt(a, "socket-group"),
		.log_ident = "mxshield-milter",
	};
	const char *t = cli_opt(a, "timeout");

	if (t) {
		char *end;
		long n = strtol(t, &end, 10);

		if (end == t || *end || n < 1 || n > 3600)
			return cli_usage(a, "--timeout: expected seconds from 1 to 3600, got '%s'", t);
		o.timeout = n;
	}
	return milter_serve(c, &o);
}

static const struct cli_opt serve_opts[] = {
	{ "listen", "SOCKET", "unix:PATH or inet:HOST:PORT (default " MILTER_LISTEN_DEFAULT ")" },
	{ "user", "USER", "after binding, run as USER with no capability" },
	{ "socket-group", "GROUP", "the group of a unix: socket (default postfix), mode 0660" },
	{ "timeout", "SECONDS", "drop an MTA connection silent this long (default 300)" },
	{ NULL }
};

static const struct cli_cmd milter_cmds[] = {
	{ "serve", do_serve, NULL, 0, 0,
	  "Check the content of each message for Postfix (smtpd_milters) until killed: "
	  "subject and content patterns, empty mail.", serve_opts },
	{ 0 }
};

const struct cli_obj obj_milter = {
	"milter", "the content milter (subject, content, empty mail)", milter_cmds,
	.section = SECTION_MTA,
};

/* ---------------------------------------------------------------- content */

static const char *const empty_actions[] = { "spam", "quarantine", "off", NULL };

static int do_empty(struct ctl *c, const struct cli_args *a)
{
	const char *act = cli_opt(a, "action");
	struct recfile s;
	int rc = 0;

	if (!act) {
		const char *cur;

		if (ctl_lock_ro(c) || ctl_read(c, ST_SETTINGS, &s))
			return 1;
		cur = s.n ? rec_get(&s.r[0], "content_empty") : NULL;
		if (c->json) {
			jw_obj();
			jw_kstr("empty", cur ? cur : "off");
			jw_end_obj();
		} else {
			printf("empty mail: %s\n", cur ? cur : "off");
		}
		recfile_free(&s);
		return 0;
	}
	if (ctl_lock(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	rec_set(s.n ? &s.r[0] : recfile_add(&s), "content_empty", act);
	rc = ctl_write(c, ST_SETTINGS, &s);
	recfile_free(&s);
	if (rc)
		return rc;
	if (c->json) {
		jw_obj();
		jw_kstr("empty", act);
		jw_end_obj();
	} else {
		printf("empty mail: %s\n", act);
	}
	return 0;
}

static void print_excerpt(const char *what, const char *s, size_t n)
{
	size_t show = n > 400 ? 400 : n;

	while (show < n && show && ((unsigned char)s[show] & 0xc0) == 0x80)
		show--;
	printf("%s (%zu bytes): %.*s%s\n", what, n, (int)show, s, show < n ? " ..." : "");
}

static int do_check(struct ctl *c, const struct cli_args *a)
{
	struct env_set env;
	struct content_rules *cr;
	struct content_verdict v;
	struct msg_text t;
	char err[MXS_ERRLEN + 64], *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f = strcmp(a->pos[0], "-") ? fopen(a->pos[0], "rb") : stdin;

	if (!f)
		return ctl_err("%s: cannot open it", a->pos[0]);
	/* what the milter would capture: at most MIME_CAPTURE_MAX bytes */
	while (n < MIME_CAPTURE_MAX) {
		size_t got;

		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				return ctl_err("out of memory");
		}
		got = fread(buf + n, 1, (cap < MIME_CAPTURE_MAX ? cap : MIME_CAPTURE_MAX) - n, f);
		if (!got)
			break;
		n += got;
	}
	if (f != stdin)
		fclose(f);
	if (ctl_lock_ro(c) || env_load(c, &env, err, sizeof(err))) {
		free(buf);
		return ctl_err("%s", err);
	}
	cr = content_rules_build(&env, err, sizeof(err));
	if (!cr || mime_decode(buf ? buf : "", n, &t)) {
		free(buf);
		env_free(&env);
		return ctl_err("%s", cr ? "out of memory" : err);
	}
	content_run(cr, &t, &v);
	if (c->json) {
		jw_obj();
		jw_kstr("subject", t.subject);
		jw_kstr("body", t.body);
		jw_kbool("has_attachments", t.has_attachments);
		jw_kbool("truncated", t.truncated);
		jw_ku64("text_parts", t.text_parts);
		jw_ku64("limit_hits", v.limit_hits);
		jw_kstr("action", v.action ? action_name(v.action) : "none");
		jw_kstr("reason", v.reason);
		jw_end_obj();
	} else {
		print_excerpt("subject", t.subject, t.subject_len);
		print_excerpt("body", t.body, t.body_len);
		printf("text parts: %d, attachments: %s%s\n", t.text_parts,
		       t.has_attachments ? "yes" : "no", t.truncated ? ", cut at a bound" : "");
		if (v.limit_hits)
			printf("regex matches stopped at the limit: %u\n", v.limit_hits);
		printf("content rules: %s%s%s%s\n", v.action ? action_name(v.action) : "none",
		       v.action ? " (" : "", v.reason, v.action ? ")" : "");
	}
	msg_text_free(&t);
	content_rules_free(cr);
	env_free(&env);
	free(buf);
	return 0;
}

static const struct cli_opt empty_opts[] = {
	{ "action", "ACTION", "spam, quarantine or off (without: show the setting)",
	  empty_actions },
	{ NULL }
};

static const struct cli_cmd content_cmds[] = {
	{ "empty", do_empty, NULL, 0, 0,
	  "What the milter does with empty mail: no Subject (or a blank one) and no text "
	  "in the body (blank text parts; attachments do not count).", empty_opts },
	{ "check", do_check, "FILE", 1, 1,
	  "Decode a message (- for standard input) as the milter does and show its text "
	  "and what the content rules say of it (trust, partners and allow entries aside).",
	  NULL, .complete = "@file" },
	{ 0 }
};

const struct cli_obj obj_content = {
	"content", "the content rules' settings, and a dry run on a message", content_cmds,
	.section = SECTION_MTA,
};
