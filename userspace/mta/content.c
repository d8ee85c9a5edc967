// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The content checks (content.h). Text patterns are found in one pass
 * over the folded text whatever their number: every pattern is filed
 * under its first two bytes, and each position of the text looks up only
 * the patterns filed under the two bytes there (one-byte patterns under
 * one). Regular expressions are PCRE2, JIT-compiled when the rules are
 * built, each run with the match limits of content.h.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pcre2.h>
#include "../core/parse.h"
#include "envelope.h"
#include "language.h"
#include "mime.h"
#include "content.h"

static const char *const field_names[PAT_FIELD_MAX] = { "sender", "subject", "content" };

const char *pat_field_name(int f)
{
	return f >= 0 && f < PAT_FIELD_MAX ? field_names[f] : "?";
}

int pat_field_by_name(const char *s)
{
	for (int f = 0; f < PAT_FIELD_MAX; f++)
		if (s && !strcmp(s, field_names[f]))
			return f;
	return -1;
}

#define RE_OPTIONS (PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF)

static pcre2_code *re_compile(const char *in, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)in, PCRE2_ZERO_TERMINATED, RE_OPTIONS, &ec,
				       &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		mxs_fail(err, errlen, "'%s': bad regular expression at offset %zu: %s", in,
			 (size_t)off, (char *)msg);
	}
	return re;
}

int content_pattern_parse(bool regex, const char *in, char *out, size_t outlen, char *err,
			  size_t errlen)
{
	size_t n = strlen(in);

	if (!n || n >= outlen || n > 500)
		return mxs_fail(err, errlen, "'%s': patterns are 1-500 bytes", in);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] < 0x20)
			return mxs_fail(err, errlen, "'%s': control character in pattern", in);
	if (regex) {
		pcre2_code *re = re_compile(in, err, errlen);

		if (!re)
			return -1;
		pcre2_code_free(re);
		memcpy(out, in, n + 1);	/* a regex is kept as written */
		return 0;
	}
	memcpy(out, in, n + 1);
	mime_fold(out, n);
	return 0;
}

/* ------------------------------------------------------------- verdicts */

static int severity(uint8_t a)
{
	return a == MXS_ACT_REJECT ? 3 : a == MXS_ACT_QUARANTINE ? 2 : a == MXS_ACT_SPAM ? 1 : 0;
}

void content_escalate(struct content_verdict *v, uint8_t act, const char *fmt, ...)
{
	va_list ap;

	if (severity(act) <= severity(v->action))
		return;
	v->action = act;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

int content_header(struct content_verdict *v, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (v->nhdr >= CONTENT_MAX_HEADERS)
		return -1;
	snprintf(v->hdr[v->nhdr].name, sizeof(v->hdr[v->nhdr].name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(v->hdr[v->nhdr].value, sizeof(v->hdr[v->nhdr].value), fmt, ap);
	va_end(ap);
	v->nhdr++;
	return 0;
}

/* ---------------------------------------------------------------- rules */

struct pat {
	char *value;		/* as listed (the reason names it) */
	char *folded;		/* text: what is looked for */
	size_t len;
	uint8_t action;
	int64_t expires;	/* 0 never */
	pcre2_code *re;		/* regex */
	int next;		/* text: the next one under the same key, -1 */
};

/* The patterns of one field. */
struct field_rules {
	struct pat *p;
	int n;
	int32_t *first2;	/* [65536]: first pattern under two bytes, -1 */
	int32_t first1[256];	/* one-byte patterns */
	int nregex;
};

struct content_rules {
	struct field_rules f[PAT_FIELD_MAX];	/* [PAT_SENDER] unused */
	uint8_t empty_action;			/* MXS_ACT_NONE: off */
	pcre2_match_context *mctx;
	/* language rules, and the detector when there is one rule or more */
	struct lang_set lang;
	struct lang_detector *det;
};

static int field_add(struct field_rules *fr, const struct env_entry *e, char *err,
		     size_t errlen)
{
	struct pat *p = &fr->p[fr->n];

	memset(p, 0, sizeof(*p));
	p->value = strdup(e->value);
	p->action = e->action;
	p->expires = e->expires;
	p->next = -1;
	if (!p->value)
		return mxs_fail(err, errlen, "out of memory");
	if (e->regex) {
		p->re = re_compile(e->value, err, errlen);
		if (!p->re) {
			free(p->value);
			return -1;
		}
		/* JIT where the CPU has it; the interpreter otherwise */
		pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
		fr->nregex++;
	} else {
		uint8_t *b;

		p->len = strlen(e->value);
		p->folded = strdup(e->value);
		if (!p->folded) {
			free(p->value);
			return mxs_fail(err, errlen, "out of memory");
		}
		mime_fold(p->folded, p->len);
		b = (uint8_t *)p->folded;
		if (p->len == 1) {
			p->next = fr->first1[b[0]];
			fr->first1[b[0]] = fr->n;
		} else {
			unsigned key = b[0] << 8 | b[1];

			p->next = fr->first2[key];
			fr->first2[key] = fr->n;
		}
	}
	fr->n++;
	return 0;
}

struct content_rules *content_rules_build(const struct env_set *s, char *err, size_t errlen)
{
	struct content_rules *r = calloc(1, sizeof(*r));

	if (!r) {
		mxs_fail(err, errlen, "out of memory");
		return NULL;
	}
	r->empty_action = s->empty_action;
	r->lang = s->lang;
	r->lang.r = NULL;
	if (s->lang.n) {
		r->lang.r = malloc(s->lang.n * sizeof(*r->lang.r));
		if (!r->lang.r)
			goto oom;
		memcpy(r->lang.r, s->lang.r, s->lang.n * sizeof(*r->lang.r));
		/* the models, once per change of the lists, shared read-only */
		r->det = lang_detector_open(NULL, err, errlen);
		if (!r->det) {
			content_rules_free(r);
			return NULL;
		}
	}
	r->mctx = pcre2_match_context_create(NULL);
	if (!r->mctx)
		goto oom;
	pcre2_set_match_limit(r->mctx, CONTENT_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, CONTENT_DEPTH_LIMIT);
	pcre2_set_heap_limit(r->mctx, CONTENT_HEAP_LIMIT_KB);
	for (int f = PAT_SUBJECT; f < PAT_FIELD_MAX; f++) {
		struct field_rules *fr = &r->f[f];

		fr->p = calloc(s->n ? s->n : 1, sizeof(*fr->p));
		fr->first2 = malloc(65536 * sizeof(*fr->first2));
		if (!fr->p || !fr->first2)
			goto oom;
		memset(fr->first2, 0xff, 65536 * sizeof(*fr->first2));
		memset(fr->first1, 0xff, sizeof(fr->first1));
	}
	for (int i = 0; i < s->n; i++) {
		const struct env_entry *e = &s->e[i];

		if (e->kind != ENV_PATTERN || e->field == PAT_SENDER || e->field >= PAT_FIELD_MAX ||
		    e->list != ENV_BLOCK)
			continue;
		if (field_add(&r->f[e->field], e, err, errlen)) {
			content_rules_free(r);
			return NULL;
		}
	}
	return r;
oom:
	mxs_fail(err, errlen, "out of memory");
	content_rules_free(r);
	return NULL;
}

void content_rules_free(struct content_rules *r)
{
	if (!r)
		return;
	for (int f = 0; f < PAT_FIELD_MAX; f++) {
		for (int i = 0; i < r->f[f].n; i++) {
			free(r->f[f].p[i].value);
			free(r->f[f].p[i].folded);
			pcre2_code_free(r->f[f].p[i].re);
		}
		free(r->f[f].p);
		free(r->f[f].first2);
	}
	pcre2_match_context_free(r->mctx);
	free(r->lang.r);
	lang_detector_close(r->det);
	free(r);
}

int content_rules_count(const struct content_rules *r)
{
	return r->f[PAT_SUBJECT].n + r->f[PAT_CONTENT].n + (r->empty_action != MXS_ACT_NONE) +
	       r->lang.n;
}

/* --------------------------------------------------------------- checks */

static bool live(const struct pat *p, int64_t now)
{
	return !p->expires || p->expires > now;
}

/* The text patterns of @fr in @s[0..n) (folded). */
static void match_text(const struct field_rules *fr, int field, const char *s, size_t n,
		       int64_t now, struct content_verdict *v)
{
	const uint8_t *t = (const uint8_t *)s;

	if (fr->n == fr->nregex)
		return;
	for (size_t i = 0; i < n && v->action != MXS_ACT_REJECT; i++) {
		for (int j = fr->first1[t[i]]; j >= 0; j = fr->p[j].next)
			if (live(&fr->p[j], now))
				content_escalate(v, fr->p[j].action, "pattern %s \"%s\"",
						 pat_field_name(field), fr->p[j].value);
		if (i + 1 >= n)
			break;
		for (int j = fr->first2[t[i] << 8 | t[i + 1]]; j >= 0; j = fr->p[j].next) {
			const struct pat *p = &fr->p[j];

			if (p->len <= n - i && !memcmp(s + i + 2, p->folded + 2, p->len - 2) &&
			    live(p, now) && severity(p->action) > severity(v->action))
				content_escalate(v, p->action, "pattern %s \"%s\"",
						 pat_field_name(field), p->value);
		}
	}
}

static uint64_t stat_messages, stat_limit_hits, stat_truncated;

static void match_regex(const struct content_rules *r, const struct field_rules *fr, int field,
			const char *s, size_t n, int64_t now, pcre2_match_data *md,
			struct content_verdict *v)
{
	for (int j = 0; j < fr->n; j++) {
		const struct pat *p = &fr->p[j];
		int rc;

		if (!p->re || !live(p, now) || severity(p->action) <= severity(v->action))
			continue;
		rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, 0, 0, md, r->mctx);
		if (rc >= 0) {
			content_escalate(v, p->action, "pattern %s \"%s\"", pat_field_name(field),
					 p->value);
		} else if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
			   rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
			v->limit_hits++;
		}
	}
}

static void check_patterns(const struct content_rules *r, const struct msg_text *t,
			   struct content_verdict *v)
{
	int64_t now = time(NULL);
	pcre2_match_data *md = NULL;

	if (r->f[PAT_SUBJECT].nregex || r->f[PAT_CONTENT].nregex)
		md = pcre2_match_data_create(1, NULL);
	match_text(&r->f[PAT_SUBJECT], PAT_SUBJECT, t->subject_fold, t->subject_len, now, v);
	match_text(&r->f[PAT_CONTENT], PAT_CONTENT, t->body_fold, t->body_len, now, v);
	if (md) {
		match_regex(r, &r->f[PAT_SUBJECT], PAT_SUBJECT, t->subject, t->subject_len, now,
			    md, v);
		match_regex(r, &r->f[PAT_CONTENT], PAT_CONTENT, t->body, t->body_len, now, md, v);
		pcre2_match_data_free(md);
	}
}

/* Empty mail: a Subject that is missing or blank and a body whose text
 * parts are all blank (mime_blank), attachments aside. */
static void check_empty(const struct content_rules *r, const struct msg_text *t,
			struct content_verdict *v)
{
	if (r->empty_action == MXS_ACT_NONE)
		return;
	if (mime_blank(t->subject, t->subject_len) && mime_blank(t->body, t->body_len))
		content_escalate(v, r->empty_action, "empty mail");
}

/* The language (mta/language.h), once there is a language rule: detected
 * on a bounded sample of subject and body, recorded in a header whatever
 * the rules say, then the rules applied above the confidence threshold. */
static void check_language(const struct content_rules *r, const struct msg_text *t,
			   struct content_verdict *v)
{
	char sample[LANG_SAMPLE_MAX + 1], hv[64], why[128];
	struct lang_guess g;
	uint8_t act;
	size_t n;

	if (!r->det)
		return;
	n = lang_sample(t->subject, t->body, t->body_len, sample);
	if (lang_detect(r->det, sample, n, &g))
		return;
	lang_header_value(&g, hv, sizeof(hv));
	content_header(v, "X-Mxshield-Language", "%s", hv);
	act = lang_decide(&r->lang, &g, why, sizeof(why));
	if (act != MXS_ACT_NONE)
		content_escalate(v, act, "%s", why);
}

const struct content_check content_checks[] = {
	{ "patterns", check_patterns },
	{ "empty", check_empty },
	{ "language", check_language },
	{ NULL, NULL },
};

void content_run(const struct content_rules *r, const struct msg_text *t,
		 struct content_verdict *v)
{
	memset(v, 0, sizeof(*v));
	for (const struct content_check *c = content_checks; c->fn; c++)
		c->fn(r, t, v);
	content_stats_add(1, v->limit_hits, t->truncated);
}

void content_stats_get(struct content_stats *st)
{
	st->messages = __atomic_load_n(&stat_messages, __ATOMIC_RELAXED);
	st->limit_hits = __atomic_load_n(&stat_limit_hits, __ATOMIC_RELAXED);
	st->truncated = __atomic_load_n(&stat_truncated, __ATOMIC_RELAXED);
}

void content_stats_add(uint64_t messages, uint64_t limit_hits, uint64_t truncated)
{
	__atomic_add_fetch(&stat_messages, messages, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stat_limit_hits, limit_hits, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stat_truncated, truncated, __ATOMIC_RELAXED);
}
