/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/cli.c: the command line, by bpftool's and ip's conventions.
 *
 *   mxshield [GLOBAL OPTIONS] OBJECT COMMAND [ARGS] [OPTIONS]
 *
 * Every CLI object is a struct cli_obj in a file of its own under
 * userspace/cmd/, holding a table of its commands. A command's row carries
 * everything about it: its handler, its positional arguments, its options
 * and one line of help; usage messages, `help`, `--help`, the man page and
 * the bash completion are all generated from these rows (cli_help(),
 * cli_man(), cli_completion()), so they cannot disagree with the parser.
 *
 * The parser takes global options anywhere on the line, unique prefixes of
 * objects and commands (`mxshield bl li`), `--opt value` and `--opt=value`,
 * and `--` to end the options. A handler gets its arguments checked
 * against its row: the count of positionals, known options, values where
 * a value is due, no option twice.
 *
 * Exit status: 0 done, 1 runtime error (ctl_err), 2 usage error
 * (cli_usage), 3 a read found no filter loaded (MXS_EXIT_NOT_LOADED).
 */
#ifndef MXS_CLI_H
#define MXS_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct ctl;

#define MXS_EXIT_USAGE 2
#define CLI_MAX_POS 8
#define CLI_MAX_OPTS 16

/* One option of a command: --NAME VALUE, or --NAME alone (a flag). */
struct cli_opt {
	const char *name;	/* without the dashes */
	const char *value;	/* the value's placeholder ("CIDR"); NULL: a flag */
	const char *help;	/* one line */
	const char *const *choices;	/* the values it takes, for completion
					 * and checking; NULL: free text */
};

struct cli_args;

struct cli_cmd {
	const char *name;	/* NULL in a verb's one row: "attach IFACE" */
	int (*fn)(struct ctl *c, const struct cli_args *a);
	const char *args;	/* synopsis of the positionals ("CIDR"), or NULL */
	int minpos, maxpos;
	const char *help;	/* one line, shown by `help` and in the man page */
	const struct cli_opt *opts;	/* terminated by a row with no name */
	/* Completion of the first positional: one of these words, or a
	 * class: "@file", "@iface", "@list-entry" (see cli_completion). */
	const char *const *pos_choices;
	const char *complete;
	/* The command streams (events): under --json it prints one JSON
	 * document a line as it goes, straight to stdout, instead of the one
	 * document cli_run() otherwise keeps until the command ends; an
	 * error then ends the stream with a last line {"error": ...}. */
	bool stream;
};

struct cli_obj {
	const char *name;
	const char *help;	/* one line */
	const struct cli_cmd *cmds;	/* terminated by a row with no fn */
	const void *data;	/* the handlers' own (an IP list's definition) */
	bool verb;		/* no COMMAND word: cmds[0] takes the line */
	const char *dflt;	/* the command when none is named ("stats") */
	const char *section;	/* heading in help and the man page */
	const char *more;	/* a paragraph for the man page, or NULL */
};

/* What a handler is given. */
struct cli_args {
	const struct cli_obj *obj;
	const struct cli_cmd *cmd;
	const char *pos[CLI_MAX_POS];
	int npos;
	const char *opt[CLI_MAX_OPTS];	/* parallel to cmd->opts; "" for a flag */
};

/* The value of option @name (NULL when not given; "" for a given flag). */
const char *cli_opt(const struct cli_args *a, const char *name);
static inline bool cli_flag(const struct cli_args *a, const char *name)
{
	return cli_opt(a, name) != NULL;
}

/* The global options, parsed anywhere on the line. */
struct cli_global {
	bool json, pretty, help, version;
	const char *state_dir, *bpffs_dir;
};

/* Every object, in the order of `help`: given by cli_set_objects() (the
 * table is cmd/objects.c's), read by the parser and the generators. */
extern const struct cli_obj *const *cli_objects;
extern int cli_nobjects;
void cli_set_objects(const struct cli_obj *const *objs, int n);

/* Parse argv and run the command. Returns the exit status. */
int cli_run(struct ctl *c, int argc, char **argv);

/* Print "usage error" with a reason and where to read more; returns
 * MXS_EXIT_USAGE. */
int cli_usage(const struct cli_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Help of everything, of one object, of one command. */
void cli_help_all(FILE *f);
void cli_help_obj(FILE *f, const struct cli_obj *o);
void cli_help_cmd(FILE *f, const struct cli_obj *o, const struct cli_cmd *k);
/* mxshield(8) in roff, and a bash completion script (make builds both
 * with `mxshield gen man|completion`). */
void cli_man(FILE *f);
void cli_completion(FILE *f);

#endif
