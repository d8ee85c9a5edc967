// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The formats of published IP lists, one line at a time (listfmt.h).
 * Each parser takes a line that core/input.c has already checked (no
 * control bytes but TAB, valid UTF-8, blanks cut at both ends, '#'
 * comments gone) and says what it holds; nothing here allocates or
 * remembers more than a few counters between lines, so a million-line
 * feed costs what its lines cost.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include "listfmt.h"
#include "utf8.h"

const char *const listfmt_names[] = {
	[LISTFMT_AUTO] = "auto",
	[LISTFMT_PLAIN] = "plain",
	[LISTFMT_CSV] = "csv",
	[LISTFMT_DROP] = "drop",
	[LISTFMT_DROP_JSON] = "drop-json",
	[LISTFMT_NETSET] = "netset",
	[LISTFMT_ABUSEIPDB] = "abuseipdb",
	[LISTFMT_POSTFIX_CIDR] = "postfix-cidr",
	[LISTFMT_N] = NULL,
};

int listfmt_kind(const char *name)
{
	for (int k = 0; k < LISTFMT_N; k++)
		if (name && !strcmp(name, listfmt_names[k]))
			return k;
	return -1;
}

void listfmt_init(struct listfmt *lf, enum listfmt_kind kind, const char *list, bool actions,
		  bool expiries, int64_t now)
{
	memset(lf, 0, sizeof(*lf));
	lf->kind = kind;
	lf->list = list;
	lf->actions = actions;
	lf->expiries = expiries;
	lf->min_score = LISTFMT_MIN_SCORE;
	lf->now = now;
	lf->meta_records = -1;
	lf->col_ip = lf->col_cc = lf->col_score = lf->col_last = -1;
}

/* ------------------------------------------------------------ helpers */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (blank(*s))
		s++;
	while (end > s && blank(end[-1]))
		*--end = '\0';
	return s;
}

/* The entry's comment from a format: TABs become spaces, and a comment
 * longer than an entry may keep is cut at a character boundary (a feed's
 * long remark is not worth refusing the feed for). What is left must be
 * text: a JSON escape can still smuggle in a control byte. */
static int compose(struct listfmt_ent *e, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(e->buf, sizeof(e->buf), fmt, ap);
	va_end(ap);
	for (char *c = e->buf; *c; c++)
		if (*c == '\t')
			*c = ' ';
	n = strlen(e->buf);
	if (n > LISTFMT_COMMENT_MAX) {
		n = LISTFMT_COMMENT_MAX;
		while (n && ((unsigned char)e->buf[n] & 0xc0) == 0x80)
			n--;
		e->buf[n] = '\0';
	}
	if (utf8_text_check("comment", e->buf, err, errlen))
		return -1;
	e->comment = e->buf[0] ? e->buf : NULL;
	return 0;
}

/* ------------------------------------------------- plain, csv, netset */

/* CSV "address[,action[,expiry[,comment]]]", mxshield's own: what
 * `list --format import` writes. The comment keeps its commas; blanks
 * (spaces) around the first three columns are cut. */
static int parse_csv(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err,
		     size_t errlen)
{
	char *cols[4] = { 0 }, *q;
	int nc = 0;

	for (q = line; nc < 4; nc++) {
		cols[nc] = q;
		if (nc == 3) {
			nc++;
			break;
		}
		q = strchr(q, ',');
		if (!q) {
			nc++;
			break;
		}
		*q++ = '\0';
	}
	for (int k = 0; k < nc && k < 3; k++) {
		char *end = cols[k] + strlen(cols[k]);

		while (*cols[k] == ' ')
			cols[k]++;
		while (end > cols[k] && end[-1] == ' ')
			*--end = '\0';
	}
	if (parse_prefix(cols[0], &e->pfx, err, errlen))
		return LISTFMT_ERR;
	if (nc > 1 && *cols[1]) {
		if (!lf->actions)
			return mxs_fail(err, errlen, "%s entries have no action", lf->list);
		if (parse_action(cols[1], &e->action, err, errlen))
			return LISTFMT_ERR;
	}
	if (nc > 2 && *cols[2]) {
		if (!lf->expiries)
			return mxs_fail(err, errlen, "%s entries do not expire", lf->list);
		if (parse_expiry(cols[2], lf->now, &e->expires, err, errlen))
			return LISTFMT_ERR;
	}
	if (nc > 3 && (strlen(cols[3]) > LISTFMT_COMMENT_MAX || strpbrk(cols[3], "\t\r\n")))
		return mxs_fail(err, errlen, "comment too long or with control characters");
	e->comment = nc > 3 ? cols[3] : NULL;
	return LISTFMT_ENTRY;
}

/* FireHOL netset (and ipset): an address or CIDR alone on its line. */
static int parse_netset(char *line, struct listfmt_ent *e, char *err, size_t errlen)
{
	if (strpbrk(line, " \t,;"))
		return mxs_fail(err, errlen, "'%s': a netset line is one address or CIDR alone", line);
	return parse_prefix(line, &e->pfx, err, errlen) ? LISTFMT_ERR : LISTFMT_ENTRY;
}

/* ------------------------------------------------------ Spamhaus DROP */

/* "a.b.c.d/n ; SBL123": the text after ';' is the comment; lines that
 * start with ';' are the file's header and remarks. */
static int parse_drop(char *line, struct listfmt_ent *e, char *err, size_t errlen)
{
	char *semi, *pfx;

	if (*line == ';')
		return LISTFMT_SKIP;
	semi = strchr(line, ';');
	if (semi)
		*semi++ = '\0';
	pfx = trim(line);
	if (strpbrk(pfx, " \t,"))
		return mxs_fail(err, errlen, "'%s': expected 'PREFIX ; SBLID'", pfx);
	if (parse_prefix(pfx, &e->pfx, err, errlen))
		return LISTFMT_ERR;
	if (semi && compose(e, err, errlen, "%s", trim(semi)))
		return LISTFMT_ERR;
	return LISTFMT_ENTRY;
}

/* ------------------------------------------------- Spamhaus DROP JSON */

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

/* The metadata line: {"type":"metadata","timestamp":...,"size":...,
 * "records":N,...}; N, when given, is checked by listfmt_end. */
static int drop_meta(struct listfmt *lf, struct json_object *o, char *err, size_t errlen)
{
	struct json_object *v;

	if (lf->meta)
		return mxs_fail(err, errlen, "a second metadata line");
	lf->meta = true;
	if (!json_object_object_get_ex(o, "records", &v))
		return LISTFMT_SKIP;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return mxs_fail(err, errlen, "the metadata's \"records\" is not a count");
	lf->meta_records = json_object_get_int64(v);
	return LISTFMT_SKIP;
}

static int drop_record(struct listfmt *lf, struct json_object *o, struct listfmt_ent *e,
		       char *err, size_t errlen)
{
	const char *cidr = jstr(o, "cidr"), *sbl = jstr(o, "sblid"), *rir = jstr(o, "rir");

	if (lf->meta)
		return mxs_fail(err, errlen, "a record after the metadata line (it ends the file)");
	if (!cidr && json_object_object_get_ex(o, "asn", NULL))
		return mxs_fail(err, errlen, "an ASN-DROP record: it names networks, not addresses "
			    "(import drop_v4.json or drop_v6.json)");
	if (!cidr)
		return mxs_fail(err, errlen, "a record without a \"cidr\" string");
	if (parse_prefix(cidr, &e->pfx, err, errlen))
		return LISTFMT_ERR;
	if (compose(e, err, errlen, "%s%s%s", sbl ? sbl : "", sbl && rir ? " " : "",
		    rir ? rir : ""))
		return LISTFMT_ERR;
	return LISTFMT_ENTRY;
}

static int parse_drop_json(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err,
			   size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t len = strlen(line);
	const char *type;
	int rc;

	if (!tok)
		return mxs_fail(err, errlen, "out of memory");
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o && json_tokener_get_parse_end(tok) == len && json_object_is_type(o, json_type_object) &&
	    (type = jstr(o, "type")) && !strcmp(type, "metadata")) {
		rc = drop_meta(lf, o, err, errlen);
		goto out;
	}
	lf->records++;	/* anything else was meant as a record, damaged or not */
	if (*line != '{')	/* (json-c reads "192.0.2.0/24" as a number and more) */
		rc = mxs_fail(err, errlen, "not a JSON object (one object a line)");
	else if (json_tokener_get_error(tok) == json_tokener_continue)
		rc = mxs_fail(err, errlen, "a JSON object cut short");
	else if (!o)
		rc = mxs_fail(err, errlen, "not JSON: %s",
			      json_tokener_error_desc(json_tokener_get_error(tok)));
	else if (json_tokener_get_parse_end(tok) < len)
		rc = mxs_fail(err, errlen, "text after the JSON object (one object a line)");
	else if (!json_object_is_type(o, json_type_object))
		rc = mxs_fail(err, errlen, "not a JSON object (one object a line)");
	else
		rc = drop_record(lf, o, e, err, errlen);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

/* ---------------------------------------------------- AbuseIPDB CSV */

#define MAX_COLS 32

/* RFC 4180 fields: "quoted" (with "" for a quote) or bare, blanks around
 * bare ones cut. The number of fields, or -1. */
static int csv_fields(char *line, char **f, char *err, size_t errlen)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *out;

		if (n == MAX_COLS)
			return mxs_fail(err, errlen, "more than %d columns", MAX_COLS);
		while (blank(*p))
			p++;
		if (*p == '"') {
			f[n++] = out = ++p;
			for (;; p++) {
				if (!*p)
					return mxs_fail(err, errlen, "a quoted column without its "
							"closing quote");
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				*out++ = *p;
			}
			*out = '\0';
			p++;
			while (blank(*p))
				p++;
			if (*p && *p != ',')
				return mxs_fail(err, errlen, "text after a quoted column");
		} else {
			f[n++] = p;
			p += strcspn(p, ",");
			out = p;
			while (out > f[n - 1] && blank(out[-1]))
				out--;
			if (out < p)	/* blanks before the comma or the end */
				*out = '\0';
		}
		if (!*p)
			return n;
		*p++ = '\0';
	}
}

static bool abuse_is_header(char **f, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(f[i], "ipAddress"))
			return true;
	return false;
}

static int abuse_header(struct listfmt *lf, char **f, int n, char *err, size_t errlen)
{
	static const char *const names[] = { "ipAddress", "countryCode", "abuseConfidenceScore",
					     "lastReportedAt" };
	int *cols[] = { &lf->col_ip, &lf->col_cc, &lf->col_score, &lf->col_last };

	if (!abuse_is_header(f, n))
		return mxs_fail(err, errlen, "the first line must be AbuseIPDB's header "
			    "(ipAddress,countryCode,abuseConfidenceScore,lastReportedAt)");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 4; k++) {
			if (strcasecmp(f[i], names[k]))
				continue;
			if (*cols[k] >= 0)
				return mxs_fail(err, errlen, "column %s twice in the header",
						names[k]);
			*cols[k] = i;
		}
	if (lf->col_score < 0 && lf->min_score > 0)
		return mxs_fail(err, errlen, "no abuseConfidenceScore column: a minimum score "
			    "of %d cannot apply (--min-score 0 takes every line)", lf->min_score);
	lf->ncols = n;
	lf->header = true;
	return LISTFMT_SKIP;
}

static int parse_abuseipdb(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err,
			   size_t errlen)
{
	char *f[MAX_COLS], *end;
	const char *cc = "", *last = "";
	int n = csv_fields(line, f, err, errlen);
	long score = -1;

	if (n < 0)
		return LISTFMT_ERR;
	if (!lf->header)
		return abuse_header(lf, f, n, err, errlen);
	if (n != lf->ncols)
		return mxs_fail(err, errlen, "%d column%s, the header has %d", n, n == 1 ? "" : "s",
				lf->ncols);
	if (parse_prefix(f[lf->col_ip], &e->pfx, err, errlen))
		return LISTFMT_ERR;
	if (lf->col_score >= 0) {
		const char *s = f[lf->col_score];

		score = strtol(s, &end, 10);
		if (!isdigit((unsigned char)*s) || *end || score > 100)
			return mxs_fail(err, errlen, "abuseConfidenceScore '%s': not 0-100", s);
		e->score = score;
		if (score < lf->min_score) {
			lf->below_score++;
			lf->skipped++;
			return LISTFMT_SKIP;
		}
	}
	if (lf->col_cc >= 0)
		cc = f[lf->col_cc];
	if (lf->col_last >= 0)
		last = f[lf->col_last];
	if (score >= 0 ? compose(e, err, errlen, "abuseipdb score %ld%s%s%s%s", score, *cc ? " " : "",
				 cc, *last ? ", last reported " : "", last) :
			 compose(e, err, errlen, "abuseipdb%s%s%s%s", *cc ? " " : "", cc,
				 *last ? ", last reported " : "", last))
		return LISTFMT_ERR;
	return LISTFMT_ENTRY;
}

/* ------------------------------------------------ Postfix cidr_table */

/* What a Postfix access(5) result means for a list. */
enum pf_class { PF_BLOCK, PF_PASS, PF_NEUTRAL };

static const struct pf_action {
	const char *word;
	enum pf_class cls;
	uint8_t action;
} pf_actions[] = {
	{ "REJECT", PF_BLOCK, MXS_ACT_REJECT },
	{ "DEFER", PF_BLOCK, MXS_ACT_REJECT },	/* 4xx: turned away, to come back */
	{ "HOLD", PF_BLOCK, MXS_ACT_QUARANTINE },
	{ "DISCARD", PF_BLOCK, MXS_ACT_DROP },	/* never delivered: nothing to hand on */
	{ "OK", PF_PASS },
	{ "PERMIT", PF_PASS },
	{ "RELAY", PF_PASS },
	/* neither stop nor pass: no decision, conditions, or a mark */
	{ "DUNNO", PF_NEUTRAL },
	{ "DEFER_IF_REJECT", PF_NEUTRAL },
	{ "DEFER_IF_PERMIT", PF_NEUTRAL },
	{ "WARN", PF_NEUTRAL },
	{ "INFO", PF_NEUTRAL },
	{ "PREPEND", PF_NEUTRAL },
	{ "FILTER", PF_NEUTRAL },
	{ "REDIRECT", PF_NEUTRAL },
	{ "BCC", PF_NEUTRAL },
};

static int pf_result(const char *w, bool text, enum pf_class *cls, uint8_t *act, char *err,
		     size_t errlen)
{
	size_t n = strlen(w);

	/* all digits: Postfix takes it as OK (a pop-before-smtp time stamp) */
	if (n && strspn(w, "0123456789") == n) {
		if (n == 3 && (w[0] == '4' || w[0] == '5') && text) {
			*cls = PF_BLOCK;	/* "4NN text", "5NN text" */
			*act = MXS_ACT_REJECT;
		} else {
			*cls = PF_PASS;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(pf_actions) / sizeof(pf_actions[0]); i++)
		if (!strcasecmp(w, pf_actions[i].word)) {
			*cls = pf_actions[i].cls;
			*act = pf_actions[i].action;
			return 0;
		}
	return mxs_fail(err, errlen, "'%s': not a Postfix action this import reads (REJECT, "
		    "DEFER, 4NN/5NN text, HOLD, DISCARD block; OK, PERMIT, RELAY pass; DUNNO, "
		    "WARN, INFO, PREPEND, FILTER, REDIRECT, BCC, DEFER_IF_* are skipped)", w);
}

/* A cidr_table pattern: "a.b.c.d/n", "a.b.c.d", with the address part in
 * brackets or not ("[2001:db8::]/32", "[2001:db8::/32]"). */
static int pf_pattern(const char *tok, struct mxs_prefix *p, char *err, size_t errlen)
{
	char buf[128];
	const char *close, *slash = strchr(tok, '/');

	if (*tok != '[')
		return parse_prefix(tok, p, err, errlen);
	close = strchr(tok, ']');
	if (!close || (close[1] && close[1] != '/') || strlen(tok) >= sizeof(buf))
		return mxs_fail(err, errlen, "'%s': not an address pattern", tok);
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(close - tok - 1), tok + 1, close + 1);
	if (strchr(buf, '[') || strchr(buf, ']') || (close[1] && slash && slash < close))
		return mxs_fail(err, errlen, "'%s': not an address pattern", tok);
	return parse_prefix(buf, p, err, errlen);
}

static int parse_postfix(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err,
			 size_t errlen)
{
	char *pat = line, *word, *text;
	enum pf_class cls = PF_NEUTRAL;
	uint8_t act = MXS_ACT_NONE;

	word = pat + strcspn(pat, " \t");
	if (*word)
		*word++ = '\0';
	word = trim(word);
	if (!strcmp(pat, "if") || !strcmp(pat, "endif"))
		return mxs_fail(err, errlen, "'%s': if/endif blocks are not read (one rule a line, "
			    "without conditions)", pat);
	if (*pat == '!')
		return mxs_fail(err, errlen, "'%s': a negated pattern matches every other address, "
			    "not a list of them", pat);
	if (pf_pattern(pat, &e->pfx, err, errlen)) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (a continued line? one rule a line)");
		return LISTFMT_ERR;
	}
	if (!*word)
		return mxs_fail(err, errlen, "no result after the pattern (e.g. REJECT)");
	text = word + strcspn(word, " \t");
	if (*text)
		*text++ = '\0';
	text = trim(text);
	if (pf_result(word, *text, &cls, &act, err, errlen))
		return LISTFMT_ERR;
	if (cls == PF_NEUTRAL || (cls == PF_BLOCK) != lf->actions) {
		lf->skipped++;
		return LISTFMT_SKIP;
	}
	e->action = cls == PF_BLOCK ? act : MXS_ACT_NONE;
	if (*text && compose(e, err, errlen, "%s", text))
		return LISTFMT_ERR;
	return LISTFMT_ENTRY;
}

/* ------------------------------------------------------------ dispatch */

int listfmt_line(struct listfmt *lf, char *line, struct listfmt_ent *e, char *err, size_t errlen)
{
	int rc;

	memset(e, 0, offsetof(struct listfmt_ent, buf));
	e->buf[0] = '\0';
	e->score = -1;
	lf->lines++;
	switch (lf->kind) {
	case LISTFMT_PLAIN:
	case LISTFMT_CSV:
		rc = parse_csv(lf, line, e, err, errlen);
		break;
	case LISTFMT_NETSET:
		rc = parse_netset(line, e, err, errlen);
		break;
	case LISTFMT_DROP:
		rc = parse_drop(line, e, err, errlen);
		break;
	case LISTFMT_DROP_JSON:
		rc = parse_drop_json(lf, line, e, err, errlen);
		break;
	case LISTFMT_ABUSEIPDB:
		rc = parse_abuseipdb(lf, line, e, err, errlen);
		break;
	case LISTFMT_POSTFIX_CIDR:
		rc = parse_postfix(lf, line, e, err, errlen);
		break;
	default:
		rc = mxs_fail(err, errlen, "no format chosen");
	}
	if (rc == LISTFMT_ENTRY)
		lf->entries++;
	return rc;
}

int listfmt_end(struct listfmt *lf, char *err, size_t errlen)
{
	if (lf->kind == LISTFMT_ABUSEIPDB && lf->lines && !lf->header)
		return mxs_fail(err, errlen, "no AbuseIPDB header line");
	if (lf->kind != LISTFMT_DROP_JSON || !lf->lines)
		return 0;
	if (!lf->meta)
		return mxs_fail(err, errlen, "no metadata line at the end: the file is cut short "
			    "(Spamhaus DROP JSON ends with {\"type\":\"metadata\",...})");
	if (lf->meta_records >= 0 && lf->meta_records != lf->records)
		return mxs_fail(err, errlen, "the metadata line says %ld record%s, the file has %ld: "
			    "truncated or damaged", lf->meta_records,
			    lf->meta_records == 1 ? "" : "s", lf->records);
	return 0;
}

/* ----------------------------------------------------------- detection */

/* What one line looks like. */
enum look { L_BARE, L_CSV, L_DROP, L_POSTFIX, L_JSON, L_HEADER, L_OTHER };

static const enum listfmt_kind look_kind[] = {
	[L_BARE] = LISTFMT_PLAIN, [L_CSV] = LISTFMT_CSV, [L_DROP] = LISTFMT_DROP,
	[L_POSTFIX] = LISTFMT_POSTFIX_CIDR, [L_JSON] = LISTFMT_DROP_JSON,
	[L_HEADER] = LISTFMT_ABUSEIPDB,
};

static enum look look_at(const char *line)
{
	char buf[4096], tok[256], *f[MAX_COLS], err[MXS_ERRLEN];
	struct mxs_prefix p;
	const char *rest;
	size_t n;
	int nf;

	if (*line == '{')
		return L_JSON;
	if (*line == ';')
		return L_DROP;
	snprintf(buf, sizeof(buf), "%s", line);
	nf = csv_fields(buf, f, err, sizeof(err));
	if (nf > 1 && abuse_is_header(f, nf))
		return L_HEADER;
	n = strcspn(line, " \t,;");
	if (n >= sizeof(tok))
		return L_OTHER;
	memcpy(tok, line, n);
	tok[n] = '\0';
	rest = line + n;
	while (blank(*rest))
		rest++;
	if (!strcmp(tok, "if") || !strcmp(tok, "endif") || *tok == '!')
		return L_POSTFIX;
	if (pf_pattern(tok, &p, err, sizeof(err)))
		return L_OTHER;
	if (!*rest)
		return *tok == '[' ? L_OTHER : L_BARE;
	if (*rest == ';')
		return L_DROP;
	if (*rest == ',')
		return *tok == '[' ? L_OTHER : L_CSV;
	return rest > line + n ? L_POSTFIX : L_OTHER;
}

int listfmt_detect(const char *const *lines, size_t n, enum listfmt_kind *kind, char *err,
		   size_t errlen)
{
	/* the first line of each strong look, to name them when they clash */
	const char *seen[L_OTHER + 1] = { 0 };
	enum look first = n ? look_at(lines[0]) : L_BARE;
	int strong = 0;

	*kind = LISTFMT_PLAIN;
	if (!n)
		return 0;
	if (first == L_JSON || first == L_HEADER) {
		*kind = look_kind[first];
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		enum look l = look_at(lines[i]);

		if (!seen[l])
			seen[l] = lines[i];
	}
	for (enum look l = L_CSV; l <= L_POSTFIX; l++) {
		if (!seen[l])
			continue;
		if (strong) {
			enum look a = strong;

			return mxs_fail(err, errlen, "the first lines look like %s ('%.40s') and "
				    "like %s ('%.40s'): say which with --format",
				    listfmt_names[look_kind[a]], seen[a],
				    listfmt_names[look_kind[l]], seen[l]);
		}
		strong = l;
	}
	if (strong)
		*kind = look_kind[strong];
	else if (!seen[L_BARE])
		*kind = LISTFMT_CSV;	/* nothing readable: csv reports each line */
	return 0;
}
