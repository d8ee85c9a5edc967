// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The command line: one parser for every object's command table, and the
 * help, man page and completion generated from the same tables (cli.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "ctl.h"
#include "json.h"

static const struct cli_opt global_opts[] = {
	{ "json", NULL, "print JSON; errors too, as {\"error\": MESSAGE}" },
	{ "pretty", NULL, "print JSON, indented" },
	{ "state-dir", "DIR", "the state directory (default " MXS_DEFAULT_STATE_DIR
			      ", or $MXSHIELD_STATE_DIR)" },
	{ "bpffs-dir", "DIR", "where the filter is pinned (default " MXS_DEFAULT_BPFFS_DIR
			      ", or $MXSHIELD_BPFFS_DIR)" },
	{ "help", NULL, "help of the object or command named" },
	{ "version", NULL, "print the version" },
	{ NULL }
};

const struct cli_obj *const *cli_objects;
int cli_nobjects;

void cli_set_objects(const struct cli_obj *const *objs, int n)
{
	cli_objects = objs;
	cli_nobjects = n;
}

/* ---------------------------------------------------------------- lookup */

static int ncmds(const struct cli_obj *o)
{
	int n = 0;

	while (o->cmds[n].fn)
		n++;
	return n;
}

/* The row named @word, or the only one it is a prefix of. NULL when
 * none; *ambiguous when several. */
#define FIND_UNIQUE(T, rows, count, name_of, word, ambiguous)		\
	({								\
		T *hit_ = NULL;						\
		int nhit_ = 0;						\
		size_t len_ = strlen(word);				\
		*(ambiguous) = false;					\
		for (int i_ = 0; i_ < (count); i_++) {			\
			const char *n_ = name_of((rows)[i_]);		\
			if (!n_)					\
				continue;				\
			if (!strcmp(n_, word)) {			\
				hit_ = (rows)[i_];			\
				nhit_ = 1;				\
				break;					\
			}						\
			if (len_ && !strncmp(n_, word, len_)) {		\
				hit_ = (rows)[i_];			\
				nhit_++;				\
			}						\
		}							\
		if (nhit_ > 1) {					\
			*(ambiguous) = true;				\
			hit_ = NULL;					\
		}							\
		hit_;							\
	})

static const char *obj_name(const struct cli_obj *o) { return o->name; }
static const char *cmd_name(const struct cli_cmd *k) { return k->name; }

static const struct cli_obj *find_obj(const char *word, bool *amb)
{
	return FIND_UNIQUE(const struct cli_obj, cli_objects, cli_nobjects, obj_name, word, amb);
}

static const struct cli_cmd *find_cmd(const struct cli_obj *o, const char *word, bool *amb)
{
	const struct cli_cmd *rows[64];
	int n = ncmds(o);

	for (int i = 0; i < n && i < 64; i++)
		rows[i] = &o->cmds[i];
	return FIND_UNIQUE(const struct cli_cmd, rows, n, cmd_name, word, amb);
}

/* Candidates of an ambiguous prefix, for the message. */
static void candidates(const struct cli_obj *o, const char *word, char *out, size_t len)
{
	size_t wl = strlen(word), used = 0;
	int n = o ? ncmds(o) : cli_nobjects;

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *name = o ? o->cmds[i].name : cli_objects[i]->name;

		if (name && !strncmp(name, word, wl) && used < len)
			used += snprintf(out + used, len - used, "%s%s", used ? ", " : "", name);
	}
}

static int opt_index(const struct cli_opt *opts, const char *name, size_t len)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
			return i;
	return -1;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	int i = opt_index(a->cmd->opts, name, strlen(name));

	return i >= 0 ? a->opt[i] : NULL;
}

/* ------------------------------------------------------------------ help */

static void opt_synopsis(FILE *f, const struct cli_opt *o)
{
	fprintf(f, " [--%s", o->name);
	if (o->choices) {
		for (int i = 0; o->choices[i]; i++)
			fprintf(f, "%c%s", i ? '|' : ' ', o->choices[i]);
	} else if (o->value) {
		fprintf(f, " %s", o->value);
	}
	fputc(']', f);
}

static void cmd_synopsis(FILE *f, const struct cli_obj *o, const struct cli_cmd *k)
{
	fprintf(f, "mxshield %s", o->name);
	if (k->name)
		fprintf(f, " %s", k->name);
	if (k->args)
		fprintf(f, " %s", k->args);
	for (int i = 0; k->opts && k->opts[i].name; i++)
		opt_synopsis(f, &k->opts[i]);
}

static void opt_list(FILE *f, const struct cli_opt *opts, const char *indent)
{
	for (int i = 0; opts && opts[i].name; i++) {
		char head[64];

		snprintf(head, sizeof(head), "--%s%s%s", opts[i].name, opts[i].value ? " " : "",
			 opts[i].value ? opts[i].value : "");
		fprintf(f, "%s%-24s %s\n", indent, head, opts[i].help);
	}
}

void cli_help_cmd(FILE *f, const struct cli_obj *o, const struct cli_cmd *k)
{
	fputs("usage: ", f);
	cmd_synopsis(f, o, k);
	fprintf(f, "\n\n%s\n", k->help);
	if (k->opts && k->opts[0].name) {
		fputs("\noptions:\n", f);
		opt_list(f, k->opts, "  ");
	}
}

void cli_help_obj(FILE *f, const struct cli_obj *o)
{
	fprintf(f, "mxshield %s: %s\n\n", o->name, o->help);
	for (int i = 0; o->cmds[i].fn; i++) {
		fputs("  ", f);
		cmd_synopsis(f, o, &o->cmds[i]);
		fprintf(f, "\n      %s\n", o->cmds[i].help);
	}
	fprintf(f, "\n'mxshield %s%s --help' tells more about a command.\n", o->name,
		o->verb ? "" : " COMMAND");
}

void cli_help_all(FILE *f)
{
	const char *section = NULL;

	fputs("usage: mxshield [OPTIONS] OBJECT COMMAND [ARGS]\n", f);
	for (int i = 0; i < cli_nobjects; i++) {
		const struct cli_obj *o = cli_objects[i];

		if (!section || strcmp(section, o->section)) {
			section = o->section;
			fprintf(f, "\n%s:\n", section);
		}
		fprintf(f, "  %-12s %s\n", o->name, o->help);
	}
	fputs("\noptions (anywhere on the line):\n", f);
	for (int i = 0; global_opts[i].name; i++) {
		static const char shorts[] = "jp..hV";
		char head[64];

		snprintf(head, sizeof(head), "--%s%s%s", global_opts[i].name,
			 global_opts[i].value ? " " : "", global_opts[i].value ? : "");
		if (shorts[i] != '.')
			fprintf(f, "  -%c, %-20s %s\n", shorts[i], head, global_opts[i].help);
		else
			fprintf(f, "      %-20s %s\n", head, global_opts[i].help);
	}
	fputs("\n'mxshield OBJECT help' lists an object's commands; objects and commands "
	      "may be\nabbreviated to a unique prefix ('mxshield bl li'). Exit status: 0 "
	      "done, 1 error,\n2 usage error, 3 a read found no filter loaded. See "
	      "mxshield(8).\n", f);
}

/* ----------------------------------------------------------------- usage */

static const struct cli_args *usage_ctx;

int cli_usage(const struct cli_args *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!a)
		a = usage_ctx;
	if (a && a->cmd && a->obj)
		ctl_err("%s (usage: see 'mxshield %s%s%s --help')", msg, a->obj->name,
			a->cmd->name ? " " : "", a->cmd->name ? : "");
	else if (a && a->obj)
		ctl_err("%s (see 'mxshield %s help')", msg, a->obj->name);
	else
		ctl_err("%s (see 'mxshield help')", msg);
	return MXS_EXIT_USAGE;
}

/* ----------------------------------------------------------------- parse */

enum want_help { NO_HELP, HELP_ALL, HELP_OBJ, HELP_CMD };

struct parse {
	struct cli_args a;
	enum want_help help;
	bool version, end_of_opts;
};

/* A global option at argv[*i] (value from '=' or the next word): 1 taken,
 * 0 not a global option, -1 usage error. */
static int global_opt(struct ctl *c, struct parse *p, int argc, char **argv, int *i)
{
	const char *s = argv[*i], *eq = strchr(s, '=');
	size_t len = eq ? (size_t)(eq - s) : strlen(s);
	const char *val = eq ? eq + 1 : NULL;

	if (!strcmp(s, "-j") || (len == 6 && !strncmp(s, "--json", 6) && !eq)) {
		c->json = true;
	} else if (!strcmp(s, "-p") || (len == 8 && !strncmp(s, "--pretty", 8) && !eq)) {
		c->json = c->pretty = true;
	} else if (!strcmp(s, "-h") || (len == 6 && !strncmp(s, "--help", 6) && !eq)) {
		p->help = p->a.cmd ? HELP_CMD : p->a.obj ? HELP_OBJ : HELP_ALL;
	} else if (!strcmp(s, "-V") || (len == 9 && !strncmp(s, "--version", 9) && !eq)) {
		p->version = true;
	} else if ((len == 11 && !strncmp(s, "--state-dir", 11)) ||
		   (len == 11 && !strncmp(s, "--bpffs-dir", 11))) {
		if (!val) {
			if (*i + 1 >= argc)
				return cli_usage(&p->a, "option '%.*s' needs a value", (int)len, s),
				       -1;
			val = argv[++*i];
		}
		if (!*val)
			return cli_usage(&p->a, "option '%.*s' needs a value", (int)len, s), -1;
		if (s[2] == 's')
			c->state_dir = val;
		else
			c->bpffs_dir = val;
	} else {
		return 0;
	}
	return 1;
}

/* An option of the command at argv[*i]. 0, or -1 after a usage error. */
static int cmd_opt(struct parse *p, int argc, char **argv, int *i)
{
	const char *s = argv[*i], *eq = strchr(s, '=');
	const char *name = s + 2;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_opt *o;
	int k = opt_index(p->a.cmd->opts, name, len);
	const char *val;

	if (k < 0 || k >= CLI_MAX_OPTS)
		return cli_usage(&p->a, "unknown option '%.*s'", (int)len + 2, s), -1;
	o = &p->a.cmd->opts[k];
	if (p->a.opt[k])
		return cli_usage(&p->a, "option '--%s' given twice", o->name), -1;
	if (!o->value) {
		if (eq)
			return cli_usage(&p->a, "option '--%s' takes no value", o->name), -1;
		p->a.opt[k] = "";
		return 0;
	}
	if (eq) {
		val = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return cli_usage(&p->a, "option '--%s' needs a value (%s)", o->name,
					 o->value), -1;
		val = argv[++*i];
	}
	if (o->choices) {
		int j;

		for (j = 0; o->choices[j] && strcmp(o->choices[j], val); j++)
			;
		if (!o->choices[j])
			return cli_usage(&p->a, "'--%s %s': expected one of %s%s%s%s%s", o->name,
					 val, o->choices[0], o->choices[1] ? ", " : "",
					 o->choices[1] ? : "", o->choices[1] && o->choices[2] ?
					 ", ..." : "", ""), -1;
	}
	p->a.opt[k] = val;
	return 0;
}

static const struct cli_cmd *default_cmd(const struct cli_obj *o)
{
	return o->verb ? &o->cmds[0] : NULL;
}

/* An object's command when the line names none ("mxshield stats"). */
static const struct cli_cmd *implied_cmd(const struct cli_obj *o)
{
	bool amb;

	return o->dflt ? find_cmd(o, o->dflt, &amb) : NULL;
}

/* The object or command named by @word. 0, or -1 after a usage error. */
static int word(struct parse *p, const char *w)
{
	bool amb;
	char cand[256];

	if (!p->a.obj) {
		if (!strcmp(w, "help")) {
			p->help = HELP_ALL;
			return 0;
		}
		p->a.obj = find_obj(w, &amb);
		if (!p->a.obj) {
			candidates(NULL, w, cand, sizeof(cand));
			return cli_usage(NULL, amb ? "'%s' is ambiguous: %s" : "unknown object '%s'",
					 w, cand), -1;
		}
		p->a.cmd = default_cmd(p->a.obj);
		return 0;
	}
	if (!p->a.cmd) {
		if (!strcmp(w, "help")) {
			p->help = HELP_OBJ;
			return 0;
		}
		p->a.cmd = find_cmd(p->a.obj, w, &amb);
		if (!p->a.cmd) {
			candidates(p->a.obj, w, cand, sizeof(cand));
			return cli_usage(&p->a, amb ? "'%s %s' is ambiguous: %s" :
					 "%s: unknown command '%s'", p->a.obj->name, w, cand), -1;
		}
		return 0;
	}
	/* "mxshield attach help": a verb's help */
	if (p->a.obj->verb && p->a.npos == 0 && !strcmp(w, "help")) {
		p->help = HELP_OBJ;
		return 0;
	}
	if (p->a.npos >= CLI_MAX_POS || p->a.npos >= p->a.cmd->maxpos)
		return cli_usage(&p->a, "unexpected argument '%s'", w), -1;
	p->a.pos[p->a.npos++] = w;
	return 0;
}

static int parse(struct ctl *c, struct parse *p, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int g;

		if (p->end_of_opts || s[0] != '-' || !s[1]) {
			if (word(p, s))
				return -1;
			continue;
		}
		if (!strcmp(s, "--")) {
			p->end_of_opts = true;
			continue;
		}
		/* the command's own options first: a command may use a name
		 * that is also a global option's */
		if (p->a.cmd && !strncmp(s, "--", 2) &&
		    opt_index(p->a.cmd->opts, s + 2, strcspn(s + 2, "=")) >= 0) {
			if (cmd_opt(p, argc, argv, &i))
				return -1;
			continue;
		}
		g = global_opt(c, p, argc, argv, &i);
		if (g < 0)
			return -1;
		if (g)
			continue;
		if (!p->a.cmd && p->a.obj && implied_cmd(p->a.obj)) {
			p->a.cmd = implied_cmd(p->a.obj);
			if (cmd_opt(p, argc, argv, &i))
				return -1;
			continue;
		}
		if (!p->a.cmd && p->a.obj)
			return cli_usage(&p->a, "option '%s' before the command (it goes after: "
					 "'mxshield %s COMMAND %s')", s, p->a.obj->name, s), -1;
		if (!p->a.cmd)
			return cli_usage(NULL, "unknown option '%s'", s), -1;
		if (cmd_opt(p, argc, argv, &i))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ run */

/* Under --json: the command's output is kept until it ends, so that a
 * failed command prints {"error": ...} and nothing half-written. */
static int finish_json(struct ctl *c, FILE *mem, char **buf, size_t *len, int rc)
{
	const char *errs = ctl_errors();

	fclose(mem);
	if (rc == 0 || (c->json_result && jw_complete() && *len)) {
		if (*len)
			fwrite(*buf, 1, *len, stdout);
		else
			fputs("{}\n", stdout);	/* nothing to say: done */
		if (rc && errs)
			fprintf(stderr, "mxshield: %s\n", errs);
	} else {
		jw_start(stdout);
		jw_obj();
		jw_kstr("error", errs ? errs : "failed");
		jw_end_obj();
	}
	free(*buf);
	fflush(stdout);
	return rc;
}

/* Under --json, a streaming command (cli_cmd.stream) writes its lines to
 * stdout as they come: nothing is kept, and nothing was written before it
 * runs (the parse succeeded). */
static int run_stream(struct ctl *c, const struct cli_args *a, FILE *mem, char **buf)
{
	const char *errs;
	int rc;

	fclose(mem);
	free(*buf);
	jw_start(stdout);
	rc = a->cmd->fn(c, a);
	errs = ctl_errors();
	if (rc && !c->json_result) {
		jw_start(stdout);
		jw_obj();
		jw_kstr("error", errs ? errs : "failed");
		jw_end_obj();
	} else if (rc && errs) {
		fprintf(stderr, "mxshield: %s\n", errs);
	}
	fflush(stdout);
	return rc;
}

int cli_run(struct ctl *c, int argc, char **argv)
{
	struct parse p = {};
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	int rc;

	usage_ctx = &p.a;
	/* --json anywhere decides how even a usage error is printed */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json") ||
		    !strcmp(argv[i], "-p") || !strcmp(argv[i], "--pretty"))
			c->json = true;
	if (c->json) {
		mem = open_memstream(&buf, &len);
		if (!mem)
			return ctl_err("out of memory");
		ctl_errors_json(true);
		jw_start(mem);
	}
	rc = parse(c, &p, argc, argv) ? MXS_EXIT_USAGE : 0;
	if (!rc && p.a.obj && !p.a.cmd && !p.help)
		p.a.cmd = implied_cmd(p.a.obj);
	jw_pretty(c->pretty);
	if (!rc && p.version) {
		if (c->json) {
			jw_obj();
			jw_kstr("version", MXS_VERSION);
			jw_end_obj();
		} else {
			printf("mxshield %s\n", MXS_VERSION);
		}
	} else if (!rc && p.help) {
		/* help is text, on stdout, even under --json */
		if (p.help == HELP_CMD && p.a.cmd)
			cli_help_cmd(stdout, p.a.obj, p.a.cmd);
		else if (p.help >= HELP_OBJ && p.a.obj)
			cli_help_obj(stdout, p.a.obj);
		else
			cli_help_all(stdout);
		if (c->json) {
			fclose(mem);
			free(buf);
			return 0;
		}
	} else if (!rc && !p.a.obj) {
		if (!c->json)
			cli_help_all(stderr);
		rc = cli_usage(NULL, "missing OBJECT");
	} else if (!rc && !p.a.cmd) {
		rc = cli_usage(&p.a, "%s: missing command", p.a.obj->name);
	} else if (!rc && p.a.npos < p.a.cmd->minpos) {
		rc = cli_usage(&p.a, "missing %s", p.a.cmd->args ? : "argument");
	} else if (!rc && c->json && p.a.cmd->stream) {
		return run_stream(c, &p.a, mem, &buf);
	} else if (!rc) {
		rc = p.a.cmd->fn(c, &p.a);
	}
	if (c->json)
		return finish_json(c, mem, &buf, &len, rc);
	return rc;
}
