/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/listfmt.c: the formats an IP list is published in, line by line:
 * mxshield's own (plain, csv), Spamhaus DROP/EDROP text and DROP JSON
 * lines, FireHOL netsets, AbuseIPDB's blacklist CSV and Postfix
 * cidr_table(5) files. Each line gives at most one entry: a prefix, and
 * what the format says of it (an action, an expiry, a score, a comment).
 *
 * The caller reads the lines (core/input.c: gzip, NUL and control bytes,
 * UTF-8, blanks and '#' comments are its business) and feeds them here in
 * order; this file knows nothing of stores or lists beyond the three facts
 * in struct listfmt. Use:
 *
 *	struct listfmt lf;
 *	struct listfmt_ent e;
 *
 *	listfmt_init(&lf, kind, "block", true, true, time(NULL));
 *	(kind LISTFMT_AUTO: first listfmt_detect() over the first lines)
 *	for each content line:
 *		switch (listfmt_line(&lf, line, &e, err, sizeof(err))) {
 *		case LISTFMT_ENTRY: use e; break;
 *		case LISTFMT_SKIP:  not an entry (header, comment, below
 *				    --min-score, a Postfix OK line ...); break;
 *		case LISTFMT_ERR:   "FILE:LINE: err"; }
 *	listfmt_end(&lf, err, sizeof(err)): the checks of the whole file
 *	(DROP JSON's record count); an error there means the file is cut or
 *	damaged: apply nothing, whatever --skip-invalid says.
 */
#ifndef MXS_LISTFMT_H
#define MXS_LISTFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "parse.h"

enum listfmt_kind {
	LISTFMT_AUTO,		/* not a format: detect it (listfmt_detect) */
	LISTFMT_PLAIN,		/* one address or CIDR a line (CSV columns read as csv) */
	LISTFMT_CSV,		/* address[,action[,expiry[,comment]]]: `list --format import` */
	LISTFMT_DROP,		/* Spamhaus DROP/EDROP: "a.b.c.d/n ; SBL123", ';' comments */
	LISTFMT_DROP_JSON,	/* Spamhaus DROP JSON lines, a metadata line last */
	LISTFMT_NETSET,		/* FireHOL netset: addresses and CIDRs only */
	LISTFMT_ABUSEIPDB,	/* AbuseIPDB blacklist CSV, header first */
	LISTFMT_POSTFIX_CIDR,	/* Postfix cidr_table(5): "a.b.c.d/n ACTION text" */
	LISTFMT_N
};

/* The names by kind ("auto", "plain", "csv", "drop", "drop-json", "netset",
 * "abuseipdb", "postfix-cidr"), NULL-terminated: the CLI's choices. */
extern const char *const listfmt_names[];
/* The kind named @name, or -1. */
int listfmt_kind(const char *name);

/* AbuseIPDB lines scoring below this are skipped unless min_score says
 * otherwise: a confidence of 75% is where AbuseIPDB's own guidance
 * starts to call an address abusive, and a NIC drop is final. */
#define LISTFMT_MIN_SCORE 75

/* Comments composed from a line are cut to this many bytes (at a UTF-8
 * character boundary), the limit of an entry's comment. */
#define LISTFMT_COMMENT_MAX 200

struct listfmt {
	/* set by listfmt_init; the caller may change min_score before the
	 * first line */
	enum listfmt_kind kind;
	const char *list;	/* the target list's name, for messages */
	bool actions;		/* its entries carry an action (block) */
	bool expiries;		/* its entries expire */
	int min_score;		/* abuseipdb: 0-100 */
	int64_t now;		/* csv: durations count from here */

	/* counts, for the report */
	long lines;		/* lines given to listfmt_line */
	long entries;		/* ... that gave an entry */
	long skipped;		/* ... that are not entries by the format's rules
				 * (below min_score, a Postfix line that is not a
				 * block, or a block for a list without actions);
				 * headers and comments are not counted */
	long below_score;	/* of skipped: below min_score */

	/* private */
	long records;		/* drop-json: data lines */
	long meta_records;	/* drop-json: what the metadata line says, -1: nothing */
	bool meta;		/* drop-json: the metadata line was read */
	bool header;		/* abuseipdb: the header was read */
	int col_ip, col_cc, col_score, col_last, ncols;
};

/* One entry, as the line gives it. */
struct listfmt_ent {
	struct mxs_prefix pfx;
	uint8_t action;		/* MXS_ACT_*; MXS_ACT_NONE: the line names none
				 * (the import's default applies) */
	int64_t expires;	/* csv: 0 never (or not given) */
	int score;		/* abuseipdb: 0-100; -1 for the other formats */
	const char *comment;	/* NULL: the line has none (an update keeps the
				 * entry's comment); in the line or in buf */
	char buf[LISTFMT_COMMENT_MAX + 56];
};

enum { LISTFMT_ERR = -1, LISTFMT_SKIP = 0, LISTFMT_ENTRY = 1 };

/* Start reading a file of @kind (not LISTFMT_AUTO) for list @list, whose
 * entries carry actions and/or expiries as @actions and @expiries say.
 * For Postfix files, a list without actions (trust, gateway) takes the
 * lines that let mail through (OK, PERMIT, RELAY), a list with actions
 * those that stop it. */
void listfmt_init(struct listfmt *lf, enum listfmt_kind kind, const char *list, bool actions,
		  bool expiries, int64_t now);
/* The format of a file from its first @n content lines (what core/input.c
 * returns: trimmed, no '#' comments; 16 are plenty): *kind, or -1 with
 * @err when they do not tell one format (asks for --format). No lines:
 * plain. */
int listfmt_detect(const char *const *lines, size_t n, enum listfmt_kind *kind, char *err,
		   size_t errlen);
/* One content line (cut up in place) into @e: LISTFMT_ENTRY, LISTFMT_SKIP,
 * or LISTFMT_ERR with @err (no file or line number: the caller has them).
 * e->comment may point into @line or into @e. */
int listfmt_line(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err,
		 size_t errlen);
/* After the last line: 0, or -1 with @err when the file as a whole is not
 * what its format promises (a DROP JSON file without its metadata line or
 * with another record count than the metadata line says). */
int listfmt_end(struct listfmt *lf, char *err, size_t errlen);

#endif
