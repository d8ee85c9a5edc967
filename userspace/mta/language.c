// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Language rules and language detection (see language.h). The detection
 * is libexttextcat's (the Cavnar-Trenkle n-gram "out of place" distance,
 * as in LibreOffice's language guesser); this file loads the models
 * itself through the fingerprint API rather than textcat_Classify(), for
 * two reasons: textcat_Classify() names no runner-up beyond 3 % of the
 * best distance, so it gives nothing to build a confidence from; and the
 * models whose tag is no ISO 639-1 code (Scots, Rusyn, Asturian ...) are
 * left out, since no rule can name them and, measured, they took short
 * samples of English, Russian and Spanish away from the right answer.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libexttextcat/fingerprint.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "../state/recfile.h"
#include "language.h"

/* ISO 639-1 (with the withdrawn "sh", which libexttextcat has a model for) */
static const char iso639_1[] =
	"aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs "
	"cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha "
	"he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn "
	"ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb "
	"nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd "
	"se sg sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt "
	"tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

bool lang_code_valid(const char *code)
{
	if (!code || strlen(code) != 2 || !islower((unsigned char)code[0]) ||
	    !islower((unsigned char)code[1]))
		return false;
	for (const char *p = iso639_1; *p; p += 3)
		if (p[0] == code[0] && p[1] == code[1])
			return true;
	return false;
}

int lang_action_by_name(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "allow"))
		return LANG_ALLOW;
	if (!strcmp(s, "spam"))
		return MXS_ACT_SPAM;
	if (!strcmp(s, "quarantine"))
		return MXS_ACT_QUARANTINE;
	if (!strcmp(s, "reject"))
		return MXS_ACT_REJECT;
	return -1;
}

const char *lang_action_name(uint8_t a)
{
	return a == LANG_ALLOW ? "allow" : a == MXS_ACT_NONE ? "none" : action_name(a);
}

/* ------------------------------------------------------------------ rules */

void lang_free(struct lang_set *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
	s->threshold = LANG_THRESHOLD_DEFAULT;
}

bool lang_any_allow(const struct lang_set *s)
{
	for (int i = 0; i < s->n; i++)
		if (s->r[i].action == LANG_ALLOW)
			return true;
	return false;
}

int lang_load(const struct ctl *c, struct lang_set *s, char *err, size_t errlen)
{
	struct recfile f;
	char p[4096];

	memset(s, 0, sizeof(*s));
	s->threshold = LANG_THRESHOLD_DEFAULT;
	state_path(c, ST_LANGUAGE, p, sizeof(p));
	if (state_read(p, &f, err, errlen))
		return -1;
	s->r = calloc(f.n ? f.n : 1, sizeof(*s->r));
	if (!s->r) {
		recfile_free(&f);
		return mxs_fail(err, errlen, "out of memory");
	}
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];
		const char *kind = rec_get(r, "kind") ? : "", *v;
		int a = lang_action_by_name(rec_get(r, "action"));

		if (!strcmp(kind, "rule")) {
			v = rec_get(r, "code");
			if (!lang_code_valid(v) || a < 0)
				goto bad;
			memcpy(s->r[s->n].code, v, 3);
			s->r[s->n++].action = a;
		} else if (!strcmp(kind, "other")) {
			v = rec_get(r, "action");
			if (v && !strcmp(v, "none"))
				s->other = MXS_ACT_NONE;
			else if (a < 0 || a == LANG_ALLOW)
				goto bad;
			else
				s->other = a;
		} else if (!strcmp(kind, "threshold")) {
			char *end;
			double t;

			v = rec_get(r, "value");
			t = v ? strtod(v, &end) : NAN;
			if (!v || *end || !(t >= 0 && t <= 1))
				goto bad;
			s->threshold = t;
		} else {
			goto bad;
		}
		continue;
bad:
		snprintf(err, errlen, "language:%d: bad record", r->line);
		recfile_free(&f);
		lang_free(s);
		return -1;
	}
	recfile_free(&f);
	return 0;
}

uint8_t lang_decide(const struct lang_set *s, const struct lang_guess *g, char *reason,
		    size_t rlen)
{
	snprintf(reason, rlen, "%s", "");
	if (!g->known || g->confidence < s->threshold)
		return MXS_ACT_NONE;
	for (int i = 0; i < s->n; i++) {
		if (strcmp(s->r[i].code, g->code))
			continue;
		if (s->r[i].action == LANG_ALLOW)
			return MXS_ACT_NONE;
		snprintf(reason, rlen, "language %s", g->code);
		return s->r[i].action;
	}
	if (s->other != MXS_ACT_NONE && lang_any_allow(s)) {
		snprintf(reason, rlen, "language %s: not an allowed language", g->code);
		return s->other;
	}
	return MXS_ACT_NONE;
}

/* -------------------------------------------------------------- detection */

/* libexttextcat's defaults: the 400 most frequent n-grams of a text */
#define LANG_NGRAMS 400

struct lang_model {
	void *fp;
	char code[3];
};

struct lang_detector {
	struct lang_model *m;
	int n;
};

void lang_detector_close(struct lang_detector *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		fp_Done(d->m[i].fp);
	free(d->m);
	free(d);
}

bool lang_detector_knows(const struct lang_detector *d, const char *code)
{
	for (int i = 0; d && i < d->n; i++)
		if (!strcmp(d->m[i].code, code))
			return true;
	return false;
}

/*
 * fpdb.conf lists one model a line: "FILE TAG" (tag "de--utf8",
 * "zh-CN-utf8", "az-cyrillic-utf8"); the code is the tag up to its first
 * '-'. The same code may have several models (zh for Simplified and
 * Traditional, az, uz for two scripts).
 */
struct lang_detector *lang_detector_open(const char *dir, char *err, size_t errlen)
{
	struct lang_detector *d = calloc(1, sizeof(*d));
	char path[PATH_MAX], line[512];
	FILE *f;
	int cap = 0, lineno = 0;

	if (!dir)
		dir = LANG_DATA_DIR;
	snprintf(path, sizeof(path), "%s/fpdb.conf", dir);
	f = fopen(path, "re");
	if (!d || !f) {
		mxs_fail(err, errlen, "%s: %s (the language models: install libexttextcat-data)",
			 path, d ? strerror(errno) : "out of memory");
		free(d);
		if (f)
			fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char file[256], tag[128], code[3];
		void *fp;

		lineno++;
		if (line[0] == '#' || sscanf(line, "%255s %127s", file, tag) != 2)
			continue;
		if (strlen(tag) < 2 || (tag[2] && tag[2] != '-'))
			continue;	/* no two-letter code */
		memcpy(code, tag, 2);
		code[2] = '\0';
		if (!lang_code_valid(code))
			continue;
		if (strchr(file, '/')) {
			mxs_fail(err, errlen, "%s:%d: a model file outside %s", path, lineno, dir);
			goto fail;
		}
		if (d->n == cap) {
			struct lang_model *m = realloc(d->m, (cap = cap ? 2 * cap : 64) * sizeof(*m));

			if (!m) {
				mxs_fail(err, errlen, "out of memory");
				goto fail;
			}
			d->m = m;
		}
		fp = fp_Init(code);
		if (!fp) {
			mxs_fail(err, errlen, "out of memory");
			goto fail;
		}
		fp_SetProperty(fp, TCPROP_UTF8AWARE, 1);
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if (!fp_Read(fp, path, LANG_NGRAMS)) {
			fp_Done(fp);
			mxs_fail(err, errlen, "%s: cannot read the language model", path);
			goto fail;
		}
		d->m[d->n].fp = fp;
		memcpy(d->m[d->n++].code, code, 3);
		snprintf(path, sizeof(path), "%s/fpdb.conf", dir);
	}
	fclose(f);
	if (!d->n) {
		mxs_fail(err, errlen, "%s: no language model with an ISO 639-1 code", path);
		lang_detector_close(d);
		return NULL;
	}
	return d;
fail:
	fclose(f);
	lang_detector_close(d);
	return NULL;
}

int lang_detect(const struct lang_detector *d, const char *text, size_t len,
		struct lang_guess *g)
{
	long best = LONG_MAX, second = LONG_MAX;
	int bi = -1, letters = 0;
	void *u;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < len; i++)	/* bytes of letters, any script */
		letters += isalpha((unsigned char)text[i]) || (unsigned char)text[i] >= 0x80;
	if (letters < 8)
		return 0;	/* too little to tell */
	u = fp_Init(NULL);
	if (!u)
		return -1;
	fp_SetProperty(u, TCPROP_UTF8AWARE, 1);
	fp_SetProperty(u, TCPROP_MINIMUM_DOCUMENT_SIZE, 1);
	if (!fp_Create(u, text, len, LANG_NGRAMS)) {
		fp_Done(u);
		return 0;
	}
	for (int i = 0; i < d->n; i++) {
		long dist = fp_Compare(d->m[i].fp, u, INT_MAX);

		if (dist < best) {
			/* the runner-up is another language's best model */
			if (bi < 0 || strcmp(d->m[bi].code, d->m[i].code))
				second = best;
			best = dist;
			bi = i;
		} else if (dist < second && strcmp(d->m[bi].code, d->m[i].code)) {
			second = dist;
		}
	}
	fp_Done(u);
	if (bi < 0)
		return 0;
	g->known = true;
	memcpy(g->code, d->m[bi].code, 3);
	if (second == LONG_MAX || second <= 0)
		g->confidence = 1.0;
	else
		g->confidence = fmin(1.0, (double)(second - best) / second / LANG_MARGIN_FULL);
	return 0;
}

void lang_header_value(const struct lang_guess *g, char *buf, size_t len)
{
	snprintf(buf, len, "%s; confidence=%.2f", g->known ? g->code : "unknown",
		 g->known ? g->confidence : 0.0);
}

/* ----------------------------------------------------------------- sample */

/* Is the word [w, w + n) an address or a link? */
static bool word_is_address(const char *w, size_t n)
{
	return memchr(w, '@', n) || memmem(w, n, "://", 3) ||
	       (n >= 4 && !strncasecmp(w, "www.", 4));
}

/* Append the words of one line, addresses and links left out. */
static size_t add_line(const char *l, size_t n, char *out, size_t o)
{
	size_t i = 0;

	while (i < n && o < LANG_SAMPLE_MAX) {
		size_t ws = i, we;

		while (ws < n && isspace((unsigned char)l[ws]))
			ws++;
		we = ws;
		while (we < n && !isspace((unsigned char)l[we]))
			we++;
		if (we > ws && !word_is_address(l + ws, we - ws)) {
			size_t k = we - ws;

			if (o && out[o - 1] != ' ' && o < LANG_SAMPLE_MAX)
				out[o++] = ' ';
			if (k > LANG_SAMPLE_MAX - o) {	/* cut at a character's start */
				k = LANG_SAMPLE_MAX - o;
				while (k && ((unsigned char)l[ws + k] & 0xc0) == 0x80)
					k--;
				if (!k)
					break;
			}
			memcpy(out + o, l + ws, k);
			o += k;
		}
		i = we;
	}
	return o;
}

size_t lang_sample(const char *subject, const char *body, size_t bodylen, char *out)
{
	size_t o = 0;

	if (subject)
		o = add_line(subject, strlen(subject), out, o);
	for (size_t i = 0; body && i < bodylen && o < LANG_SAMPLE_MAX;) {
		const char *nl = memchr(body + i, '\n', bodylen - i);
		size_t n = nl ? (size_t)(nl - (body + i)) : bodylen - i;
		size_t s = i;

		while (s < i + n && (body[s] == ' ' || body[s] == '\t'))
			s++;
		if (s == i + n || body[s] != '>')	/* quoted lines say little */
			o = add_line(body + s, i + n - s, out, o);
		i += n + 1;
	}
	out[o] = '\0';
	return o;
}
