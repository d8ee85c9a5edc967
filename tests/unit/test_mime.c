// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests: the message decoder (mta/mime.c) and the content checks
 * (mta/content.c) on messages built here, edge cases first. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/parse.h"
#include "mta/content.h"
#include "mta/envelope.h"
#include "mta/mime.h"
#include "../check.h"

static struct msg_text t;

static void decode(const char *raw)
{
	msg_text_free(&t);
	if (mime_decode(raw, strlen(raw), &t))
		printf("not ok - decode: out of memory\n");
}

static void body_is(const char *name, const char *raw, const char *want)
{
	decode(raw);
	CHECK(name, !strcmp(t.body, want), "body '%s', want '%s'", t.body, want);
}

static void subject_is(const char *name, const char *raw, const char *want)
{
	decode(raw);
	CHECK(name, !strcmp(t.subject, want), "subject '%s', want '%s'", t.subject, want);
}

static void html_is(const char *in, const char *want)
{
	char out[256], name[160];

	mime_html_text(in, strlen(in), out, sizeof(out));
	snprintf(name, sizeof(name), "html '%.60s'", in);
	for (char *p = name; *p; p++)
		if (*p == '\n')
			*p = ' ';
	CHECK(name, !strcmp(out, want), "got '%s', want '%s'", out, want);
}

static void test_decode(void)
{
	subject_is("plain subject", "Subject: hello world\r\n\r\nx", "hello world");
	subject_is("no subject", "From: a@b.example\r\n\r\nx", "");
	subject_is("RFC 2047 Q, ISO-8859-1",
		   "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n\r\n", "Grüße");
	subject_is("RFC 2047 B, UTF-8, two words joined",
		   "Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?= =?UTF-8?B?INC80LjRgA==?=\r\n\r\n",
		   "Привет мир");
	subject_is("RFC 2047 ISO-2022-JP",
		   "Subject: =?ISO-2022-JP?B?GyRCTCQ+NUJ6OS05cBsoQg==?=\r\n\r\n", "未承諾広告");
	subject_is("folded subject", "Subject: one\r\n two\r\n\r\n", "one two");
	subject_is("raw 8-bit UTF-8 subject", "Subject: caf\xc3\xa9\r\n\r\n", "café");
	subject_is("raw 8-bit Latin-1 subject (fallback windows-1252)",
		   "Subject: caf\xe9 \x80\r\n\r\n", "café €");

	body_is("text/plain, no MIME", "Subject: x\r\n\r\nHello\r\n", "Hello\r\n");
	body_is("quoted-printable, soft break",
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=F6=DFe pa=\r\nsst",
		"Größe passt");
	body_is("base64 UTF-8", "Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n0J/RgNC40LLQtdGC\r\n", "Привет");
	body_is("windows-1252 quotes", "Content-Type: text/plain; charset=windows-1252\r\n\r\n"
		"\x93hi\x94", "“hi”");
	body_is("unknown charset, valid UTF-8: as UTF-8",
		"Content-Type: text/plain; charset=x-nonsense\r\n\r\nna\xc3\xafve", "naïve");
	body_is("unknown charset, not UTF-8: windows-1252",
		"Content-Type: text/plain; charset=x-nonsense\r\n\r\nna\xefve", "naïve");
	body_is("invalid UTF-8 in a UTF-8 part: U+FFFD",
		"Content-Type: text/plain; charset=utf-8\r\n\r\na\xff" "b", "a\xef\xbf\xbd" "b");
	body_is("ISO-2022-JP body", "Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n"
		"\x1b$B$3$s$K$A$O\x1b(B", "こんにちは");
	body_is("NUL byte in a body", "Content-Type: text/plain\r\n\r\na\0b", "a");

	decode("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	       "--b\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n"
	       "--b\r\nContent-Type: text/plain\r\n\r\nthe plain\r\n--b--\r\n");
	CHECK("alternative: the plain part only", strstr(t.body, "the plain") &&
	      !strstr(t.body, "html"), "body '%s'", t.body);
	decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	       "--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
	       "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
	       "filename=a.txt\r\n\r\nattached text\r\n"
	       "--b\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--b--\r\n");
	CHECK("mixed: text read, attachments not", strstr(t.body, "first") &&
	      !strstr(t.body, "attached") && t.has_attachments && t.text_parts == 1,
	      "body '%s' att %d parts %d", t.body, t.has_attachments, t.text_parts);
	decode("Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
	       "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
	       "Content-Type: text/plain\r\n\r\nforwarded words\r\n--o--\r\n");
	CHECK("a forwarded message's text is read", strstr(t.body, "forwarded words") != NULL,
	      "body '%s'", t.body);

	{	/* nesting past the bound: cut, no crash, the top still read */
		size_t cap = 64 * 1024, n = 0;
		char *raw = malloc(cap);

		n += snprintf(raw + n, cap - n, "Subject: deep\r\n");
		for (int i = 0; i < 200; i++)
			n += snprintf(raw + n, cap - n, "Content-Type: multipart/mixed; "
				      "boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		n += snprintf(raw + n, cap - n, "Content-Type: text/plain\r\n\r\ndeep text\r\n");
		decode(raw);
		CHECK("200 nested multiparts: cut at the bound, subject read",
		      t.truncated && !strcmp(t.subject, "deep"), "truncated %d subject '%s'",
		      t.truncated, t.subject);
		free(raw);
	}
	{	/* a big text part: bounded */
		size_t n = MSG_BODY_MAX * 3;
		char *raw = malloc(n + 64);

		strcpy(raw, "Subject: big\r\n\r\n");
		memset(raw + strlen(raw), 'x', n);
		raw[16 + n] = '\0';
		decode(raw);
		CHECK("a body over the bound is cut to MSG_BODY_MAX", t.body_len == MSG_BODY_MAX &&
		      t.truncated, "len %zu", t.body_len);
		free(raw);
	}
	decode("");
	CHECK("an empty capture: empty text", !t.subject_len && !t.body_len, "s %zu b %zu",
	      t.subject_len, t.body_len);
	decode("garbage without headers\x01\x02");
	CHECK("garbage: no crash, text or nothing", t.subject != NULL, "subject NULL");
}

static void test_html(void)
{
	html_is("<p>Hello <b>World</b></p>", "Hello World");
	html_is("a<br>b", "a\nb");
	html_is("<style>p { color: red }</style>x", "x");
	html_is("<script>var a = '</p>';</script>y", "y");
	html_is("<SCRIPT>evil()</SCRIPT>z", "z");
	html_is("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2");
	html_is("&#1055;&#x440;&#x438;", "При");
	html_is("a&nbsp;&nbsp;b", "a b");
	html_is("<!-- hidden -->shown", "shown");
	html_is("<a href=\"x>y\">link</a>", "link");
	html_is("a < b", "a < b");
	html_is("&unknown; &", "&unknown; &");
	html_is("&#0;&#xD800;", "\xef\xbf\xbd\xef\xbf\xbd");
	html_is("<td>a</td><td>b</td>", "a b");
	html_is("unclosed <script> never ends", "unclosed");
	html_is("  lots   of\n\n space  ", "lots of space");
}

static void test_fold(void)
{
	static const struct { const char *in, *want; } v[] = {
		{ "ABC xyz", "abc xyz" },
		{ "ÄÖÜ ÀÉÎ Ø", "äöü àéî ø" },
		{ "ß ×", "ß ×" },			/* no single-letter fold; × is no letter */
		{ "ŁÓDŹ ŠČŘ", "łódź ščř" },		/* Latin Extended-A */
		{ "ПРИВЕТ МИР Ёж", "привет мир ёж" },	/* Cyrillic */
		{ "ΑΘΗΝΑ Ωμέγα Ά", "αθηνα ωμέγα ά" },	/* Greek */
		{ "日本語", "日本語" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char b[64], name[96];

		snprintf(b, sizeof(b), "%s", v[i].in);
		mime_fold(b, strlen(b));
		snprintf(name, sizeof(name), "fold '%s'", v[i].in);
		CHECK(name, !strcmp(b, v[i].want), "got '%s'", b);
	}
	CHECK("blank: spaces, NBSP, ideographic space", mime_blank(" \t\r\n\xc2\xa0\xe3\x80\x80", 9),
	      "not blank");
	CHECK("blank: a letter is not", !mime_blank("  x ", 4), "blank");
	CHECK("blank: nothing is blank", mime_blank("", 0), "not blank");
}

/* ------------------------------------------------------------ content */

static struct env_entry ents[16];
static int nents;

static void pat(int field, bool regex, const char *v, uint8_t act, int64_t expires)
{
	char out[600], err[256];
	struct env_entry *e = &ents[nents++];

	if (content_pattern_parse(regex, v, out, sizeof(out), err, sizeof(err)))
		printf("not ok - pattern '%s': %s\n", v, err);
	memset(e, 0, sizeof(*e));
	e->kind = ENV_PATTERN;
	e->list = ENV_BLOCK;
	e->field = field;
	e->regex = regex;
	e->action = act;
	e->expires = expires;
	e->value = strdup(out);
}

static struct content_verdict run(struct content_rules *r, const char *raw)
{
	struct content_verdict v;

	decode(raw);
	content_run(r, &t, &v);
	return v;
}

static void test_content(void)
{
	struct env_set s = {};
	struct content_rules *r;
	struct content_verdict v;
	char err[256], out[600];
	struct content_stats st0, st1;

	CHECK("a bad regex is refused with the offset",
	      content_pattern_parse(true, "ab(c", out, sizeof(out), err, sizeof(err)) &&
	      strstr(err, "at offset 4"), "err '%s'", err);
	CHECK("an empty pattern is refused",
	      content_pattern_parse(false, "", out, sizeof(out), err, sizeof(err)), "accepted");
	pat(PAT_SUBJECT, false, "Cheap Pills", MXS_ACT_SPAM, 0);
	pat(PAT_CONTENT, false, "Größe", MXS_ACT_QUARANTINE, 0);
	pat(PAT_CONTENT, false, "x", MXS_ACT_SPAM, 0);		/* one byte */
	pat(PAT_CONTENT, false, "gone", MXS_ACT_REJECT, time(NULL) - 1);
	pat(PAT_CONTENT, true, "wire\\s+transfer", MXS_ACT_REJECT, 0);
	pat(PAT_CONTENT, true, "(a+)+$", MXS_ACT_REJECT, 0);
	pat(PAT_SENDER, false, "cheap", MXS_ACT_REJECT, 0);	/* not the milter's */
	s.e = ents;
	s.n = nents;
	r = content_rules_build(&s, err, sizeof(err));
	CHECK("rules build", r != NULL, "%s", err);
	if (!r)
		return;
	v = run(r, "Subject: CHEAP PILLS now\r\n\r\nhello");
	CHECK("subject text, case-insensitive: spam", v.action == MXS_ACT_SPAM &&
	      !strcmp(v.reason, "pattern subject \"cheap pills\""), "%d '%s'", v.action, v.reason);
	v = run(r, "Subject: hi\r\n\r\nDIE GRÖSSE: GRÖßE");
	CHECK("content text with a fold: quarantine (the stronger one)",
	      v.action == MXS_ACT_QUARANTINE, "%d '%s'", v.action, v.reason);
	v = run(r, "Subject: hi\r\n\r\nboxes");
	CHECK("a one-byte pattern matches", v.action == MXS_ACT_SPAM, "%d", v.action);
	v = run(r, "Subject: hi\r\n\r\nit is gone");
	CHECK("an expired pattern does not match", v.action == MXS_ACT_NONE, "%d '%s'", v.action,
	      v.reason);
	v = run(r, "Subject: hi\r\n\r\nplease WIRE   Transfer");
	CHECK("regex, caseless: reject", v.action == MXS_ACT_REJECT, "%d '%s'", v.action,
	      v.reason);
	v = run(r, "Subject: cheap\r\n\r\nhello");
	CHECK("sender patterns are not content rules", v.action == MXS_ACT_NONE, "%d", v.action);
	content_stats_get(&st0);
	v = run(r, "Subject: hi\r\n\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
	content_stats_get(&st1);
	CHECK("a catastrophic regex stops at the limit and is counted",
	      v.limit_hits >= 1 && st1.limit_hits > st0.limit_hits, "hits %u", v.limit_hits);
	CHECK("... without matching", v.action != MXS_ACT_REJECT, "%d", v.action);
	content_rules_free(r);

	s.n = 0;
	s.empty_action = MXS_ACT_SPAM;
	r = content_rules_build(&s, err, sizeof(err));
	v = run(r, "Subject:   \r\n\r\n \r\n\r\n");
	CHECK("empty: blank subject, blank body", v.action == MXS_ACT_SPAM &&
	      !strcmp(v.reason, "empty mail"), "%d", v.action);
	v = run(r, "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n");
	CHECK("empty: no subject, only an attachment", v.action == MXS_ACT_SPAM, "%d", v.action);
	v = run(r, "Subject: x\r\n\r\n");
	CHECK("not empty: a subject", v.action == MXS_ACT_NONE, "%d", v.action);
	v = run(r, "Content-Type: text/html\r\n\r\n<p>&nbsp;</p><style>x</style>");
	CHECK("empty: HTML without text", v.action == MXS_ACT_SPAM, "%d", v.action);
	v = run(r, "Content-Type: text/html\r\n\r\n<p>hi</p>");
	CHECK("not empty: HTML with text", v.action == MXS_ACT_NONE, "%d", v.action);
	content_rules_free(r);
	for (int i = 0; i < nents; i++)
		free(ents[i].value);
}

int main(void)
{
	test_decode();
	test_html();
	test_fold();
	test_content();
	msg_text_free(&t);
	return failures ? 1 : 0;
}
