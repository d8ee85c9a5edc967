// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests: --json output is always valid UTF-8 JSON (userspace/json.c),
 * the strict UTF-8 decoder it and the CLI share (userspace/utf8.h), and
 * the envelope values the CLI refuses for not being text.
 */
#include <stdlib.h>
#include <string.h>
#include "core/ctl.h"
#include "core/json.h"
#include "state/recfile.h"
#include "mta/envelope.h"
#include "mta/policy_decide.h"
#include "filter/classify.h"
#include "filter/install.h"
#include "core/utf8.h"
#include "../check.h"

/* One string through the writer: the document, without its newline. */
static const char *json_of(const char *s)
{
	static char out[4096];
	FILE *f = fmemopen(out, sizeof(out), "w");

	jw_start(f);
	jw_arr();
	jw_str(s);
	jw_end_arr();
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static void json_is(const char *name, const char *in, const char *want)
{
	const char *got = json_of(in);

	CHECK(name, !strcmp(got, want), "got %s, want %s", got, want);
}

static void test_writer(void)
{
	json_is("plain ASCII", "a@b.example", "[\"a@b.example\"]");
	json_is("quote and backslash", "a\"b\\c", "[\"a\\\"b\\\\c\"]");
	json_is("newline, CR, tab", "a\nb\rc\td", "[\"a\\nb\\rc\\td\"]");
	json_is("other C0 controls and DEL", "\x01\x1f\x7f", "[\"\\u0001\\u001f\\u007f\"]");
	json_is("valid UTF-8 kept as is", "caf\xc3\xa9 \xf0\x9f\x93\xa7", "[\"caf\xc3\xa9 \xf0\x9f\x93\xa7\"]");
	json_is("U+2028 and U+2029 escaped", "a\xe2\x80\xa8" "b\xe2\x80\xa9", "[\"a\\u2028b\\u2029\"]");
	json_is("invalid bytes: one U+FFFD each", "\xff\xfe@x.com", "[\"\\ufffd\\ufffd@x.com\"]");
	json_is("a cut sequence: U+FFFD each byte", "a\xe2\x82", "[\"a\\ufffd\\ufffd\"]");
	json_is("overlong NUL (C0 80) is not text", "\xc0\x80", "[\"\\ufffd\\ufffd\"]");
	json_is("surrogate (ED A0 80) is not text", "\xed\xa0\x80", "[\"\\ufffd\\ufffd\\ufffd\"]");
	json_is("above U+10FFFF is not text", "\xf4\x90\x80\x80", "[\"\\ufffd\\ufffd\\ufffd\\ufffd\"]");
	json_is("NULL is null", NULL, "[null]");
}

/* Random byte strings: the document must be valid UTF-8 with no raw
 * control byte, and decode back to the input where the input was text. */
static void test_fuzz(void)
{
	char in[64];
	long bad = 0;
	unsigned seed = 7;

	for (int n = 0; n < 20000; n++) {
		size_t len = rand_r(&seed) % (sizeof(in) - 1);
		const char *out;

		for (size_t i = 0; i < len; i++) {
			in[i] = rand_r(&seed) % 255 + 1;	/* no NUL: C strings */
		}
		in[len] = '\0';
		out = json_of(in);
		if (utf8_bad_at(out, strlen(out)) != strlen(out))
			bad++;
		for (const char *p = out; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				bad++;
	}
	CHECK("20000 random byte strings: the JSON is valid UTF-8 without raw controls", !bad,
	      "%ld bad documents", bad);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{ "a", 1 }, { "\xc3\xa9", 2 }, { "\xe2\x82\xac", 3 }, { "\xf0\x9f\x93\xa7", 4 },
		{ "\xef\xbf\xbf", 3 }, { "\xf4\x8f\xbf\xbf", 4 }, { "\xed\x9f\xbf", 3 },
		{ "\x80", 0 }, { "\xbf", 0 }, { "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },
		{ "\xe0\x80\xaf", 0 }, { "\xe0\x9f\xbf", 0 }, { "\xed\xa0\x80", 0 },
		{ "\xf0\x80\x80\xaf", 0 }, { "\xf0\x8f\xbf\xbf", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "\xf5\x80\x80\x80", 0 }, { "\xff", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 },
		{ "\xe2\x28\xa1", 0 },
	};
	int wrong = 0;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = utf8_seq((const unsigned char *)cases[i].s, strlen(cases[i].s));

		if (got != cases[i].len) {
			printf("# utf8_seq case %zu: got %zu want %zu\n", i, got, cases[i].len);
			wrong++;
		}
	}
	CHECK("utf8_seq: valid forms, overlongs, surrogates, > U+10FFFF, cut sequences", !wrong,
	      "%d wrong", wrong);
	CHECK("utf8_text_check: accepts UTF-8 text", !utf8_text_check("x", "caf\xc3\xa9", err,
								      sizeof(err)), "%s", err);
	CHECK("utf8_text_check: names the bad byte",
	      utf8_text_check("comment", "ab\xff", err, sizeof(err)) &&
	      strstr(err, "comment is not valid UTF-8 (byte 0xff at byte 3)"), "%s", err);
	CHECK("utf8_text_check: refuses control characters",
	      utf8_text_check("comment", "a\x1b", err, sizeof(err)) && strstr(err, "0x1b"), "%s", err);
}

static void test_envelope_values(void)
{
	static const struct {
		int kind;
		bool regex;
		const char *in;
		bool ok;
	} cases[] = {
		{ ENV_SENDER, false, "\xff\xfe@x.com", false },
		{ ENV_SENDER, false, "caf\xc3\xa9@x.com", true },	/* SMTPUTF8 local part */
		{ ENV_SENDER, false, "a\x7f@x.com", false },
		{ ENV_RECIPIENT, false, "r\xe9@x.com", false },
		{ ENV_DOMAIN, false, "ex\xe9.com", false },
		{ ENV_TLD, false, "\xe9u", false },
		{ ENV_PATTERN, false, "viagr\xe0", false },
		{ ENV_PATTERN, true, "vi.gr\xe0", false },
		{ ENV_PATTERN, false, "viagr\xc3\xa0", true },
		{ ENV_PATTERN, false, "a\x7f" "b", false },
	};
	char out[600], err[256], name[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = env_parse_value(cases[i].kind, cases[i].regex, cases[i].in, out, sizeof(out),
					 err, sizeof(err));

		snprintf(name, sizeof(name), "%s value %zu %s", env_kind_name(cases[i].kind), i,
			 cases[i].ok ? "accepted" : "refused as not text");
		CHECK(name, cases[i].ok ? rc == 0 : rc != 0 && (strstr(err, "UTF-8") ||
								   strstr(err, "control")),
		      "rc=%d err='%s'", rc, rc ? err : "");
	}
}

int main(void)
{
	test_writer();
	test_fuzz();
	test_utf8();
	test_envelope_values();
	return failures ? 1 : 0;
}
