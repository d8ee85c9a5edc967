// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A captured message into struct msg_text (mime.h says what and within
 * which bounds). GMime parses and undoes the transfer encodings; charsets,
 * HTML and the bounds are ours.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gmime/gmime.h>
#include "../core/utf8.h"
#include "mime.h"

/* ------------------------------------------------- a bounded text buffer */

struct tbuf {
	char *p;
	size_t n, max;
	bool cut;		/* something did not fit */
};

static int tb_init(struct tbuf *b, size_t max)
{
	b->p = malloc(max + 1);
	b->n = 0;
	b->max = max;
	b->cut = false;
	if (!b->p)
		return -1;
	b->p[0] = '\0';
	return 0;
}

/* Append valid UTF-8 (the caller's promise); a sequence that does not
 * fit whole is not cut in half: the text ends before it. */
static void tb_put(struct tbuf *b, const char *s, size_t n)
{
	if (b->n + n > b->max) {
		size_t room = b->max - b->n;

		while (room && ((unsigned char)s[room] & 0xc0) == 0x80)
			room--;
		n = room;
		b->cut = true;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void tb_cp(struct tbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	tb_put(b, u, n);
}

/* Bytes that should be UTF-8: valid sequences as they are, each bad byte
 * as U+FFFD (NUL too: the text is a C string). */
static void tb_put_clean(struct tbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n && !b->cut) {
		size_t run = i;

		while (run < n && p[run] && p[run] < 0x80)
			run++;
		if (run > i) {
			tb_put(b, s + i, run - i);
			i = run;
			continue;
		}
		{
			size_t l = p[i] ? utf8_seq(p + i, n - i) : 0;

			if (l) {
				tb_put(b, s + i, l);
				i += l;
			} else {
				tb_cp(b, 0xfffd);
				i++;
			}
		}
	}
}

/* windows-1252's 0x80-0x9f (0: undefined there, read as U+FFFD) */
static const uint16_t cp1252_hi[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	0x2039, 0x0152, 0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013,
	0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static void tb_put_1252(struct tbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !b->cut; i++) {
		unsigned char c = s[i];

		tb_cp(b, c >= 0x80 && c < 0xa0 ? (cp1252_hi[c - 0x80] ? : 0xfffd) : c);
	}
}

/* @s[0..n) in @charset, as UTF-8 into @b. */
static void tb_put_charset(struct tbuf *b, const char *charset, const char *s, size_t n)
{
	iconv_t cd = (iconv_t)-1;
	char out[4096];

	if (charset && *charset && strcasecmp(charset, "utf-8") && strcasecmp(charset, "utf8") &&
	    strcasecmp(charset, "us-ascii"))
		cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		bool utf8 = charset && (!strcasecmp(charset, "utf-8") || !strcasecmp(charset, "utf8"));

		/* UTF-8 as declared (a bad byte: U+FFFD); US-ASCII, none, or
		 * one iconv does not know: UTF-8 if it is, else windows-1252 */
		if (utf8 || utf8_bad_at(s, n) == n)
			tb_put_clean(b, s, n);
		else
			tb_put_1252(b, s, n);
		return;
	}
	{
		char *in = (char *)s;
		size_t left = n;

		while (left && !b->cut) {
			char *o = out;
			size_t room = sizeof(out);
			size_t rc = iconv(cd, &in, &left, &o, &room);
			int e = errno;

			tb_put_clean(b, out, o - out);
			if (rc != (size_t)-1)
				continue;
			if (e == E2BIG)
				continue;
			/* EILSEQ, or EINVAL (cut at the end): one byte lost */
			tb_cp(b, 0xfffd);
			in++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);	/* back to the initial shift state */
		}
		if (!b->cut) {	/* flush a stateful encoding (ISO-2022-JP) */
			char *o = out;
			size_t room = sizeof(out);

			iconv(cd, NULL, NULL, &o, &room);
			tb_put_clean(b, out, o - out);
		}
	}
	g_mime_iconv_close(cd);
}

/* ------------------------------------------------------------------ HTML */

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", ' ' }, { "copy", 0xa9 }, { "reg", 0xae }, { "euro", 0x20ac },
	{ "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 },
	{ "rsquo", 0x2019 }, { "ldquo", 0x201c }, { "rdquo", 0x201d }, { "laquo", 0xab },
	{ "raquo", 0xbb }, { "shy", 0 /* soft hyphen: nothing */ }, { "zwnj", 0 },
	{ "auml", 0xe4 }, { "ouml", 0xf6 }, { "uuml", 0xfc }, { "Auml", 0xc4 },
	{ "Ouml", 0xd6 }, { "Uuml", 0xdc }, { "szlig", 0xdf }, { "eacute", 0xe9 },
	{ "egrave", 0xe8 }, { "aacute", 0xe1 }, { "iacute", 0xed }, { "oacute", 0xf3 },
	{ "uacute", 0xfa }, { "ntilde", 0xf1 }, { "ccedil", 0xe7 }, { "agrave", 0xe0 },
};

/* A character reference at @p (after '&', @n bytes left): its code point
 * in *cp and its length with the ';', or 0 when it is not one. */
static size_t entity(const char *p, size_t n, uint32_t *cp, bool *none)
{
	size_t i = 0;

	*none = false;
	if (n > 1 && p[0] == '#') {
		uint32_t v = 0;
		bool hex = p[1] == 'x' || p[1] == 'X';
		size_t d = 0;

		for (i = hex ? 2 : 1; i < n && i < 12; i++, d++) {
			int c = (unsigned char)p[i];

			if (hex && isxdigit(c))
				v = v * 16 + (isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
			else if (!hex && isdigit(c))
				v = v * 10 + (c - '0');
			else
				break;
			if (v > 0x10ffff)
				v = 0x110000;
		}
		if (!d)
			return 0;
		*cp = v;
		return i < n && p[i] == ';' ? i + 1 : i;
	}
	for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		size_t l = strlen(entities[e].name);

		if (l < n && !memcmp(p, entities[e].name, l) && p[l] == ';') {
			*cp = entities[e].cp;
			*none = !*cp;
			return l + 1;
		}
	}
	return 0;
}

/* Tags that end a line of text, and those that separate words. */
static bool tag_in(const char *name, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(name, *set))
			return true;
	return false;
}

static const char *const line_tags[] = {
	"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
	"ol", "blockquote", "pre", "hr", "title", "dt", "dd", "section", "article", NULL,
};
static const char *const space_tags[] = { "td", "th", "img", "span", "a", NULL };

static const char *find_ci(const char *p, const char *end, const char *needle)
{
	size_t l = strlen(needle);

	for (; p + l <= end; p++)
		if (!strncasecmp(p, needle, l))
			return p;
	return NULL;
}

/* White space collapsed: a run becomes one space, or one newline when it
 * holds one. */
struct hout {
	struct tbuf *b;
	int pending;		/* 0 none, 1 space, 2 newline */
};

static void h_space(struct hout *h, int kind)
{
	if (kind > h->pending)
		h->pending = kind;
}

static void h_cp(struct hout *h, uint32_t cp)
{
	if (h->pending && h->b->n) {
		tb_put(h->b, h->pending == 2 ? "\n" : " ", 1);
	}
	h->pending = 0;
	tb_cp(h->b, cp);
}

static void html_text(struct tbuf *b, const char *in, size_t n)
{
	const char *p = in, *end = in + n;
	struct hout h = { b, 0 };

	while (p < end && !b->cut) {
		unsigned char c = *p;

		if (c == '<') {
			const char *q = p + 1, *gt;
			char name[16];
			size_t l = 0;
			bool closing = false;

			if (end - q >= 3 && !memcmp(q, "!--", 3)) {
				const char *e = find_ci(q + 3, end, "-->");

				p = e ? e + 3 : end;
				continue;
			}
			if (q < end && *q == '/') {
				closing = true;
				q++;
			}
			while (q < end && l < sizeof(name) - 1 && isalnum((unsigned char)*q))
				name[l++] = tolower((unsigned char)*q++);
			name[l] = '\0';
			if (!l && !(q < end && (*q == '!' || *q == '?'))) {
				h_cp(&h, '<');	/* not a tag: "a < b" */
				p++;
				continue;
			}
			/* to the end of the tag, quotes respected */
			for (gt = q; gt < end && *gt != '>'; gt++)
				if (*gt == '"' || *gt == '\'') {
					const char *cq = memchr(gt + 1, *gt, end - gt - 1);

					gt = cq ? cq : end - 1;
				}
			p = gt < end ? gt + 1 : end;
			if (!closing && (!strcmp(name, "script") || !strcmp(name, "style"))) {
				char close[12];
				const char *e;

				snprintf(close, sizeof(close), "</%s", name);
				e = find_ci(p, end, close);
				if (!e) {
					p = end;
				} else {
					const char *g = memchr(e, '>', end - e);

					p = g ? g + 1 : end;
				}
				h_space(&h, 1);
				continue;
			}
			if (tag_in(name, line_tags))
				h_space(&h, 2);
			else if (tag_in(name, space_tags))
				h_space(&h, 1);
			continue;
		}
		if (c == '&') {
			uint32_t cp;
			bool none;
			size_t l = entity(p + 1, end - p - 1, &cp, &none);

			if (l) {
				if (cp == ' ')
					h_space(&h, 1);
				else if (!none)
					h_cp(&h, cp);
				p += 1 + l;
				continue;
			}
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
			h_space(&h, 1);
			p++;
			continue;
		}
		{
			size_t l = c < 0x80 ? 1 : utf8_seq((const unsigned char *)p, end - p);

			if (!l || !c) {
				h_cp(&h, 0xfffd);
				p++;
				continue;
			}
			if (h.pending && b->n)
				tb_put(b, h.pending == 2 ? "\n" : " ", 1);
			h.pending = 0;
			tb_put(b, p, l);
			p += l;
		}
	}
}

size_t mime_html_text(const char *in, size_t n, char *out, size_t cap)
{
	struct tbuf b = { out, 0, cap ? cap - 1 : 0, false };

	if (!cap)
		return 0;
	out[0] = '\0';
	html_text(&b, in, n);
	return b.n;
}

/* ------------------------------------------------------------ case fold */

/* The lower case of @cp where it has the same UTF-8 length (mime.h). */
static uint32_t fold_cp(uint32_t cp)
{
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 0x20;
	if (cp >= 0x100 && cp <= 0x17f) {
		if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
			return cp & 1 ? cp + 1 : cp;
		if (cp == 0x178)
			return 0xff;
		if (cp == 0x130 || cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17f)
			return cp;
		return cp & 1 ? cp : cp + 1;
	}
	if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
		return cp + 0x20;
	if (cp == 0x386)
		return 0x3ac;
	if (cp >= 0x388 && cp <= 0x38a)
		return cp + 0x25;
	if (cp == 0x38c)
		return 0x3cc;
	if (cp == 0x38e || cp == 0x38f)
		return cp + 0x3f;
	if (cp == 0x3c2)	/* final sigma: a sigma */
		return 0x3c3;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	if (cp >= 0x460 && cp <= 0x4ff && cp != 0x482 && !(cp >= 0x483 && cp <= 0x489) &&
	    !(cp >= 0x4c0 && cp <= 0x4cf))
		return cp & 1 ? cp : cp + 1;
	return cp;
}

void mime_fold(char *s, size_t n)
{
	unsigned char *p = (unsigned char *)s;

	for (size_t i = 0; i < n;) {
		uint32_t cp, f;

		if (p[i] < 0x80) {
			if (p[i] >= 'A' && p[i] <= 'Z')
				p[i] += 32;
			i++;
			continue;
		}
		/* two-byte sequences only: every folded range is in U+0080-U+07FF */
		if ((p[i] & 0xe0) != 0xc0 || i + 1 >= n || (p[i + 1] & 0xc0) != 0x80) {
			i++;
			continue;
		}
		cp = (p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f);
		f = fold_cp(cp);
		if (f != cp && f >= 0x80 && f < 0x800) {
			p[i] = 0xc0 | f >> 6;
			p[i + 1] = 0x80 | (f & 0x3f);
		}
		i += 2;
	}
}

bool mime_blank(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t l;
		uint32_t cp;

		if (p[i] < 0x80) {
			if (!isspace(p[i]))
				return false;
			i++;
			continue;
		}
		l = utf8_seq(p + i, n - i);
		if (!l)
			return false;
		cp = l == 2 ? (p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f) :
		     l == 3 ? (p[i] & 0x0f) << 12 | (p[i + 1] & 0x3f) << 6 | (p[i + 2] & 0x3f) :
		     0x10000;
		if (!(cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x3000 ||
		      cp == 0xfeff || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
		      cp == 0x205f))
			return false;
		i += l;
	}
	return true;
}

/* ------------------------------------------------------------ the walk */

struct walk {
	struct msg_text *t;
	struct tbuf body;
	int depth_cut;
};

static void gmime_once(void)
{
	g_mime_init();
}

/* A text part's content, decoded (transfer encoding and charset), into
 * the body. */
static void read_text(struct walk *w, GMimeObject *o, bool html)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
	GMimeStream *out;
	GByteArray *ba;
	const char *charset = g_mime_object_get_content_type_parameter(o, "charset");

	if (!dw)
		return;
	out = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, out);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	if (w->body.n)
		tb_put(&w->body, "\n", 1);
	if (!html) {
		tb_put_charset(&w->body, charset, (const char *)ba->data, ba->len);
	} else {
		struct tbuf u;

		/* into UTF-8 first, then the markup out of it */
		if (!tb_init(&u, ba->len * 3 + 16 < MSG_BODY_MAX * 2 ? ba->len * 3 + 16 :
			     MSG_BODY_MAX * 2)) {
			tb_put_charset(&u, charset, (const char *)ba->data, ba->len);
			html_text(&w->body, u.p, u.n);
			if (u.cut)
				w->t->truncated = true;
			free(u.p);
		}
	}
	w->t->text_parts++;
	g_object_unref(out);
}

static bool is_text(GMimeObject *o, const char *sub)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);

	return ct && g_mime_content_type_is_type(ct, "text", sub);
}

static void walk(struct walk *w, GMimeObject *o, int depth)
{
	if (!o)
		return;
	if (depth > MIME_MAX_DEPTH || w->t->parts >= MIME_MAX_PARTS) {
		w->t->truncated = true;
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		/* a forwarded message: its text is this message's text */
		if (m)
			walk(w, g_mime_message_get_mime_part(m), depth + 1);
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		int n = g_mime_multipart_get_count(mp);

		if (ct && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			GMimeObject *pick = NULL;

			/* one rendering of the text: the plain one, else HTML */
			for (int i = 0; i < n && !pick; i++)
				if (is_text(g_mime_multipart_get_part(mp, i), "plain"))
					pick = g_mime_multipart_get_part(mp, i);
			for (int i = 0; i < n && !pick; i++)
				if (is_text(g_mime_multipart_get_part(mp, i), "html"))
					pick = g_mime_multipart_get_part(mp, i);
			if (pick) {
				walk(w, pick, depth + 1);
				return;
			}
		}
		for (int i = 0; i < n; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	w->t->parts++;
	if (g_mime_part_is_attachment(GMIME_PART(o)) ||
	    !(is_text(o, "plain") || is_text(o, "html"))) {
		w->t->has_attachments = true;
		return;
	}
	if (w->body.cut)
		return;
	read_text(w, o, is_text(o, "html"));
}

/* Where to cut @raw so that it has at most MIME_MAX_MULTIPART multipart
 * content types (GMime's parser recurses once per nested multipart). */
static size_t nesting_cut(const char *raw, size_t len)
{
	const char *p = raw, *end = raw + len;
	int n = 0;

	while ((p = memmem(p, end - p, "ultipart/", 9))) {
		if (p > raw && (p[-1] == 'm' || p[-1] == 'M') && ++n > MIME_MAX_MULTIPART) {
			const char *line = p;

			while (line > raw && line[-1] != '\n')
				line--;
			return line - raw;
		}
		p += 9;
	}
	return len;
}

static char *dup_fold(const char *s, size_t n)
{
	char *f = malloc(n + 1);

	if (f) {
		memcpy(f, s, n + 1);
		mime_fold(f, n);
	}
	return f;
}

int mime_decode(const char *raw, size_t len, struct msg_text *t)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static const char *fallback[] = { "UTF-8", "windows-1252", NULL };
	GMimeParserOptions *po;
	GMimeStream *st;
	GMimeParser *parser;
	GMimeMessage *m;
	struct walk w = { .t = t };
	struct tbuf subj;
	size_t keep;

	memset(t, 0, sizeof(*t));
	pthread_once(&once, gmime_once);
	if (tb_init(&w.body, MSG_BODY_MAX) || tb_init(&subj, MSG_SUBJECT_MAX)) {
		free(w.body.p);
		return -1;
	}
	keep = nesting_cut(raw, len);
	if (keep < len)
		t->truncated = true;
	po = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(po, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	st = g_mime_stream_mem_new_with_buffer(raw, keep);
	parser = g_mime_parser_new_with_stream(st);
	m = g_mime_parser_construct_message(parser, po);
	if (m) {
		const char *s = g_mime_message_get_subject(m);

		if (s)
			tb_put_clean(&subj, s, strlen(s));
		walk(&w, g_mime_message_get_mime_part(m), 0);
		g_object_unref(m);
	}
	g_object_unref(parser);
	g_object_unref(st);
	g_mime_parser_options_free(po);
	t->subject = subj.p;
	t->subject_len = subj.n;
	t->body = w.body.p;
	t->body_len = w.body.n;
	t->truncated |= w.body.cut || subj.cut;
	t->subject_fold = dup_fold(t->subject, t->subject_len);
	t->body_fold = dup_fold(t->body, t->body_len);
	if (!t->subject_fold || !t->body_fold)
		return -1;
	return 0;
}

void msg_text_free(struct msg_text *t)
{
	free(t->subject);
	free(t->subject_fold);
	free(t->body);
	free(t->body_fold);
	memset(t, 0, sizeof(*t));
}
